"""Ports go back to the registry when their task ends (lands, or is done with its answer)."""

from __future__ import annotations

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import Phase, RunState
from plait.engine.loop import Observer
from plait.store.ports import release
from plait.store.sqlite import Store, changed_tasks


def release_ports_of_ended_tasks(store: Store) -> Observer:
    def observe(
        event: ev.Event, old: RunState | None, new: RunState, effects: tuple[fx.Effect, ...]
    ) -> None:
        for tid in changed_tasks(old, new):
            was = old.tasks.get(tid) if old is not None else None
            if new.tasks[tid].phase is Phase.MERGED and (
                was is None or was.phase is not Phase.MERGED
            ):
                release(store, tid)

    return observe
