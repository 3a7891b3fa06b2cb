"""Agent processes outlive an engine that is killed (SIGKILL, power loss): reap them.

Each agent runs in its own process group. The engine records the group and the leader's
start time (so a recycled pid is never mistaken for ours) before the turn streams, and
forgets it after. On the next start, every member of every recorded group is killed, even
when the leader has exited (children an agent left running, a `sleep` or a dev server),
and so is whatever still runs inside the project's worktrees (what escaped its group with
`setsid`), before any effect runs again: two agents never work in one worktree, and no
process plait started outlives it. See `plait.processes`.
"""

from __future__ import annotations

import psutil

from plait import processes
from plait.store.sqlite import Store


def remember(store: Store, effect_id: str, pid: int) -> None:
    store.add_process(effect_id, pid, processes.started(pid))


def forget(store: Store, effect_id: str) -> None:
    store.remove_process(effect_id)


def reap_orphans(store: Store, *, worktrees: str | None = None) -> list[int]:
    """Kill what a previous engine left: recorded groups and, given the folder of the
    project's worktrees, what runs inside it. Returns the pids killed."""
    victims: dict[int, psutil.Process] = {}
    for _, pgid, started in store.processes():
        victims.update((p.pid, p) for p in processes.group(pgid, started))
    if worktrees is not None:
        victims.update((p.pid, p) for p in processes.under(worktrees))
    killed = processes.kill(victims.values())
    for effect_id, _, _ in store.processes():
        store.remove_process(effect_id)
    return killed
