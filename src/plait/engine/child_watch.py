"""How the engine's event loop learns that a child process ended: by its pidfd, not by a
thread per child.

Python 3.11's asyncio waits for every child it starts (each git, agent and CI command) in
a thread of its own (`ThreadedChildWatcher`): a thread start, a blocking `waitpid` and
their handoffs of the GIL per child, 0.4–0.6 s of CPU in a P3 run of some 500 children
(bench/README.md). Linux (5.3 and later) gives a process a file descriptor that becomes
readable when it exits, a pidfd, which the loop watches like any socket; Python 3.12
does that by default, and 3.14 has no child watchers left to choose. So on 3.11 under
Linux the engine puts a pidfd watcher in place once, where its loop starts
(`watch_children_by_pidfd`), and everywhere else leaves asyncio as it is.

The watcher is 3.12's, not 3.11's `asyncio.PidfdChildWatcher`: 3.11's is bound to the one
loop it was attached to (the main thread's), so a loop in another thread (a test's
engine, a worker) would have its children's pidfds read by the wrong loop. 3.12's takes
the running loop of whoever starts the child, which is what a process-wide watcher needs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVarTuple

log = logging.getLogger(__name__)

_Args = TypeVarTuple("_Args")


def pidfd_usable() -> bool:
    """Can this process open pidfds (Linux 5.3+, not refused by a seccomp filter)?"""
    if sys.platform != "linux" or not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


if sys.version_info < (3, 12) and sys.platform != "win32":

    class PidfdWatcher(asyncio.AbstractChildWatcher):
        """Python 3.12's `PidfdChildWatcher`: each child's pidfd is read by the loop that
        started the child; no thread, no signal handler, no loop of its own."""

        def add_child_handler(
            self,
            pid: int,
            callback: Callable[[int, int, *_Args], object],
            *args: *_Args,
        ) -> None:
            loop = asyncio.get_running_loop()
            pidfd = os.pidfd_open(pid)
            loop._add_reader(pidfd, self._do_wait, pid, pidfd, callback, args)  # type: ignore[attr-defined]

        def _do_wait(
            self, pid: int, pidfd: int, callback: Callable[..., object], args: tuple[Any, ...]
        ) -> None:
            asyncio.get_running_loop()._remove_reader(pidfd)  # type: ignore[attr-defined]
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:  # reaped by someone else's waitpid
                returncode = 255
                log.warning("child process %d exit status already read: returncode 255", pid)
            else:
                returncode = os.waitstatus_to_exitcode(status)
            os.close(pidfd)
            callback(pid, returncode, *args)

        def remove_child_handler(self, pid: int) -> bool:
            return True  # asyncio never calls it; the reader ends with the child

        def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
            pass  # every child is watched by the loop running when it starts

        def is_active(self) -> bool:
            return True

        def close(self) -> None:
            pass

        def __enter__(self) -> PidfdWatcher:
            return self

        def __exit__(self, *exc: object) -> None:
            pass


def watch_children_by_pidfd() -> bool:
    """Make asyncio wait for children by pidfd from now on, where it does not already
    (Python 3.11 on Linux); True when the pidfd watcher is the one in use."""
    if sys.version_info >= (3, 12) or sys.platform == "win32":
        return False  # 3.12+ already uses pidfds where it can; 3.14 has no watchers
    if isinstance(asyncio.get_child_watcher(), PidfdWatcher):
        return True
    if not pidfd_usable():
        return False
    asyncio.set_child_watcher(PidfdWatcher())
    return True
