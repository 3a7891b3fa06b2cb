"""CPU and memory of each task's live agent, for `plait ps` and the faces.

An agent runs in its own process group (the runner starts it in a new session), so a
task's usage is the sum over that group's members: the CLI, the tools it started, their
children. psutil reads them; CPU percent needs two looks at a process, so the sampler keeps
the `psutil.Process` objects between calls (the first look says 0).
"""

from __future__ import annotations

import os
from typing import Protocol

import psutil

from plait.core import effects as fx


class _Engine(Protocol):
    @property
    def store(self) -> _Store: ...

    def running_effects(self) -> dict[str, fx.Effect]: ...


class _Store(Protocol):
    def processes(self) -> list[tuple[str, int, str]]: ...


class ResourceSampler:
    def __init__(self) -> None:
        self._seen: dict[int, psutil.Process] = {}

    def by_task(self, engine: _Engine) -> dict[str, tuple[float, int]]:
        """task id → (CPU percent, resident bytes) of its running agent's process group."""
        running = {
            eid: e for eid, e in engine.running_effects().items() if isinstance(e, fx.RunAgent)
        }
        if not running:
            return {}
        groups = {
            pid: running[eid].task for eid, pid, _ in engine.store.processes() if eid in running
        }
        if not groups:
            return {}
        out: dict[str, tuple[float, int]] = {}
        alive: dict[int, psutil.Process] = {}
        for proc in psutil.process_iter():
            try:
                group = os.getpgid(proc.pid)
            except OSError:
                continue
            task = groups.get(group)
            if task is None:
                continue
            proc = self._seen.get(proc.pid, proc)
            try:
                cpu = proc.cpu_percent(None)
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            alive[proc.pid] = proc
            was_cpu, was_rss = out.get(task, (0.0, 0))
            out[task] = (round(was_cpu + cpu, 1), was_rss + rss)
        self._seen = alive
        return out
