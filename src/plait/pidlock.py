"""One process at a time in a folder: a lock file that says who holds it.

    with pid_lock(folder / "engine.lock", busy=lambda pid: ProjectError(...)):
        ...

The lock is `flock` on the file (released by the kernel when the holder dies, even by
SIGKILL); the file holds the holder's pid, for the message a second process gets.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from plait.errors import PlaitError


@contextlib.contextmanager
def pid_lock(path: Path, *, busy: Callable[[str], PlaitError]) -> Iterator[None]:
    """Hold `path`'s lock; raise `busy(pid of the holder)` when another process has it."""
    # 0600 like every file in a project's folder (the README says so), whatever the umask.
    with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            raise busy(f.read().strip() or "?") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
