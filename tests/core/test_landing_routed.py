"""LandingRouted: a risk rule hands a PR task's merge to a person (`watch`) or back."""

from __future__ import annotations

from dataclasses import replace

from plait.core import events as ev
from plait.core.controller import decide
from plait.core.model import Phase, RunConfig, RunState
from plait.core.plan import TaskSpec


def _state(landing: str = "pr") -> RunState:
    spec = TaskSpec(id="t1", title="t", landing=landing)
    first = ev.RunStarted(at=1.0, config=RunConfig(project="p", repo="/r"), tasks=(spec,))
    return decide(None, first).state


def test_a_pr_task_is_routed_to_a_persons_merge_and_back() -> None:
    state = decide(_state(), ev.LandingRouted(at=2.0, task="t1", landing="watch")).state
    assert state.specs["t1"].landing == "watch"
    back = decide(state, ev.LandingRouted(at=3.0, task="t1", landing="pr")).state
    assert back.specs["t1"].landing == "pr"


def test_other_landings_unknown_tasks_and_landed_tasks_are_left_alone() -> None:
    def landing(state: RunState, task: str, to: str) -> str:
        return (
            decide(state, ev.LandingRouted(at=2.0, task=task, landing=to)).state.specs["t1"].landing
        )

    assert landing(_state("merge"), "t1", "watch") == "merge"
    pr = _state()
    assert landing(pr, "t1", "none") == "pr"
    assert landing(pr, "nope", "watch") == "pr"
    landed = replace(pr, tasks={"t1": replace(pr.tasks["t1"], phase=Phase.MERGED)})
    assert (
        decide(landed, ev.LandingRouted(at=2.0, task="t1", landing="watch"))
        .state.specs["t1"]
        .landing
        == "pr"
    )
