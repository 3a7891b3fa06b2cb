"""What `waits_for` says of a task under a dependency that stopped for good."""

from __future__ import annotations

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import RunConfig
from plait.core.plan import TaskSpec
from plait.core.task import display_status
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


def test_a_task_under_a_started_dependency_says_it_waits_for_it() -> None:
    """Found trying plait: under a dependency that had started (at work, or stopped
    since), `ps` said nothing of why the task waited: only unstarted ones were named."""
    specs = [TaskSpec(id="a", title="do a"), TaskSpec(id="b", title="do b", depends_on=("a",))]
    d = CoreDriver(specs, config=RunConfig(project="sim", repo="/sim/repo"))
    d.start()
    assert d.st.tasks["a"].in_flight
    assert waiting_reason(d.st, d.st.tasks["b"]) == "after a"
    d.feed(ev.TaskKilled(at=d.now, task="a"))
    assert waiting_reason(d.st, d.st.tasks["b"]) == "after a (stopped)"


def test_a_worktree_made_ahead_waits_for_a_slot_as_starting() -> None:
    """A start whose worktree was made while the one agent slot was busy has no agent at
    work: it is "starting", held by the slots, not "working"."""
    specs = [TaskSpec(id="a", title="do a"), TaskSpec(id="b", title="do b")]
    config = RunConfig(project="sim", repo="/sim/repo", max_concurrency=1, prepare_ahead=1)
    d = CoreDriver(specs, config=config)
    d.start()
    for _ in range(4):  # both worktrees made; a's agent at work
        for effect in d.pending(fx.PrepareWorkspace):
            d.answer(effect.id, "ok")
    assert [e.task for e in d.pending(fx.RunAgent)] == ["a"]
    b = d.st.tasks["b"]
    assert b.step == "agent"
    assert display_status(b, d.config) == "starting"
    assert display_status(d.st.tasks["a"], d.config) == "working"
    assert waiting_reason(d.st, b) == "1 of 1 agent slots busy (max_concurrency)"
