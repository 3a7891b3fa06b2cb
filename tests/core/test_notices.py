"""Notifications in the core: one `Notify` effect when a fact a person cares about turns
true (needs attention, a PR ready for a human, a budget reached, the project idle), with
an id that a replay or a restart reproduces."""

from __future__ import annotations

from dataclasses import replace

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import decide
from plait.core.model import Budget, Phase, RunConfig, RunState
from plait.core.notices import KINDS
from plait.core.plan import TaskSpec
from plait.testing.core_driver import CoreDriver, specs_from

ALL = RunConfig(project="p", repo="/r", notify_on=KINDS)


def _notices(d: CoreDriver, kind: str | None = None) -> list[fx.Notify]:
    return [n for n in d.decided(fx.Notify) if kind is None or n.kind == kind]


def test_nothing_is_said_unless_the_project_asks() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.script("a", "RunAgent", "fail", "fail", "fail")
    d.run()
    assert not d.decided(fx.Notify)


def test_one_notification_per_needs_attention_episode() -> None:
    d = CoreDriver(specs_from({"a": []}), config=ALL)
    d.script("a", "RunAgent", "fail", "fail", "fail")
    d.run()
    [first] = _notices(d, "attention")
    assert first.task == "a"
    assert "agent failed to start the task 3 times" in first.text
    assert "plait send a" in first.text
    d.tick(600.0)  # still needing attention: nothing more is said
    assert len(_notices(d, "attention")) == 1
    d.script("a", "RunAgent", "fail", "fail", "fail")
    d.human("a", "try again")  # clears it; three more failures make a second episode
    d.run()
    second = _notices(d, "attention")[1]
    assert second.id != first.id
    assert len(_notices(d, "attention")) == 2


def test_ids_are_the_same_when_the_log_is_replayed() -> None:
    d = CoreDriver(specs_from({"a": [], "b": ["a"]}), config=ALL)
    d.script("b", "RunAgent", "fail", "fail", "fail")
    d.run()
    sent = [n.id for n in _notices(d)]
    assert sent
    state: RunState | None = None
    again: list[str] = []
    for event in d.log:
        decision = decide(state, event)
        state = decision.state
        again += [e.id for e in decision.effects if isinstance(e, fx.Notify)]
    assert again == sent
    assert len(set(sent)) == len(sent)


def test_a_restart_resends_what_was_not_confirmed_and_decides_nothing_new() -> None:
    d = CoreDriver(specs_from({"a": []}), config=ALL)
    d.script("a", "RunAgent", "fail", "fail", "fail")
    d.run(until=lambda s: bool(d.pending(fx.Notify)))
    [pending] = [n for n in d.pending(fx.Notify) if n.kind == "attention"]
    d.execute(pending.id)  # sent, but the engine dies before it records that
    d.crash()
    d.run()
    sent = [n.id for n in d.world.notified if n.kind == "attention"]
    assert sent == [pending.id, pending.id]  # the same id twice: the receiver drops one
    assert len(_notices(d, "attention")) == 1


def test_the_project_going_idle_is_said_once() -> None:
    d = CoreDriver(specs_from({"a": [], "b": []}), config=ALL)
    d.run()
    [idle] = _notices(d, "idle")
    assert idle.task == ""
    assert idle.text == "2 of 2 tasks landed."
    d.tick(60.0)
    assert len(_notices(d, "idle")) == 1
    d.add([TaskSpec(id="c", title="more")])
    d.run()
    assert len(_notices(d, "idle")) == 2


def test_a_watched_pr_that_turns_green_is_ready_for_a_human() -> None:
    d = CoreDriver([TaskSpec(id="w", title="watch me", landing="watch")], config=ALL)
    d.run(until=lambda s: bool(_notices(d, "ready")))
    d.tick(600.0)
    [ready] = _notices(d, "ready")
    assert ready.task == "w"
    assert "merging it is yours" in ready.text
    assert d.st.tasks["w"].phase is Phase.ACTIVE


def test_a_pr_waiting_out_its_merge_delay_is_ready_for_a_human() -> None:
    d = CoreDriver(specs_from({"a": []}), config=replace(ALL, merge_delay=300.0))
    d.run()
    [ready] = _notices(d, "ready")
    assert "merges it in 300s" in ready.text
    assert d.st.tasks["a"].phase is Phase.MERGED


def test_a_pr_that_merges_at_once_needs_no_human() -> None:
    d = CoreDriver(specs_from({"a": []}), config=ALL)
    d.run()
    assert not _notices(d, "ready")


def test_reaching_a_budget_is_said_once_for_the_task_and_once_for_the_project() -> None:
    cfg = replace(ALL, task_budget=Budget(tokens=1000), budget=Budget(tokens=2000))
    d = CoreDriver(specs_from({"a": [], "b": []}), config=cfg)
    d.run()
    budget = _notices(d, "budget")
    assert sorted(n.task for n in budget) == ["", "a", "b"]
    # The hint names the project: with several projects, `plait budget` alone is refused.
    assert all(f"plait budget -p {cfg.project} " in n.text for n in budget)
    d.feed(ev.BudgetSet(at=d.now, task="a", tokens=100_000))
    d.tick(1.0)
    assert len(_notices(d, "budget")) == 3
