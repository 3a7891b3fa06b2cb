"""The project's timeline: the human line of each decided event, kept beside the event log.

How this works. When the engine decides an event it also says what a person reads about it
(`plait.ui.headless.timeline_lines`: "opened draft PR #3 into main", "agent stopped…").
Those lines are written in the same transaction as the event itself (`Store.commit_many`),
under the event's sequence number, so the timeline never misses or repeats a decision, even
across a crash, and a face can load it and then follow the live event stream from the last
`seq` it read. One event may give several lines (a turn finished, and the next one starts).
"""

from __future__ import annotations

import sqlite3
from typing import Any, NamedTuple

DDL = (
    "CREATE TABLE IF NOT EXISTS timeline("
    " id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, at REAL NOT NULL, task TEXT,"
    " event TEXT NOT NULL, message TEXT NOT NULL, status TEXT)",
    "CREATE INDEX IF NOT EXISTS timeline_seq ON timeline(seq)",
    "CREATE INDEX IF NOT EXISTS timeline_task ON timeline(task, seq)",
)

MAX_PAGE = 5000


class Line(NamedTuple):
    """One line of the timeline: what it is about, what it says, the task's status then."""

    task: str | None
    message: str
    status: str | None = None


_Row = tuple[int, float, str | None, str, str, str | None]


def rows(seq: int, at: float, event: str, lines: tuple[Line, ...]) -> list[_Row]:
    """An event's lines as rows for `insert`."""
    return [(seq, at, line.task, event, line.message, line.status) for line in lines]


def insert(db: sqlite3.Connection, rows: list[_Row]) -> None:
    """Record lines (inside the caller's transaction), several events' at once."""
    db.executemany(
        "INSERT INTO timeline(seq, at, task, event, message, status) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )


_COLUMNS = "seq, at, task, message, status, event"


def page(
    db: sqlite3.Connection,
    *,
    after: int = 0,
    limit: int = 500,
    task: str | None = None,
    last: int | None = None,
) -> dict[str, Any]:
    """Entries of events after `seq` `after` (or the `last` N entries), oldest first, at
    most about `limit`: an event's lines are never split across pages. `next` is the seq to
    ask after next (and to follow the event stream from)."""
    args: list[object] = [task] if task is not None else []
    cond = "AND task = ?" if task is not None else ""
    if last is not None:
        # The newest seq first: an event committed meanwhile is then after `next`, not lost.
        newest = int(db.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0)
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM timeline WHERE seq <= ? {cond} "  # noqa: S608
            "ORDER BY seq DESC, id DESC LIMIT ?",
            [newest, *args, max(1, min(last, MAX_PAGE))],
        ).fetchall()
        rows.reverse()
        return {"entries": [_entry(r) for r in rows], "next": newest}
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM timeline WHERE seq > ? {cond} ORDER BY seq, id LIMIT ?",  # noqa: S608
        [after, *args, max(1, min(limit, MAX_PAGE))],
    ).fetchall()
    if rows:
        # The rest of the last event's lines, so that `next` never skips one.
        tail = db.execute(
            f"SELECT {_COLUMNS} FROM timeline WHERE seq = ? {cond} ORDER BY id",  # noqa: S608
            [rows[-1][0], *args],
        ).fetchall()
        rows = [r for r in rows if r[0] != rows[-1][0]] + tail
    return {"entries": [_entry(r) for r in rows], "next": int(rows[-1][0]) if rows else after}


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    seq, at, task, message, status, event = row
    return {
        "seq": int(seq),
        "at": float(at),
        "task": task,
        "message": message,
        "status": status,
        "event": event,
    }
