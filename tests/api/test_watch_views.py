"""What the faces get of budgets, notifications and the conflict warning: task rows, the
project summary, `plait budget`'s checks and words, the event stream and headless lines
(pure: states from the simulated core, no engine)."""

from __future__ import annotations

import pytest

from plait.api.commands import BadRequest, CommandError
from plait.api.server import event_json
from plait.api.spending import budget_view, set_budget
from plait.api.views import project_summary, task_detail, task_row
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import Budget, Overlap, RunConfig, Usage
from plait.core.notices import KINDS
from plait.core.plan import TaskSpec
from plait.testing.core_driver import CoreDriver
from plait.ui.headless import event_messages

SPECS = [
    TaskSpec(id="a", title="do a", plan="p1", files=("x.py",)),
    TaskSpec(id="b", title="do b", plan="p2", agent="codex"),
]


def _driver(**config: object) -> CoreDriver:
    return CoreDriver(SPECS, config=RunConfig(project="p", repo="/r", **config))  # type: ignore[arg-type]


def test_rows_and_summary_carry_spending_budgets_and_overlaps() -> None:
    d = _driver(task_budget=Budget(tokens=1000), budget=Budget(dollars=5.0))
    d.script("a", "RunAgent", "fail")
    d.run()
    d.feed(ev.OverlapsChanged(at=d.now, task="b", overlaps=(Overlap(paths=("y.py",)),)))
    a = task_row(d.st, d.st.tasks["a"])
    assert a["status"] == "over-budget"
    assert a["budget"] == {"tokens": 1000, "dollars": None}
    assert "1,200 of 1,000 tokens used" in a["over_budget"]
    assert task_detail(d.st, d.st.tasks["a"])["files"] == ["x.py"]
    live = {"a": Usage(input_tokens=50, cost_usd=0.5)}
    summary = project_summary(d.st, engine=True, live=live)
    assert summary["state"] == "needs-attention"
    assert summary["tokens"] == 1200 + 50 + 1200  # b landed with one turn; a's turn under way
    assert summary["by_agent"]["codex"]["turns"] == 1
    assert summary["by_plan"]["p1"]["tokens"] == 1250
    assert summary["budget"]["dollars"] == 5.0
    assert summary["budget"]["counted_tokens"] == 2400
    assert summary["budget"]["over"] is None


def test_a_project_over_its_budget_says_so() -> None:
    d = _driver(budget=Budget(tokens=1000), max_concurrency=1)
    d.run()
    summary = project_summary(d.st, engine=False)
    assert summary["state"] == "over-budget"
    assert summary["budget"]["over"].startswith("the project's budget is reached")
    view = budget_view(d.st, {})
    assert view["budget"]["tokens"] == 1000


def test_plait_budget_checks_what_it_is_given_and_says_what_it_did() -> None:
    d = _driver(task_budget=Budget(tokens=1000))
    d.script("a", "RunAgent", "fail")
    d.run()
    still = set_budget(d.st, "a", tokens=1100, now=d.now)
    assert isinstance(still.event, ev.BudgetSet)
    # Found trying plait: a budget lowered below what was spent said "raise it further".
    assert still.done == (
        "budget of task a: 1,100 tokens — already reached (1,200 of 1,100 tokens used): its "
        "new agent turns wait until it is above that"
    )
    lowered = set_budget(d.st, None, dollars=0.001, now=d.now)
    assert lowered.done == (
        "budget of the project: $0.001 — already reached ($0.02 of $0.001 spent): no new "
        "agent turn starts until it is above that"
    )
    raised = set_budget(d.st, "do a", tokens=5000, dollars=2, now=d.now)
    assert raised.event == ev.BudgetSet(at=d.now, task="a", tokens=5000, dollars=2.0)
    assert raised.done == "budget of task a: 5,000 tokens and $2.00"
    assert set_budget(d.st, None, tokens=0, now=d.now).done == "budget of the project: no limit"
    with pytest.raises(BadRequest):
        set_budget(d.st, "a", now=d.now)
    with pytest.raises(BadRequest):
        set_budget(d.st, "a", tokens=-1, now=d.now)
    with pytest.raises(BadRequest):
        set_budget(d.st, "a", dollars=True, now=d.now)
    with pytest.raises(CommandError, match="has landed"):
        set_budget(d.st, "b", tokens=5, now=d.now)


def test_the_event_stream_carries_notifications_and_lines_say_what_changed() -> None:
    d = _driver(notify_on=KINDS, failure_cap=1)
    d.script("a", "RunAgent", "fail")
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "a")))
    old = d.st
    [turn] = d.pending(fx.RunAgent, "a")
    decision = d.answer(turn.id)
    messages = event_json(d.log[-1], old, decision.state, decision.effects, seq=7)
    [notice] = messages[0]["notify"]
    assert (notice["kind"], notice["task"]) == ("attention", "a")
    assert "NEEDS ATTENTION" in messages[0]["message"]
    before = d.st
    overlaps = (Overlap(task="b", paths=("x.py",)), Overlap(paths=("README.md",)))
    d.feed(ev.OverlapsChanged(at=d.now, task="a", overlaps=overlaps))
    lines = event_messages(d.log[-1], before, d.st, ())
    assert lines == [("a", "may conflict: with task b in x.py; with main in README.md")]
    budget = ev.BudgetSet(at=d.now, task="a", tokens=0, dollars=3.0)
    d.feed(budget)
    lines = event_messages(budget, d.st, d.st, ())
    assert lines == [("a", "budget of task a set: no token limit, $3.00")]
    failed = ev.NotificationSent(at=d.now, effect_id="n", task="a", ok=False, error="HTTP 500")
    d.feed(failed)
    assert event_messages(failed, d.st, d.st, ()) == [
        ("a", "a notification was not delivered: HTTP 500")
    ]
