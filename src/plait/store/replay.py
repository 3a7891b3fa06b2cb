"""Replaying the event log through `decide` must reproduce the stored state."""

from __future__ import annotations

from plait.core.controller import decide
from plait.core.model import RunState
from plait.store.sqlite import Store


def replay(store: Store) -> RunState | None:
    state: RunState | None = None
    for _, event in store.events():
        state = decide(state, event).state
    return state
