"""Budgets in the core: reaching one holds new agent turns (never the one under way), the
task or project shows `over-budget` and counts as waiting on a person, and `BudgetSet`
lets the turns go on. The simulated agent uses 1,200 tokens and $0.01 per turn."""

from __future__ import annotations

from dataclasses import replace

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.budget import OVER_BUDGET, project_over, spent, task_status, waiting_on_budget
from plait.core.model import Budget, Phase, RunConfig
from plait.core.progress import settled, stuck_tasks
from plait.core.taskmap import indexed_tasks
from plait.testing.core_driver import CoreDriver, specs_from

TURN_TOKENS = 1200


def _config(**kw: object) -> RunConfig:
    return RunConfig(project="p", repo="/r", **kw)  # type: ignore[arg-type]


def _status(d: CoreDriver, task: str) -> str:
    return task_status(d.st, d.st.tasks[task])


def test_a_task_stops_taking_turns_at_its_budget_and_goes_on_once_raised() -> None:
    d = CoreDriver(specs_from({"a": []}), config=_config(task_budget=Budget(tokens=1000)))
    d.script("a", "RunAgent", "fail")  # the first turn fails, and uses the budget up
    d.run()
    a = d.st.tasks["a"]
    assert a.turns == 1
    assert a.phase is Phase.ACTIVE
    assert _status(d, "a") == OVER_BUDGET
    assert "1,200 of 1,000 tokens" in waiting_on_budget(d.st, a)
    assert settled(d.st)  # a foreground run ends: this waits on a person
    assert stuck_tasks(d.st) == {"a"}
    d.tick(3600.0)
    assert not d.outstanding
    d.feed(ev.BudgetSet(at=d.now, task="a", tokens=10_000))
    assert d.pending(fx.RunAgent, "a")
    state = d.run()
    assert state.tasks["a"].phase is Phase.MERGED
    assert state.tasks["a"].turns == 2


def test_the_turn_under_way_finishes_and_its_work_still_lands() -> None:
    # The project may spend one turn and a bit: a and b start together, b's turn goes over
    # the budget, both still land; c (after both) never starts until the budget is raised.
    cfg = _config(max_concurrency=2, budget=Budget(tokens=TURN_TOKENS + 100))
    d = CoreDriver(specs_from({"a": [], "b": [], "c": ["a", "b"]}), config=cfg)
    d.run()
    assert d.st.tasks["a"].phase is Phase.MERGED
    assert d.st.tasks["b"].phase is Phase.MERGED
    assert d.st.tasks["c"].phase is Phase.WAITING
    assert not d.decided(fx.Effect, "c")
    assert "2,400 of 1,300 tokens" in project_over(d.st)
    assert _status(d, "c") == OVER_BUDGET
    assert settled(d.st)
    d.feed(ev.BudgetSet(at=d.now, tokens=0))  # 0: no limit
    assert d.run().tasks["c"].phase is Phase.MERGED


def test_a_dollar_budget_holds_feedback_turns_too() -> None:
    d = CoreDriver(specs_from({"a": []}), config=_config(task_budget=Budget(dollars=0.01)))
    d.script("a", "ci", "fail")
    d.run()
    a = d.st.tasks["a"]
    assert a.turns == 1
    assert a.queue or a.current is not None  # the CI fix waits for its turn
    assert "$0.01 of $0.01 spent" in waiting_on_budget(d.st, a)
    d.feed(ev.BudgetSet(at=d.now, task="a", dollars=1.0))
    state = d.run()
    assert state.tasks["a"].phase is Phase.MERGED
    assert state.tasks["a"].turns == 2


def test_a_budget_set_by_command_wins_over_the_config_and_keeps_what_it_does_not_name() -> None:
    d = CoreDriver(specs_from({"a": []}), config=_config(task_budget=Budget(tokens=5, dollars=1.0)))
    d.start()
    d.feed(ev.BudgetSet(at=d.now, task="a", tokens=50))
    d.feed(ev.BudgetSet(at=d.now, task="a", dollars=2.0))
    assert d.st.tasks["a"].budget == Budget(tokens=50, dollars=2.0)
    d.feed(ev.BudgetSet(at=d.now, task="nope", tokens=1))  # unknown: ignored
    d.feed(ev.BudgetSet(at=d.now, dollars=9.0))
    assert d.st.budget == Budget(dollars=9.0)


def test_a_hard_reset_keeps_what_was_spent_and_the_tasks_budget() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.start()
    d.feed(ev.BudgetSet(at=d.now, task="a", tokens=TURN_TOKENS * 3))
    d.run(until=lambda s: s.tasks["a"].pr is not None)
    d.reset("a", hard=True)
    t = d.st.tasks["a"]
    assert t.usage.total_tokens == TURN_TOKENS
    assert t.budget == Budget(tokens=TURN_TOKENS * 3)


def test_the_project_total_kept_by_the_index_equals_a_fresh_sum() -> None:
    d = CoreDriver(specs_from({"a": [], "b": ["a"], "c": []}), seed=3)
    d.script("b", "RunAgent", "fail")
    d.run()
    kept = spent(d.st)
    plain = replace(d.st, tasks=dict(d.st.tasks))  # no index: summed afresh
    rebuilt = indexed_tasks(plain)
    assert kept == spent(plain)
    assert (rebuilt.spent_tokens, rebuilt.spent_nanos) == (kept.tokens, round(kept.dollars * 1e9))
    assert kept.tokens == TURN_TOKENS * 4
