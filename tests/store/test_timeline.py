"""The timeline: the human lines of decided events, written with the events themselves.

A simulated run (CoreDriver) is committed to a real SQLite file the way the engine commits,
narrated by the same function the engine uses.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from plait.core import codec
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import Decision
from plait.core.model import RunConfig, RunState
from plait.store import Store
from plait.store.sqlite import SCHEMA_VERSION, Decided
from plait.store.timeline import Line
from plait.testing.core_driver import CoreDriver, specs_from
from plait.ui.headless import event_messages, timeline_lines

PLAN = {"a": [], "b": ["a"], "c": []}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "plait.db")
    yield s
    s.close()


def _run(store: Store) -> list[Decided]:
    """A whole run, committed and narrated event by event; the steps it decided."""
    d = CoreDriver(specs_from(PLAN), config=RunConfig(project="tl", repo="/sim"), seed=1)
    steps: list[Decided] = []

    def commit(event: ev.Event, old: RunState | None, decision: Decision) -> None:
        lines = timeline_lines(event, old, decision.state, decision.effects)
        step = Decided(event, old, decision.state, decision.effects, None, lines)
        store.commit_many([step])
        steps.append(step)

    d.observers.append(commit)
    d.run()
    return steps


def test_every_line_of_every_event_is_kept_under_its_seq(store: Store) -> None:
    steps = _run(store)
    page = store.timeline(limit=100_000)
    expected = []
    for seq, step in enumerate(steps, start=1):
        for task, line in event_messages(step.event, step.old, step.new, step.effects):
            expected.append((seq, task, line, type(step.event).__name__))
    got = [(e["seq"], e["task"], e["message"], e["event"]) for e in page["entries"]]
    assert got == expected
    assert page["next"] == len(steps) == store.last_seq()
    merged = [e for e in page["entries"] if e["message"].startswith("merged")]
    assert {e["task"] for e in merged} == {"a", "b", "c"}
    assert {e["status"] for e in merged} == {"merged"}  # the task's status as of that line


def test_pages_never_split_an_event_and_follow_on_from_next(store: Store) -> None:
    _run(store)
    whole = store.timeline(limit=100_000)["entries"]
    seen: list[dict[str, object]] = []
    after = 0
    while True:
        page = store.timeline(after=after, limit=2)
        if not page["entries"]:
            assert page["next"] == after
            break
        seqs = [e["seq"] for e in page["entries"]]
        last = seqs[-1]
        assert sum(1 for e in whole if e["seq"] == last) == seqs.count(last)
        seen += page["entries"]
        after = page["next"]
    assert seen == whole


def test_one_tasks_lines_and_the_last_few(store: Store) -> None:
    _run(store)
    whole = store.timeline(limit=100_000)["entries"]
    only_b = store.timeline(task="b", limit=100_000)["entries"]
    assert only_b == [e for e in whole if e["task"] == "b"]
    tail = store.timeline(last=3)
    assert tail["entries"] == whole[-3:]
    assert tail["next"] == store.last_seq()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Unencodable(fx.Effect):
    stuff: frozenset[str]


def test_a_failed_commit_keeps_no_line(store: Store) -> None:
    _run(store)
    before = store.timeline(limit=100_000)
    state = store.load()
    assert state is not None
    bad = _Unencodable(id="a/99/x", task="a", stuff=frozenset({"x"}))
    with pytest.raises(codec.CodecError):
        store.commit(ev.Tick(at=state.now + 1), state, state, [bad], lines=(Line("a", "hello"),))
    assert store.timeline(limit=100_000) == before


def test_an_older_store_gains_an_empty_timeline(tmp_path: Path) -> None:
    path = tmp_path / "plait.db"
    Store(path).close()
    with sqlite3.connect(path) as db:  # what a store of schema 2 looked like
        db.execute("DROP TABLE timeline")
        db.execute("ALTER TABLE events DROP COLUMN deferred")  # came with schema 5
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.close()
    store = Store(path)
    try:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert store.timeline() == {"entries": [], "next": 0}
        _run(store)
        assert store.timeline(last=1)["entries"]
    finally:
        store.close()


# The timeline as stores of schema 3 to 5 made it: a rowid table with indexes on seq and
# on (task, seq).
_SCHEMA_5_TIMELINE = (
    "CREATE TABLE timeline("
    " id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, at REAL NOT NULL, task TEXT,"
    " event TEXT NOT NULL, message TEXT NOT NULL, status TEXT)",
    "CREATE INDEX timeline_seq ON timeline(seq)",
    "CREATE INDEX timeline_task ON timeline(task, seq)",
)


def _pages(store: Store) -> list[dict[str, object]]:
    after, seen = 0, []
    while (page := store.timeline(after=after, limit=3))["entries"]:
        seen.append(page)
        after = page["next"]
    return seen


def test_a_schema_5_timeline_is_rekeyed_and_reads_the_same(tmp_path: Path) -> None:
    """Schema 6 numbers a line's rowid from its event's seq and drops the index on seq; a
    store of schema 5 opens, its lines are numbered anew once, and every face's read of
    it (whole, paged, one task's, the last few) gives the same answers as before."""
    path = tmp_path / "plait.db"
    store = Store(path)
    _run(store)
    whole = store.timeline(limit=100_000)
    paged = _pages(store)
    only_b = store.timeline(task="b", limit=100_000)
    tail = store.timeline(last=4)
    rows = store.db.execute(
        "SELECT seq, at, task, event, message, status FROM timeline ORDER BY id"
    ).fetchall()
    store.db.execute("DROP TABLE timeline")
    for statement in _SCHEMA_5_TIMELINE:
        store.db.execute(statement)
    store.db.executemany(
        "INSERT INTO timeline(seq, at, task, event, message, status) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    store.db.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    store.close()
    store = Store(path)
    try:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "6"
        names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_schema")}
        assert not names & {"timeline_seq", "timeline_task", "timeline_before_6"}
        assert {r[0] >> 20 for r in store.db.execute("SELECT id FROM timeline")} == {
            r[0] for r in rows
        }
        assert store.timeline(limit=100_000) == whole
        assert _pages(store) == paged
        assert store.timeline(task="b", limit=100_000) == only_b
        assert store.timeline(last=4) == tail
        assert len(whole["entries"]) == len(rows) > 10
    finally:
        store.close()


def test_a_page_after_any_seq_is_a_page(store: Store) -> None:
    """The lines' rowids are their seq × 2^20: a page asked after a seq past any rowid
    (an `after` from a URL) is an empty page, not an overflow."""
    _run(store)
    for after in (10**15, 2**62, 10**30):
        assert store.timeline(after=after) == {"entries": [], "next": after}
    assert store.timeline(after=-(10**30))["entries"] == store.timeline()["entries"]
