"""Dependency readiness (AND semantics, stacking) and critical-path start order."""

from __future__ import annotations

from dataclasses import replace

from plait.core import events as ev
from plait.core.controller import initial_state
from plait.core.graph import critical_path, readiness
from plait.core.model import CIStatus, Op, OpKind, Phase, PRView, RunConfig, TaskState
from plait.core.plan import TaskSpec

CONFIG = RunConfig(project="p", repo="/r")


def _spec(tid: str, *deps: str, weight: int = 1) -> TaskSpec:
    return TaskSpec(id=tid, title=tid, depends_on=deps, weight=weight)


def _review_ready(tid: str) -> TaskState:
    pr = PRView(number=1, draft=False, base="main", head_sha="h1", ci=CIStatus.PASSED)
    return TaskState(id=tid, phase=Phase.ACTIVE, branch=f"b/{tid}", head_sha="h1", pr=pr)


def test_ready_when_every_dependency_merged() -> None:
    tasks = {
        "a": TaskState(id="a", phase=Phase.MERGED),
        "b": TaskState(id="b", phase=Phase.MERGED),
    }
    r = readiness(_spec("c", "a", "b"), tasks, stacked=True)
    assert r.ready
    assert r.stacked_on is None


def test_not_ready_while_any_dependency_open() -> None:
    tasks = {"a": TaskState(id="a", phase=Phase.MERGED), "b": TaskState(id="b")}
    assert not readiness(_spec("c", "a", "b"), tasks, stacked=True).ready


def test_stacks_on_the_single_open_dependency_with_a_review_ready_pr() -> None:
    tasks = {"a": TaskState(id="a", phase=Phase.MERGED), "b": _review_ready("b")}
    r = readiness(_spec("c", "a", "b"), tasks, stacked=True)
    assert r.ready
    assert r.stacked_on == "b"
    assert not readiness(_spec("c", "a", "b"), tasks, stacked=False).ready


def test_no_stacking_on_two_open_dependencies() -> None:
    tasks = {"a": _review_ready("a"), "b": _review_ready("b")}
    assert not readiness(_spec("c", "a", "b"), tasks, stacked=True).ready


def test_no_stacking_on_a_pr_that_is_not_review_ready() -> None:
    ready = _review_ready("a")
    assert ready.pr is not None
    cases = [
        TaskState(id="a", phase=Phase.ACTIVE),  # no PR yet
        replace(ready, pr=replace(ready.pr, draft=True)),
        replace(ready, pr=replace(ready.pr, ci=CIStatus.PENDING)),
        replace(ready, head_sha="h2"),  # a newer head not pushed yet
        replace(ready, current=Op(kind=OpKind.REVIEW)),  # being worked on
        replace(ready, stacked_on="z"),  # never stack on a stacked task
    ]
    for dep in cases:
        assert not readiness(_spec("c", "a"), {"a": dep}, stacked=True).ready, dep


def test_critical_path_sums_weights_along_the_longest_chain() -> None:
    specs = [_spec("a"), _spec("b", "a", weight=3), _spec("c", "a"), _spec("d", "b", "c")]
    assert critical_path(specs) == {"d": 1, "b": 4, "c": 2, "a": 5}


def test_critical_path_handles_a_deep_chain() -> None:
    specs = [_spec("t0")] + [_spec(f"t{i}", f"t{i - 1}") for i in range(1, 5000)]
    assert critical_path(specs)["t0"] == 5000


def test_start_order_is_longest_path_first_then_plan_order() -> None:
    specs = (_spec("x"), _spec("y"), _spec("a"), _spec("b", "a"), _spec("c", "b"), _spec("z"))
    state = initial_state(ev.RunStarted(at=0.0, config=CONFIG, tasks=specs))
    assert state.start_order == ("a", "b", "x", "y", "c", "z")


def test_stacking_needs_the_base_to_hold_every_landed_dependency() -> None:
    from plait.core.graph import readiness
    from plait.core.model import CIStatus, Phase, PRView, TaskState
    from plait.core.plan import TaskSpec

    ready_pr = PRView(number=1, draft=False, ci=CIStatus.PASSED, head_sha="h")
    base = TaskState(id="a", phase=Phase.ACTIVE, head_sha="h", pr=ready_pr, based_at=100.0)
    child = TaskSpec(id="c", title="c", depends_on=("a", "b"))
    early = TaskState(id="b", phase=Phase.MERGED, finished_at=50.0)
    late = TaskState(id="b", phase=Phase.MERGED, finished_at=150.0)
    assert readiness(child, {"a": base, "b": early}, stacked=True).stacked_on == "a"
    # b landed after a's branch took main: stacking on a would miss b's change.
    assert not readiness(child, {"a": base, "b": late}, stacked=True).ready
