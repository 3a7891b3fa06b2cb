"""Scheduling once per batch (`decide_batch`, P2 in bench/README.md): every event's
handler runs, the scheduler only after the last, and the decisions are the ones
`decide(..., scheduling=...)` gives event by event, which is what a replay of the log
does with the store's marks."""

from __future__ import annotations

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import decide, decide_batch, decide_each
from plait.core.model import RunConfig
from plait.testing.core_driver import CoreDriver, specs_from

PLAN = {"a": [], "b": [], "c": [], "d": ["a"], "e": ["b", "c"]}


def _driver() -> CoreDriver:
    config = RunConfig(project="bs", repo="/sim", max_concurrency=3)
    d = CoreDriver(specs_from(PLAN), config=config, seed=1)
    d.start()
    return d


def test_a_batch_schedules_once_after_its_last_event() -> None:
    d = _driver()
    started = list(d.outstanding)
    assert len(started) == 3  # three worktrees, the cap
    results = [d.execute(e, "ok") for e in started]
    decisions = decide_batch(d.state, results)
    # The handlers ran: every worktree is recorded, and only the last decision has effects.
    assert [len(x.effects) for x in decisions[:-1]] == [0, 0]
    assert all(t.worktree for t in decisions[-1].state.tasks.values() if t.id in "abc")
    turns = [e for e in decisions[-1].effects if isinstance(e, fx.RunAgent)]
    assert sorted(e.task for e in turns) == ["a", "b", "c"]
    # Event by event with the same marks: the same decisions.
    state = d.state
    for result, batched, scheduling in zip(results, decisions, (False, False, True), strict=True):
        one = decide(state, result, scheduling=scheduling)
        assert one == batched
        state = one.state


def test_a_batch_of_one_is_decide() -> None:
    d = _driver()
    result = d.execute(next(iter(d.outstanding)), "ok")
    assert decide_batch(d.state, [result]) == [decide(d.state, result)]
    assert decide_batch(d.state, []) == []


def test_a_deferred_event_gives_the_effects_it_asks_for_itself() -> None:
    """Not the scheduler's, but those the event itself makes: notifications."""
    config = RunConfig(project="bs", repo="/sim", max_concurrency=1, notify_on=("attention",))
    d = CoreDriver(specs_from({"a": []}), config=config, seed=1)
    d.start()
    effect_id = next(iter(d.outstanding))
    failed = ev.StepFailed(at=d.now, effect_id=effect_id, task="a", error="no", retryable=False)
    deferred = decide(d.state, failed, scheduling=False)
    assert [type(e) for e in deferred.effects] == [fx.Notify]
    assert deferred.state.tasks["a"].in_flight == ""


def test_a_waiting_sender_has_the_scheduler_after_its_event() -> None:
    """The engine's rule, in the core (it was written out in the engine alone): the
    scheduler runs after the batch's last event and after each whose sender waits."""
    d = _driver()
    results = [d.execute(e, "ok") for e in list(d.outstanding)]
    decisions = decide_batch(d.state, results, waiting=[0])
    assert [x.scheduled for x in decisions] == [True, False, True]
    first = decide(d.state, results[0])
    assert decisions[0] == first
    assert any(isinstance(e, fx.RunAgent) for e in first.effects)
    # The flags are what a replay decides with: the same decisions again.
    flags = [(r, x.scheduled) for r, x in zip(results, decisions, strict=True)]
    assert list(decide_each(d.state, flags)) == decisions


def test_the_driver_records_the_batch_as_decided() -> None:
    d = _driver()
    ids = list(d.outstanding)
    for effect_id in ids:
        d.execute(effect_id, "ok")
    before = len(d.scheduled)
    decisions = d.deliver_batch(ids)
    assert d.scheduled[before:] == [x.scheduled for x in decisions] == [False, False, True]
    assert d.replayed() == d.state
