"""Replaying the event log through `decide` must reproduce the stored state.

Each event is decided as the engine decided it: an event whose scheduling was deferred to
the end of its batch (`Decided.deferred`) is decided without the scheduler here too; a log
written before that existed has every event followed by the scheduler.
"""

from __future__ import annotations

from plait.core.controller import decide_each
from plait.core.model import RunState
from plait.store.sqlite import Store


def replay(store: Store) -> RunState | None:
    state: RunState | None = None
    logged = ((event, scheduling) for _, event, scheduling in store.decided_events())
    for decision in decide_each(None, logged):
        state = decision.state
    return state
