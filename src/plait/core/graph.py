"""The dependency graph: AND semantics, stacking, and critical-path ordering.

A task may start when every dependency has merged. With stacking, it may also start when
exactly one dependency is still open and that dependency's PR is ready for review (CI green,
not a draft): the task then works on top of the dependency's branch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from plait.core.model import CIStatus, Phase, TaskState
from plait.core.plan import TaskSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class Readiness:
    ready: bool
    stacked_on: str | None = None  # dependency whose branch to start from


NOT_READY = Readiness(ready=False)


def critical_path(specs: Iterable[TaskSpec]) -> dict[str, int]:
    """Length (sum of weights) of the longest chain from each task to the end of the plan.

    Starting the task with the longest remaining chain first keeps the makespan short.
    """
    by_id = {s.id: s for s in specs}
    dependents: dict[str, list[str]] = {i: [] for i in by_id}
    for s in by_id.values():
        for d in s.depends_on:
            if d in dependents:
                dependents[d].append(s.id)
    memo: dict[str, int] = {}
    # Iterative post-order: plans can be deep (10,000 tasks in a chain).
    for root in by_id:
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if node in memo:
                continue
            if expanded:
                tail = max((memo[c] for c in dependents[node]), default=0)
                memo[node] = by_id[node].weight + tail
                continue
            stack.append((node, True))
            stack.extend((c, False) for c in dependents[node] if c not in memo)
    return memo


def pr_is_review_ready(task: TaskState) -> bool:
    pr = task.pr
    return (
        task.phase is Phase.ACTIVE
        and pr is not None
        and pr.state == "open"
        and not pr.draft
        and pr.ci is CIStatus.PASSED
        and pr.head_sha == task.head_sha
        and task.current is None
    )


def readiness(spec: TaskSpec, tasks: Mapping[str, TaskState], *, stacked: bool) -> Readiness:
    open_deps = [d for d in spec.depends_on if tasks[d].phase is not Phase.MERGED]
    if not open_deps:
        return Readiness(ready=True)
    if stacked and len(open_deps) == 1:
        dep = tasks[open_deps[0]]
        # Never stack on a stacked task: a chain of unlanded bases multiplies rebases.
        # And the base must already hold every other dependency (merged before the base
        # branch last took main), or the child would start without their changes.
        landed = [tasks[d] for d in spec.depends_on if d != dep.id]
        if (
            pr_is_review_ready(dep)
            and dep.stacked_on is None
            and all(m.finished_at <= dep.based_at for m in landed)
        ):
            return Readiness(ready=True, stacked_on=dep.id)
    return NOT_READY


def has_cycle(specs: Iterable[TaskSpec]) -> bool:
    """Do the dependencies among `specs` form a cycle? (Dependencies outside are ignored.)"""
    by_id = {s.id: s for s in specs}
    indegree = dict.fromkeys(by_id, 0)
    dependents: dict[str, list[str]] = {i: [] for i in by_id}
    for s in by_id.values():
        for d in dict.fromkeys(s.depends_on):
            if d in by_id:
                indegree[s.id] += 1
                dependents[d].append(s.id)
    ready = [i for i, n in indegree.items() if n == 0]
    seen = 0
    while ready:
        node = ready.pop()
        seen += 1
        for child in dependents[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return seen != len(by_id)
