"""LandingRouted (replay-only): a risk rule handed a PR task's merge to a person (`watch`)
or back. Nothing emits it now; older logs carry it and must replay the same."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import plait
from plait.core import events as ev
from plait.core.controller import decide
from plait.core.model import Phase, RunConfig, RunState
from plait.core.plan import TaskSpec
from plait.store import Store, replay


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


def test_an_old_log_carrying_it_decodes_and_replays_to_the_landing_it_routed(
    tmp_path: Path,
) -> None:
    """Nothing emits LandingRouted any more; a store written before does carry it."""
    assert ev.LandingRouted in ev.LEGACY_EVENTS
    start = ev.RunStarted(
        at=1.0, config=RunConfig(project="p", repo="/r"), tasks=(TaskSpec(id="t1", title="t"),)
    )
    store = Store(tmp_path / "store.db")
    store.commit(start, None, decide(None, start).state, ())
    # The row exactly as an older plait wrote it.
    old = '{"type": "LandingRouted", "at": 2.0, "task": "t1", "landing": "watch", "reason": "r"}'
    store.db.execute("INSERT INTO events(seq, at, type, body) VALUES (2, 2.0, 'LandingRouted', ?)",
                     (old,))  # fmt: skip
    store.close()
    reopened = Store(tmp_path / "store.db")
    events = [event for _, event in reopened.events()]
    assert events[1] == ev.LandingRouted(at=2.0, task="t1", landing="watch", reason="r")
    state = replay(reopened)
    assert state is not None
    assert state.specs["t1"].landing == "watch"
    reopened.close()


def test_no_code_emits_a_legacy_event() -> None:
    """Only the decoder, the replay handler and the log's wording may name them."""
    src = Path(plait.__file__).parent
    for legacy in ev.LEGACY_EVENTS:
        made = re.compile(rf"\b{legacy.__name__}\(\s*at=")
        emitters = [p for p in src.rglob("*.py") if made.search(p.read_text())]
        assert emitters == [], f"{legacy.__name__} is replay-only, yet {emitters} make one"
