"""Batched commits and the store's write path at scale (P2 in bench/README.md).

`commit_many` must leave exactly what one `commit` per event leaves; a batch is all or
nothing; only the tasks an event changed are written (watched with a real SQLite
trigger); and the faster JSON writer gives the codec's bytes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tests.core.test_codec_roundtrip import EFFECTS, EVENTS

from plait.core import codec
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import Decision, decide
from plait.core.model import RunConfig, RunState, TaskState
from plait.core.progress import next_wakeup, settled
from plait.store import Store, replay, sqlite
from plait.store.sqlite import (
    SCHEMA_VERSION,
    Decided,
    _dumps,
    _tagged_dumps,
    _TaskRows,
    changed_tasks,
)
from plait.testing.core_driver import Chaos, CoreDriver, Timing, specs_from
from plait.ui.headless import timeline_lines

PLAN = {
    "a": [],
    "b": [],
    "c": ["a"],
    "d": ["a", "b"],
    "e": ["c"],
    "f": [],
    "g": ["d", "f"],
    "h": ["e", "g"],
}
_TABLES = {
    "events": "SELECT seq, at, type, body FROM events ORDER BY seq",
    "outbox": "SELECT * FROM outbox ORDER BY id",
    "tasks": "SELECT id, body FROM tasks ORDER BY id",
    "run_static": "SELECT body FROM run_static",
    "run_dynamic": "SELECT now, events FROM run_dynamic",
    "timeline": "SELECT * FROM timeline ORDER BY id",
}


def _steps(seed: int = 4) -> list[Decided]:
    """Every decided event of a chaotic run, with a crash and a human message."""
    chaos = Chaos(agent_fail=0.15, step_fail=0.1, ci_fail=0.25, conflict=0.4, review=0.25)
    config = RunConfig(project="sb", repo="/sim", max_concurrency=3)
    d = CoreDriver(
        specs_from(PLAN), config=config, seed=seed, chaos=chaos, timing=Timing(jitter=0.4)
    )
    steps: list[Decided] = []

    def keep(event: ev.Event, old: RunState | None, decision: Decision) -> None:
        lines = timeline_lines(event, old, decision.state, decision.effects)
        steps.append(Decided(event, old, decision.state, decision.effects, None, lines))

    d.observers.append(keep)
    d.run(until=lambda s: s.events > 40)
    d.human("c", "mind the tests")
    d.crash()
    d.run(auto_human=True)
    return steps


def _rows(store: Store) -> dict[str, list[tuple[object, ...]]]:
    return {name: store.db.execute(sql).fetchall() for name, sql in _TABLES.items()}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "plait.db")
    yield s
    s.close()


def test_batches_store_what_one_commit_per_event_stores(tmp_path: Path) -> None:
    steps = _steps()
    assert len(steps) > 150
    one_by_one = Store(tmp_path / "one.db")
    batched = Store(tmp_path / "batched.db")
    for step in steps:
        one_by_one.commit(step.event, step.old, step.new, step.effects, lines=step.lines)
    rng = random.Random(1)
    i, seqs = 0, []
    while i < len(steps):
        n = rng.randint(1, 17)
        seqs += batched.commit_many(steps[i : i + n])
        i += n
    assert seqs == list(range(1, len(steps) + 1))
    assert _rows(batched) == _rows(one_by_one)
    assert replay(batched) == batched.load() == steps[-1].new
    one_by_one.close()
    batched.close()


def test_a_failing_batch_records_nothing(store: Store) -> None:
    steps = _steps()
    store.commit_many(steps[:10])
    before = _rows(store)
    # A step whose effect cannot be encoded fails after the first steps of the batch ran.
    bad_effect = fx.Push(id="x/1/push", task="a", branch={"not", "json"}, worktree="/w")  # type: ignore[arg-type]
    bad = steps[12]._replace(effects=(bad_effect,))
    with pytest.raises(codec.CodecError):
        store.commit_many([steps[10], steps[11], bad])
    assert _rows(store) == before
    assert store.commit_many([]) == []
    assert store.commit_many(steps[10:13]) == [11, 12, 13]


def test_only_the_tasks_an_event_changed_are_written(store: Store) -> None:
    store.db.executescript(
        "CREATE TEMP TABLE written(id TEXT);"
        "CREATE TEMP TRIGGER note AFTER INSERT ON tasks BEGIN "
        "INSERT INTO written(id) VALUES (new.id); END;"
        # A task's row is updated in place once it exists (an upsert: P2).
        "CREATE TEMP TRIGGER note_again AFTER UPDATE ON tasks BEGIN "
        "INSERT INTO written(id) VALUES (new.id); END;"
    )
    for step in _steps():
        store.db.execute("DELETE FROM written")
        store.commit(step.event, step.old, step.new, step.effects)
        written = sorted(r[0] for r in store.db.execute("SELECT id FROM written"))
        old = step.old.tasks if step.old is not None else {}
        new = step.new.tasks
        assert written == sorted(t for t in new if old.get(t) is not new[t])
        assert set(written) >= {t for t in new if old.get(t) != new[t]}


def test_a_loaded_state_decides_and_commits_only_its_changes(store: Store) -> None:
    steps = _steps()
    store.commit_many(steps[:60])
    loaded = store.load()
    assert loaded is not None
    tick = ev.Tick(at=loaded.now + 500.0)
    decision = decide(loaded, tick)
    store.commit(tick, loaded, decision.state, decision.effects)
    assert store.load() == decision.state == decide(steps[59].new, tick).state


def test_json_is_the_codecs_byte_for_byte() -> None:
    steps = _steps(seed=9)
    values: list[object] = []
    for step in steps:
        values += [step.event, *step.effects, *step.new.tasks.values()]
    values += [steps[-1].new, replace(steps[-1].new, tasks={})]
    for value in values:
        want = json.dumps(codec.encode(value), separators=(",", ":"), sort_keys=True)
        assert _dumps(value) == want


def test_an_event_or_effect_row_is_the_codecs_text_field_by_field() -> None:
    """Events and effects are written from the text of their fields, the tag put in its
    sorted place (P2): every kind (the codec tests' samples, each with every field set)
    and every event and effect of a chaotic run must be the codec's text byte for byte,
    and decode back to the same value."""
    values: list[object] = [*EVENTS, *EFFECTS]
    for step in _steps(seed=9):
        values += [step.event, *step.effects]
    assert {type(v) for v in values} >= {*ev.EVENT_TYPES, *fx.EFFECT_TYPES}
    for value in values:
        want = json.dumps(codec.encode(value), separators=(",", ":"), sort_keys=True)
        assert _tagged_dumps(value) == want
        assert codec.decode_as(type(value), json.loads(want)) == value


def _without_defaults(task: TaskState) -> str:
    """The codec's text of a task without the fields that hold their default."""
    data = codec.encode(task)
    assert isinstance(data, dict)
    default = codec.encode(TaskState(id=task.id))
    assert isinstance(default, dict)
    kept = {k: v for k, v in data.items() if k == "id" or v != default[k]}
    return json.dumps(kept, separators=(",", ":"), sort_keys=True)


def test_a_task_row_is_the_codecs_text_as_its_fields_change() -> None:
    """A task's row is made from the text of its fields, re-encoding only the fields an
    event replaced (P2): every version of every task of a chaotic run, in the order the
    run made them, must be the codec's text byte for byte without the fields at their
    default, and decode back to the same task."""
    rows = _TaskRows()
    seen = 0
    for step in _steps():
        for tid in changed_tasks(step.old, step.new):
            task = step.new.tasks[tid]
            row = rows.text(task)
            assert row == _without_defaults(task)
            assert codec.decode_typed(TaskState, json.loads(row)) == task
            seen += 1
    assert seen > 150


def test_a_task_row_leaves_out_the_fields_at_their_default() -> None:
    """Schema 6 rows hold only the fields away from their default (fewer WAL pages per
    commit: P2); a row with every field, as schema 5 wrote, decodes to the same task."""
    task = replace(TaskState(id="t"), turns=2, notes="n")
    assert _TaskRows().text(task) == '{"id":"t","notes":"n","turns":2}'
    full = _dumps(task)
    assert len(full) > 1000
    assert codec.decode_typed(TaskState, json.loads(full)) == task


def test_a_python_whose_private_c_encoder_differs_falls_back_to_the_public_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`json.encoder.c_make_encoder` is not public API: a Python where it takes other
    arguments, or is missing, must not break the store at import."""
    from plait.store import sqlite

    def other_signature(markers: object) -> None:
        raise AssertionError("not called with this signature")

    monkeypatch.setattr(json.encoder, "c_make_encoder", other_signature)
    assert sqlite._c_encoder() is None
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)  # a Python without _json
    assert sqlite._c_encoder() is None
    monkeypatch.undo()
    monkeypatch.setattr(sqlite, "_C_ENCODER", None)
    value = _steps(seed=3)[-1].event
    assert _dumps(value) == json.dumps(codec.encode(value), separators=(",", ":"), sort_keys=True)


def _batched_run(seed: int = 5) -> CoreDriver:
    """A chaotic run whose results arrive in groups, each decided as one batch (the
    scheduler once, after the group's last event), as the engine decides them."""
    chaos = Chaos(step_fail=0.1, ci_fail=0.25, conflict=0.4, review=0.25)
    config = RunConfig(project="sb", repo="/sim", max_concurrency=3)
    d = CoreDriver(specs_from(PLAN), config=config, seed=seed, chaos=chaos)
    d.start()
    rng = random.Random(seed)
    for _ in range(2_000):
        if not d.outstanding and not d.changed_views():
            d.finish_ci()
            if not d.changed_views():
                wake = next_wakeup(d.st)
                if wake is None:
                    break
                d.tick(max(0.0, wake - d.now))
                continue
        ids = list(d.outstanding)[: rng.randint(1, 4)]
        for effect_id in ids:
            d.execute(effect_id)
        d.feed_batch([*(d.unreported.pop(e) for e in ids), *d.changed_views()])
    return d


def test_deferred_scheduling_is_recorded_and_replayed(store: Store) -> None:
    """Failed before the log knew which events had their scheduling deferred: a replay
    ran the scheduler after every event and reached another state."""
    d = _batched_run()
    assert not all(d.scheduled)
    assert any(d.scheduled)
    steps: list[Decided] = []
    state: RunState | None = None
    for event, scheduling in zip(d.log, d.scheduled, strict=True):
        decision = decide(state, event, scheduling=scheduling)
        steps.append(
            Decided(event, state, decision.state, decision.effects, deferred=not scheduling)
        )
        state = decision.state
    assert state == d.state
    store.commit_many(steps)
    marks = [bool(r[0]) for r in store.db.execute("SELECT deferred FROM events ORDER BY seq")]
    assert marks == [not s for s in d.scheduled]
    assert replay(store) == store.load() == d.state
    assert settled(d.st)
    assert len(d.log) > 100
    # The marks are what makes the replay right: the same log scheduled after every event
    # decides otherwise.
    every: RunState | None = None
    differs = False
    for event, step in zip(d.log, steps, strict=True):
        every = decide(every, event).state
        differs = differs or every != step.new
    assert differs


def test_a_store_before_deferred_scheduling_replays_as_before(tmp_path: Path) -> None:
    """A schema 4 store (no `deferred` column) gains it, every old event marked as
    followed by the scheduler, and replays to its state."""
    path = tmp_path / "plait.db"
    old = Store(path)
    steps = _steps()
    old.commit_many(steps)
    old.db.execute("ALTER TABLE events DROP COLUMN deferred")
    old.db.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    old.close()
    store = Store(path)
    try:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert {r[0] for r in store.db.execute("SELECT deferred FROM events")} == {0}
        assert replay(store) == store.load() == steps[-1].new
    finally:
        store.close()


def _reset_steps() -> tuple[list[Decided], str]:
    """A run in which a hard reset drops task a's agent turn while it runs (its late
    result ignored); the steps and the dropped turn's id."""
    d = CoreDriver(specs_from({"a": [], "b": []}), seed=3)
    steps: list[Decided] = []

    def keep(event: ev.Event, old: RunState | None, decision: Decision) -> None:
        steps.append(Decided(event, old, decision.state, decision.effects))

    d.observers.append(keep)
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "a")))
    [turn] = d.pending(fx.RunAgent, "a")
    d.reset("a", hard=True)
    d.answer(turn.id, "ok")
    d.run()
    return steps, turn.id


def test_an_effect_dropped_by_a_decision_is_cancelled_in_any_batching(tmp_path: Path) -> None:
    """The turn a hard reset drops is marked cancelled (never run again after a restart)
    whether the reset comes in a later batch than the turn's decision, in the same batch
    as it, or anywhere between; the outbox holds the same rows either way. (The commit
    finds the tasks a batch changed once per batch, not per event.)"""
    steps, dropped = _reset_steps()
    expected: list[tuple[object, ...]] | None = None
    for name, sizes in {"each": [1], "whole": [len(steps)], "mixed": [2, 5, 1, 9, 3]}.items():
        store = Store(tmp_path / f"{name}.db")
        i, k = 0, 0
        while i < len(steps):
            n = sizes[k % len(sizes)]
            store.commit_many(steps[i : i + n])
            i, k = i + n, k + 1
        rows = store.db.execute("SELECT * FROM outbox ORDER BY id").fetchall()
        status = store.db.execute("SELECT status FROM outbox WHERE id = ?", (dropped,))
        assert status.fetchone() == ("cancelled",), name
        assert dropped not in {e.id for e in store.pending_effects()}
        assert store.load() == steps[-1].new
        store.close()
        expected = rows if expected is None else expected
        assert rows == expected, name


# What a task's fields held by default when rows began to leave those fields out (store
# schema 6). A row written then reads back these values for the fields it lacks, so an
# existing field's default must not change without a migration that writes them into the
# rows. New fields are free to have any default (older rows lack them either way).
_TASK_DEFAULTS_OF_SCHEMA_6 = (
    '"agent_seconds":0.0',
    '"base_branch":""',
    '"base_sha":""',
    '"based_at":0.0',
    '"branch":""',
    '"budget":{"dollars":null,"tokens":null}',
    '"carried_by":""',
    '"ci_handled":[]',
    '"claim_usage":{"cache_read_tokens":0,"cache_write_tokens":0,"cost_usd":0.0,"input_tokens":0,"output_tokens":0,"reasoning_tokens":0}',
    '"claimed_at":0.0',
    '"cleaned":false',
    '"counters":{"ci_failures":0,"login_failures":0,"merge_failures":0,"push_failures":0,"rebase_failures":0,"returns":0,"review_failures":0,"risk_failures":0,"start_failures":0,"turn_failures":0}',
    '"current":null',
    '"effect_seq":0',
    '"exit_code":null',
    '"failed":""',
    '"finished_at":0.0',
    '"head_sha":""',
    '"in_flight":""',
    '"interrupted":false',
    '"last_error":""',
    '"last_reply":""',
    '"log":[]',
    '"merge_sha":""',
    '"notes":""',
    '"nudged":false',
    '"overlaps":[]',
    '"path_classes":[]',
    '"phase":"waiting"',
    '"pr":null',
    '"queue":[]',
    '"ready_since":0.0',
    '"rebase_keys":[]',
    '"restarts":[]',
    '"resumes":0',
    '"retry_at":0.0',
    '"review_rounds":0',
    '"reviewer_tries":0',
    '"riders":[]',
    '"risk":""',
    '"risk_head":""',
    '"risk_reason":""',
    '"second_head":""',
    '"second_verdict":""',
    '"session_id":""',
    '"session_usage":{"cache_read_tokens":0,"cache_write_tokens":0,"cost_usd":0.0,"input_tokens":0,"output_tokens":0,"reasoning_tokens":0}',
    '"skipped":""',
    '"stacked_on":null',
    '"started_at":0.0',
    '"step":""',
    '"stopped":""',
    '"threads_answered":[]',
    '"threads_seen":[]',
    '"turn_ended_at":0.0',
    '"turns":0',
    '"usage":{"cache_read_tokens":0,"cache_write_tokens":0,"cost_usd":0.0,"input_tokens":0,"output_tokens":0,"reasoning_tokens":0}',
    '"verdict":""',
    '"verdict_head":""',
    '"worker":""',
    '"worktree":""',
)


def test_a_task_fields_default_stays_what_rows_left_out() -> None:
    """Rows leave out the fields at their default: changing an existing field's default
    would change what every stored row means. Add a store migration that writes the old
    default into the rows that lack the field, then update the list above."""
    now = {text.split(":", 1)[0]: text for text in sqlite._TASK_DEFAULTS if text}
    for text in _TASK_DEFAULTS_OF_SCHEMA_6:
        key = text.split(":", 1)[0]
        if key in now:
            assert now[key] == text, f"the default of TaskState.{json.loads(key)} changed"
