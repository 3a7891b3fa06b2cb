"""`plait retry` says when there is nothing to retry, instead of "goes again"."""

from __future__ import annotations

from dataclasses import replace

import pytest

from plait.api import commands
from plait.core.budget import task_status
from plait.core.model import Budget, RunConfig
from plait.core.plan import TaskSpec
from plait.errors import PlaitError
from plait.testing.core_driver import CoreDriver, specs_from


def test_a_task_at_work_has_nothing_to_retry_until_it_is_stopped() -> None:
    d = CoreDriver([TaskSpec(id="a", title="do a")], config=RunConfig(project="p", repo="/r"))
    d.start()
    assert d.st.tasks["a"].in_flight
    # It answered "a goes again" and recorded a TaskRetried that changed nothing.
    with pytest.raises(PlaitError) as err:
        commands.retry(d.st, "a", now=d.now)
    assert err.value.message == "task a is starting; there is nothing to retry"
    assert "`plait kill a` stops it" in (err.value.hint or "")
    d.feed(commands.kill(d.st, "a", now=d.now).event)
    assert commands.retry(d.st, "a", now=d.now).done == "a goes again"


def test_retrying_a_task_under_a_stopped_dependency_names_the_one_to_retry() -> None:
    """Found trying plait: `plait retry b` under a stopped `a` (a had started) said "b is
    waiting" and offered to kill, reset or message b, none of which moves it."""
    specs = [TaskSpec(id="a", title="do a"), TaskSpec(id="b", title="do b", depends_on=("a",)),
             TaskSpec(id="c", title="do c", depends_on=("b",))]  # fmt: skip
    d = CoreDriver(specs, config=RunConfig(project="p", repo="/r"))
    d.start()
    assert d.st.tasks["a"].in_flight
    d.feed(commands.kill(d.st, "a", now=d.now).event)
    for waiting in ("b", "c"):
        with pytest.raises(PlaitError) as err:
            commands.retry(d.st, waiting, now=d.now)
        assert err.value.message == f"task {waiting} is waiting; there is nothing to retry"
        assert err.value.hint == (
            "it waits for a, which is stopped: `plait retry a` (or `plait reset a`) lets it move"
        )


def test_retrying_a_task_over_its_budget_says_the_budget_holds_it() -> None:
    """Found trying plait: a task over its own budget was "starting" to `plait retry`
    (nothing to retry) while `plait ps` showed it `over-budget`, with no word of the
    budget; and a retry of it needing attention answered "goes again" though no turn
    could start."""
    cfg = RunConfig(project="p", repo="/r", task_budget=Budget(tokens=1000))
    d = CoreDriver(specs_from({"a": []}), config=cfg)
    d.script("a", "RunAgent", "fail")  # the first turn fails and uses 1,200 tokens
    d.run()
    d.tick(3600.0)  # past the failed turn's back-off: only the budget holds it now
    assert task_status(d.st, d.st.tasks["a"]) == "over-budget"
    with pytest.raises(PlaitError) as err:
        commands.retry(d.st, "a", now=d.now)
    assert err.value.message == "task a is over-budget; there is nothing to retry"
    assert err.value.hint == (
        "its budget is reached: 1,200 of 1,000 tokens used — raise it with "
        "`plait budget --task a --tokens N` (or --dollars D)"
    )
    d.feed(commands.kill(d.st, "a", now=d.now).event)
    assert commands.retry(d.st, "a", now=d.now).done == (
        "a goes again once its budget allows: its budget is reached: 1,200 of 1,000 tokens "
        "used — raise it with `plait budget --task a --tokens N` (or --dollars D)"
    )


def test_retrying_under_a_reached_project_budget_names_the_project_budget() -> None:
    cfg = RunConfig(project="p", repo="/r", budget=Budget(tokens=1000))
    d = CoreDriver(specs_from({"a": [], "b": []}), config=replace(cfg, max_concurrency=1))
    d.run()  # a's turn goes over the project's budget; b never starts
    assert task_status(d.st, d.st.tasks["b"]) == "over-budget"
    d.feed(commands.kill(d.st, "b", now=d.now).event)
    assert commands.retry(d.st, "b", now=d.now).done == (
        "b goes again once its budget allows: the project's budget is reached: 1,200 of "
        "1,000 tokens used — raise it with `plait budget --tokens N` (or --dollars D)"
    )


def test_killing_a_task_that_never_started_promises_no_kept_work() -> None:
    """Found trying plait: `plait kill` of a task still waiting for its dependency said
    "its work and worktree are kept" — it had neither."""
    specs = [TaskSpec(id="a", title="do a"), TaskSpec(id="b", title="do b", depends_on=("a",))]
    d = CoreDriver(specs, config=RunConfig(project="p", repo="/r"))
    d.start()
    assert commands.kill(d.st, "b", now=d.now).done == (
        "stopped b; it does not start until `plait retry b`"
    )
    assert commands.kill(d.st, "a", now=d.now).done == "stopped a; its work and worktree are kept"
