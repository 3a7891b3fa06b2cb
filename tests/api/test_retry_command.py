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
