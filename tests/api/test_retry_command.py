"""`plait retry` says when there is nothing to retry, instead of "goes again"."""

from __future__ import annotations

import pytest

from plait.api import commands
from plait.core.model import RunConfig
from plait.core.plan import TaskSpec
from plait.errors import PlaitError
from plait.testing.core_driver import CoreDriver


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
