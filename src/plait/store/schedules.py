"""Schedules kept in a project's store: a cron expression, a time zone, what to start.

The table holds what people said (`plait schedule add/remove/pause`); what the engine's
schedule source did with it (the last due time it handled, runs fired and skipped) it
keeps as source memory in `meta` (see `plait.sources.schedules`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from plait.store.sqlite import Store

KINDS = ("mission", "blueprint", "task")
CATCH_UP = ("skip", "once")


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    name: str
    cron: str
    kind: str  # mission | blueprint | task
    payload: dict[str, Any] = field(default_factory=dict)  # the API fields of what it starts
    tz: str = "UTC"
    catch_up: str = "skip"  # a run missed while no engine ran: skip it, or run once for all
    paused: bool = False
    created_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> Schedule:
        data = json.loads(text)
        return Schedule(**{k: v for k, v in data.items() if k in Schedule.__dataclass_fields__})


def add(store: Store, schedule: Schedule) -> bool:
    """Store a new schedule; False when one has that name already."""
    cur = store.db.execute(
        "INSERT OR IGNORE INTO schedules(name, body) VALUES (?, ?)",
        (schedule.name, schedule.to_json()),
    )
    return cur.rowcount > 0


def remove(store: Store, name: str) -> bool:
    return store.db.execute("DELETE FROM schedules WHERE name = ?", (name,)).rowcount > 0


def set_paused(store: Store, name: str, paused: bool) -> bool:
    found = get(store, name)
    if found is None:
        return False
    store.db.execute(
        "UPDATE schedules SET body = ? WHERE name = ?",
        (replace(found, paused=paused).to_json(), name),
    )
    return True


def get(store: Store, name: str) -> Schedule | None:
    row = store.db.execute("SELECT body FROM schedules WHERE name = ?", (name,)).fetchone()
    return None if row is None else Schedule.from_json(str(row[0]))


def all_schedules(store: Store) -> list[Schedule]:
    rows = store.db.execute("SELECT body FROM schedules ORDER BY name")
    return [Schedule.from_json(str(r[0])) for r in rows]
