"""The processes plait started: find them by what ties them to plait, and stop them.

How this works. An agent or a CI command runs as the leader of a process group of its own,
so what it starts joins that group: unless it calls `setsid`, or the leader exits and its
children live on. Two facts find them all the same. The group id: Linux does not hand a
pid to a new process while any member of the group it names is alive, so members of a
recorded group are ours. The working directory: what an agent starts in the background
(a dev server, a `sleep`) usually runs inside the task's worktree, and a CI command inside
its export. psutil reads the process table (a maintained cross-platform library instead of
parsing /proc by hand).

Pid reuse: a group is recorded with its leader's start time. A live leader with another
start time means the pid was recycled, and the group is not ours; with the leader gone,
only members started after it count. A process with a controlling terminal is never
killed for its working directory: that is a person's shell, not something an agent (which
runs without a terminal) left behind.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable

import psutil

# How long `kill` waits for the killed to be gone, so a folder can be removed after it.
KILL_WAIT = 2.0


def started(pid: int) -> str:
    """The process's start time as the text to record with it; "" when it is gone."""
    try:
        return repr(psutil.Process(pid).create_time())
    except psutil.Error:
        return ""


def group(pgid: int, leader_started: str) -> list[psutil.Process]:
    """The live members of the process group `pgid` recorded with `leader_started`;
    [] when the group is gone or the pid was recycled into another group since."""
    try:
        since = float(leader_started)
    except ValueError:
        return []
    members = []
    for proc in _all():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) != pgid or _gone(proc):
                continue
            if proc.pid == pgid and repr(proc.create_time()) != leader_started:
                return []  # the leader's pid names another process now
            if proc.create_time() >= since:
                members.append(proc)
    return members


def group_alive(pgid: int) -> bool:
    """Does the process group still have a running member (zombies do not count)?"""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    for proc in _all():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == pgid and not _gone(proc):
                return True
    return False


def under(path: str) -> list[psutil.Process]:
    """Live processes whose working directory is `path` or inside it, except this process,
    its ancestors and anything with a terminal (see the module note)."""
    if not path:
        return []  # realpath("") is our own cwd: never a folder we were asked about
    root = os.path.realpath(path)
    if root == os.path.dirname(root):
        return []  # "/" holds everything
    me = psutil.Process()
    spared = {me.pid, *(p.pid for p in _ancestors(me))}
    found = []
    for proc in psutil.process_iter(["cwd"]):
        cwd = proc.info.get("cwd")
        if proc.pid in spared or not cwd:
            continue
        inside = cwd == root or cwd.startswith(root.rstrip(os.sep) + os.sep)
        if inside and not _gone(proc) and not _has_terminal(proc):
            found.append(proc)
    return found


def kill(procs: Iterable[psutil.Process], *, wait: float = KILL_WAIT) -> list[int]:
    """SIGKILL each process (psutil checks it is still the same one), then wait up to
    `wait` seconds for them to be gone; returns the pids signalled."""
    killed = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
            killed.append(proc)
    deadline = time.monotonic() + wait
    while any(not _gone(p) for p in killed) and time.monotonic() < deadline:
        time.sleep(0.02)
    return sorted(p.pid for p in killed)


def stop_under(path: str) -> list[int]:
    """Kill whatever still runs inside `path` (see `under`); the pids killed."""
    return kill(under(path))


def _all() -> Iterable[psutil.Process]:
    return psutil.process_iter()


def _ancestors(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.parents()
    except psutil.Error:
        return []


def _has_terminal(proc: psutil.Process) -> bool:
    # psutil names a terminal from a device map it reads once per process, so a terminal
    # opened later would look like none; Linux says it directly (tty_nr, field 7).
    try:
        with open(f"/proc/{proc.pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[4] != "0"
    except (OSError, IndexError):
        pass
    try:
        return proc.terminal() is not None
    except psutil.Error:
        return True  # cannot tell: spare it


def _gone(proc: psutil.Process) -> bool:
    """Exited, or a zombie: where PID 1 does not reap orphans (some containers), zombies
    linger forever and would always look alive."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True
