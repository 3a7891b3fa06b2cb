"""The project store: one transaction per decided event, an outbox, replay, inbox, transcripts.

Runs are driven by `CoreDriver` with every decision committed to a real SQLite file, the
way the engine commits them.
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
from plait.core.progress import all_merged
from plait.errors import ProjectError
from plait.store import Store, replay
from plait.testing.core_driver import Chaos, CoreDriver, Timing, specs_from

TEN = {
    "a": [],
    "b": [],
    "c": ["a"],
    "d": ["a", "b"],
    "e": ["c"],
    "f": [],
    "g": ["d", "f"],
    "h": ["e"],
    "i": ["g"],
    "j": ["h", "i"],
}


def _driver(store: Store, *, seed: int = 0, plan: dict[str, list[str]] | None = None) -> CoreDriver:
    chaos = Chaos(agent_fail=0.15, step_fail=0.1, ci_fail=0.2, conflict=0.3, review=0.2)
    config = RunConfig(project="st", repo="/sim", max_concurrency=3)
    d = CoreDriver(
        specs_from(plan or TEN), config=config, seed=seed, chaos=chaos, timing=Timing(jitter=0.4)
    )
    _commit_to(d, store)
    return d


def _commit_to(d: CoreDriver, store: Store) -> None:
    def commit(event: ev.Event, old: RunState | None, decision: Decision) -> None:
        store.commit(event, old, decision.state, decision.effects)

    d.observers.append(commit)


def _pending_ids(store: Store) -> list[str]:
    return [e.id for e in store.pending_effects()]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "plait.db")
    yield s
    s.close()


def test_an_empty_store_has_no_run(store: Store) -> None:
    assert store.load() is None
    assert store.pending_effects() == []
    assert replay(store) is None


def test_commit_then_load_gives_back_the_state_at_every_step(store: Store) -> None:
    d = _driver(store, plan={"a": [], "b": ["a"], "c": []})
    d.start()
    checks = 0

    def check(event: ev.Event, old: RunState | None, decision: Decision) -> None:
        nonlocal checks
        assert store.load() == decision.state
        checks += 1

    d.observers.append(check)  # runs after the commit observer
    assert all_merged(d.run(auto_human=True))
    assert checks > 20


def test_outbox_holds_exactly_the_effects_not_answered_yet(store: Store) -> None:
    d = _driver(store, seed=3)

    def check(event: ev.Event, old: RunState | None, decision: Decision) -> None:
        assert sorted(_pending_ids(store)) == sorted(d.outstanding)

    d.observers.append(check)
    assert all_merged(d.run(auto_human=True))
    counts = store.effect_counts()
    assert counts.get("pending", 0) == 0
    assert counts["done"] == sum(len(dec.effects) for dec in d.decisions)


def test_an_effect_is_done_once_its_answer_is_committed(store: Store) -> None:
    d = _driver(store, plan={"a": []})
    d.start()
    (workspace,) = _pending_ids(store)
    d.execute(workspace)
    assert _pending_ids(store) == [workspace]  # executed, not committed: still pending
    d.deliver(workspace)
    assert workspace not in _pending_ids(store)
    assert [e.id for e in store.pending_effects()] == list(d.outstanding)


def test_duplicate_effect_ids_are_ignored(store: Store) -> None:
    d = _driver(store, plan={"a": [], "b": []})
    first = d.start()
    effect = first.effects[0]
    assert isinstance(effect, fx.PrepareWorkspace)
    twin = fx.PrepareWorkspace(id=effect.id, task=effect.task, branch="other", base_branch="x")
    state = d.st
    store.commit(ev.Tick(at=d.now), state, state, [twin])
    rows = store.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    assert rows == len(first.effects)
    assert store.pending_effects()[0] == effect  # the first copy wins
    d.answer(effect.id)
    store.commit(ev.Tick(at=d.now), d.st, d.st, [twin])
    assert effect.id not in _pending_ids(store)  # a done effect is not revived


def test_replay_of_the_event_log_equals_the_stored_state(store: Store) -> None:
    d = _driver(store, seed=11)
    d.start()
    d.human("c", "mind the edge case")
    state = d.run(auto_human=True)
    assert all_merged(state)
    assert len(list(store.events())) == len(d.log)
    assert replay(store) == store.load() == state


def test_a_reopened_store_resumes_a_crashed_run(tmp_path: Path) -> None:
    path = tmp_path / "plait.db"
    first = Store(path)
    d = _driver(first, seed=5)
    d.run(until=lambda s: sum(t.phase.value == "merged" for t in s.tasks.values()) >= 3)
    for effect_id in list(d.outstanding)[:2]:
        d.execute(effect_id)  # happened outside, never committed
    first.close()  # the crash

    again = Store(path)
    loaded = again.load()
    assert loaded == d.state
    assert sorted(_pending_ids(again)) == sorted(d.outstanding)
    d.observers.clear()
    _commit_to(d, again)
    d.state = loaded
    d.unreported.clear()
    d.tick()  # the restarted engine re-runs the pending effects, then carries on
    assert all_merged(d.run(auto_human=True))
    assert replay(again) == again.load() == d.state
    assert all(pr.merges == 1 for pr in d.prs.values())
    again.close()


def test_inbox_post_then_take(store: Store) -> None:
    d = _driver(store, plan={"a": []})
    d.start()
    m1 = ev.HumanMessage(at=d.now, task="a", text="first", message_id="x1")
    m2 = ev.HumanMessage(at=d.now, task="a", text="second", message_id="x2")
    id1, id2 = store.post(m1), store.post(m2)
    assert store.inbox() == [(id1, m1), (id2, m2)]
    old = d.st
    decision = d.feed(m1)
    store.commit(m1, old, decision.state, decision.effects, inbox_id=id1)
    assert store.inbox() == [(id2, m2)]


def test_transcripts_are_per_task_in_order(store: Store) -> None:
    store.add_transcript("a", "a/2/agent", 1.0, "Prompt", '{"text": "go"}')
    store.add_transcript("b", "b/2/agent", 1.5, "Prompt", "{}")
    store.add_transcript("a", "a/2/agent", 2.0, "Text", "done ✓")
    entries = store.transcript("a")
    assert [(e.kind, e.body) for e in entries] == [("Prompt", '{"text": "go"}'), ("Text", "done ✓")]
    assert all(e.task == "a" and e.effect_id == "a/2/agent" for e in entries)
    assert store.transcript("a", after=entries[0].id) == entries[1:]
    assert store.transcript("zz") == []


@dataclass(frozen=True, slots=True, kw_only=True)
class _Unencodable(fx.Effect):
    stuff: frozenset[str]


def test_a_failed_commit_leaves_nothing_behind(store: Store) -> None:
    d = _driver(store, plan={"a": []})
    d.start()
    before = (list(store.events()), _pending_ids(store), store.load())
    bad = _Unencodable(id="a/99/x", task="a", stuff=frozenset({"x"}))
    with pytest.raises(codec.CodecError):
        store.commit(ev.Tick(at=d.now + 1), d.st, d.st, [bad])
    assert (list(store.events()), _pending_ids(store), store.load()) == before


def test_a_store_from_another_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plait.db"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.close()
    with pytest.raises(ProjectError, match="schema 99"):
        Store(path)
