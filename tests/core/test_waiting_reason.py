"""What `waits_for` says of a task under a dependency that stopped for good."""

from __future__ import annotations

from plait.core import events as ev
from plait.core.model import RunConfig
from plait.core.plan import TaskSpec
from plait.core.waiting import waiting_reason
from plait.testing.core_driver import CoreDriver


def test_a_task_under_a_stopped_dependency_says_it_is_stopped() -> None:
    """Seen in a new-user trial: `ps` said "after a" as if `a` would start in its turn."""
    specs = [
        TaskSpec(id="x", title="do x"),
        TaskSpec(id="a", title="do a"),
        TaskSpec(id="b", title="do b", depends_on=("a",)),
        # x unlocks more, so x takes the one slot and a waits
        TaskSpec(id="y", title="do y", depends_on=("x",)),
        TaskSpec(id="z", title="do z", depends_on=("x",)),
    ]
    d = CoreDriver(specs, config=RunConfig(project="sim", repo="/sim/repo", max_concurrency=1))
    d.start()
    assert waiting_reason(d.st, d.st.tasks["b"]) == "after a"
    d.feed(ev.TaskKilled(at=d.now, task="a"))
    assert d.st.tasks["a"].stopped
    assert waiting_reason(d.st, d.st.tasks["b"]) == "after a (stopped)"
