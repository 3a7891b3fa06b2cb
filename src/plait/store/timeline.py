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

# A line's rowid is its event's seq times `PER_EVENT` plus its place among the event's
# lines, so the lines append at the right edge of the table's b-tree in seq order and
# `page` reads a range of seqs as a range of rowids. No index: one on seq and one on
# (task, seq) were written at every commit (5.4 of ~26 WAL pages a transaction, P2); one
# task's lines (`page(task=...)`, asked by the API's `?task=` alone: the faces filter
# what they loaded) are found by walking the rowids from `after` (or back from the
# newest) until the page is full. (SQLite appends to a rowid table's right edge by a
# quick split; a WITHOUT ROWID table keyed by (seq, n) split its pages in halves and wrote
# more pages than the index it saved.)
PER_EVENT = 1 << 20
# The largest seq whose lines' rowids fit SQLite's integers (a bound asked for past it,
# an `after` from a URL say, is taken as it).
MAX_SEQ = (1 << 63) // PER_EVENT - 2

DDL = (
    "CREATE TABLE IF NOT EXISTS timeline("
    " id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, at REAL NOT NULL, task TEXT,"
    " event TEXT NOT NULL, message TEXT NOT NULL, status TEXT)",
)


def rekey(db: sqlite3.Connection) -> None:
    """Store schema 5 to 6: the lines of a store made before it (rowids in the order they
    were written, indexes on seq and on (task, seq)) under the rowids of `DDL`, in the
    same order, without the indexes. Inside the caller's transaction."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'timeline_seq'").fetchone() is None:
        return  # made in this layout already
    db.execute("ALTER TABLE timeline RENAME TO timeline_before_6")
    for statement in DDL:
        db.execute(statement)
    db.execute(
        "INSERT INTO timeline(id, seq, at, task, event, message, status) "
        "SELECT seq * ? + id - (SELECT MIN(id) FROM timeline_before_6 AS first"
        " WHERE first.seq = line.seq), seq, at, task, event, message, status "
        "FROM timeline_before_6 AS line ORDER BY id",
        (PER_EVENT,),
    )
    db.execute("DROP TABLE timeline_before_6")  # its indexes with it


MAX_PAGE = 5000


class Line(NamedTuple):
    """One line of the timeline: what it is about, what it says, the task's status then."""

    task: str | None
    message: str
    status: str | None = None


Row = tuple[int, int, float, str | None, str, str, str | None]


def rows(seq: int, at: float, event: str, lines: tuple[Line, ...]) -> list[Row]:
    """An event's lines as rows for `insert`."""
    if len(lines) >= PER_EVENT:
        raise ValueError(f"event {seq} has {len(lines)} timeline lines, more than {PER_EVENT}")
    first = seq * PER_EVENT
    return [
        (first + n, seq, at, line.task, event, line.message, line.status)
        for n, line in enumerate(lines)
    ]


def insert(db: sqlite3.Connection, rows: list[Row]) -> None:
    """Record lines (inside the caller's transaction), several events' at once."""
    db.executemany(
        "INSERT INTO timeline(id, seq, at, task, event, message, status) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
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
            f"SELECT {_COLUMNS} FROM timeline WHERE id < ? {cond} "  # noqa: S608
            "ORDER BY id DESC LIMIT ?",
            [(newest + 1) * PER_EVENT, *args, max(1, min(last, MAX_PAGE))],
        ).fetchall()
        rows.reverse()
        return {"entries": [_entry(r) for r in rows], "next": newest}
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM timeline WHERE id >= ? {cond} ORDER BY id LIMIT ?",  # noqa: S608
        [(min(max(after, -1), MAX_SEQ) + 1) * PER_EVENT, *args, max(1, min(limit, MAX_PAGE))],
    ).fetchall()
    if rows:
        # The rest of the last event's lines, so that `next` never skips one.
        seq = int(rows[-1][0])
        tail = db.execute(
            f"SELECT {_COLUMNS} FROM timeline WHERE id >= ? AND id < ? {cond} "  # noqa: S608
            "ORDER BY id",
            [seq * PER_EVENT, (seq + 1) * PER_EVENT, *args],
        ).fetchall()
        rows = [r for r in rows if r[0] != seq] + tail
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
