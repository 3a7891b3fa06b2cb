"""Agent processes outlive an engine that is killed (SIGKILL, power loss): reap them.

Each agent runs in its own process group. The engine records the group and the leader's
start time (from /proc, so a recycled pid is never mistaken for ours) before the turn
streams, and forgets it after. On the next start, every recorded group still alive is
killed before its effect runs again, so two agents never work in one worktree.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from plait.store.sqlite import Store


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after its closing paren are fixed.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def remember(store: Store, effect_id: str, pid: int) -> None:
    store.add_process(effect_id, pid, start_time(pid) or "")


def forget(store: Store, effect_id: str) -> None:
    store.remove_process(effect_id)


def reap_orphans(store: Store) -> list[int]:
    """Kill the process groups left by a previous engine; returns the groups killed."""
    killed: list[int] = []
    for effect_id, pid, started in store.processes():
        if started and start_time(pid) == started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
                killed.append(pid)
        store.remove_process(effect_id)
    return killed
