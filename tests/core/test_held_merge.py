"""A merge held by something outside the task — the user's main checkout has uncommitted
changes, which plait never touches — waits for it, as README's Forges says ("the merge
waits and says why"): it is not the task's failure. Before, it counted as a merge failure
like any other, so a task needed a person after three tries in six seconds, and a swarm's
approved change was discarded, done again by a new agent turn and reviewed again, three
times over.

Driven through `CoreDriver` (the pure controller with a simulated engine around it)."""

from __future__ import annotations

from plait.core import effects as fx
from plait.core.model import Phase, RunConfig, RunState
from plait.core.plan import TaskSpec
from plait.core.task import attention_reason
from plait.core.waiting import waiting_reason
from plait.testing.core_driver import CoreDriver
from plait.testing.core_world import HELD_ERROR, Outcome
from plait.ui.headless import describe

CONFIG = RunConfig(project="p", repo="/r", agent="codex")
HELD: list[Outcome] = ["held"]


def _held_merges(d: CoreDriver, task: str, kind: type[fx.Effect], times: int) -> None:
    """Run until the task's merge has been held `times` times, checking on the way that
    it never needs a person and that `plait ps` says why it waits."""
    for n in range(1, times + 1):

        def tried(_: RunState, n: int = n) -> bool:
            return len(d.decided(kind, task)) == n and not d.pending(kind, task)

        d.run(until=tried)
        t = d.st.tasks[task]
        assert attention_reason(t, d.config) == ""
        assert t.counters.merge_failures == 0
        assert HELD_ERROR in waiting_reason(d.st, t)


def test_a_pr_merge_held_by_a_dirty_checkout_waits_then_merges() -> None:
    d = CoreDriver([TaskSpec(id="a", title="do a")], config=CONFIG)
    d.script("a", "Merge", *HELD * 5)
    _held_merges(d, "a", fx.Merge, 5)
    state = d.run()
    assert state.tasks["a"].phase is Phase.MERGED
    assert len(d.decided(fx.Merge, "a")) == 6
    assert len(d.decided(fx.RunAgent, "a")) == 1
    assert waiting_reason(state, state.tasks["a"]) == ""


def test_an_approved_merge_landing_held_by_a_dirty_checkout_keeps_its_work() -> None:
    d = CoreDriver([TaskSpec(id="m", title="do m", landing="merge")], config=CONFIG)
    d.script("m", "MergeToMain", *HELD * 5)
    _held_merges(d, "m", fx.MergeToMain, 5)
    assert d.st.tasks["m"].verdict == "approved"
    state = d.run()
    assert state.tasks["m"].phase is Phase.MERGED
    assert not d.decided(fx.Discard, "m")  # the approved work was never thrown away
    assert len(d.decided(fx.RunAgent, "m")) == 1
    assert len(d.decided(fx.RunReviewer, "m")) == 1


def test_a_held_merge_is_told_once_not_at_every_try() -> None:
    d = CoreDriver([TaskSpec(id="a", title="do a")], config=CONFIG)
    d.script("a", "Merge", *HELD * 3)
    said = []
    for _ in range(3):
        d.run(until=lambda s: bool(d.pending(fx.Merge, "a")))
        [merge] = d.pending(fx.Merge, "a")
        event = d.execute(merge.id)
        before = d.st
        said.append(describe(event, before, d.deliver(merge.id).state))
    assert said == [f"merge waits: {HELD_ERROR}", None, None]
