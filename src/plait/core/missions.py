"""Missions in the core: restart policies, mission trees and teams. Pure, no I/O.

A mission is a task with a restart policy (`TaskSpec.restart`, "never" included) and,
usually, landing "none": the agent's exit ends it (done, or failed with its exit code) or
restarts it. Restarts are timed on the event clock: exponential backoff, and a budget of
at most `max_restarts` restarts within any sliding `window` of seconds.

Missions form trees through `TaskSpec.parent`: `kill --cascade` stops a subtree children
first. A *team* (a blueprint's parent, `TaskSpec.team`) runs nothing itself: it depends on
its children and is done the moment they all are.
"""

from __future__ import annotations

from collections.abc import Mapping

from plait.core.effects import Launch
from plait.core.model import RunState
from plait.core.plan import Restart, TaskSpec

# Failures no restart can fix without a person (not logged in, no permission, or the
# agent broke one of plait's rules — it touched main — and would do so again).
HOPELESS = frozenset({"auth", "permission", "forbidden"})


def is_mission(spec: TaskSpec) -> bool:
    return spec.restart is not None


def plan_restart(
    policy: Restart, history: tuple[float, ...], now: float, *, ok: bool, failure: str = ""
) -> tuple[float, tuple[float, ...]] | None:
    """When the mission restarts after its agent ended (`ok` or with `failure`), and the
    restart times to keep; None when the policy or the budget says it ends here.

    The n-th restart inside the window waits `backoff * 2**n` seconds; restarts older
    than the window no longer count against the budget.
    """
    wanted = policy.policy == "always" or (policy.policy == "on-failure" and not ok)
    if not wanted or (not ok and failure in HOPELESS):
        return None
    recent = tuple(t for t in history if t > now - policy.window)
    if len(recent) >= policy.max_restarts:
        return None
    due = now + policy.backoff * 2 ** len(recent)
    return due, (*recent, due)


def why_it_ended(policy: Restart, *, failure: str) -> str:
    """The words for a mission that failed and will not restart."""
    if policy.policy == "never":
        return "restart policy never"
    if failure in HOPELESS:
        return "a restart cannot fix this"
    return f"restart budget spent ({policy.max_restarts} in {policy.window:g}s)"


def children(specs: Mapping[str, TaskSpec], order: tuple[str, ...], task_id: str) -> list[str]:
    return [tid for tid in order if specs[tid].parent == task_id]


def subtree(state: RunState, root: str) -> tuple[str, ...]:
    """`root` and every mission under it, children before their parents (depth first)."""
    kids: dict[str, list[str]] = {}
    for tid in state.order:
        parent = state.specs[tid].parent
        if parent:
            kids.setdefault(parent, []).append(tid)
    out: list[str] = []
    seen: set[str] = set()
    stack: list[tuple[str, bool]] = [(root, False)]
    while stack:  # iterative: a long chain of missions must not hit the recursion limit
        node, expanded = stack.pop()
        if expanded:
            out.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(kids.get(node, [])))
    return tuple(out)


def launch_of(state: RunState, task_id: str) -> Launch | None:
    """What the agent run of `task_id` needs beyond a turn; None for a plain task."""
    spec = state.specs[task_id]
    plain = not (
        is_mission(spec)
        or spec.cwd
        or spec.ports
        or spec.allowed_tools
        or spec.command
        or spec.activity_timeout
        or spec.name
        or spec.parent
    )
    if plain:
        return None
    return Launch(
        name=spec.name or spec.id,
        parent=spec.parent,
        in_place=bool(spec.cwd),
        idle_timeout=spec.activity_timeout,
        allowed_tools=spec.allowed_tools,
        ports=spec.ports,
        command=spec.command,
    )


def start_template(spec: TaskSpec) -> str:
    """The start prompt's template: the spec's own, "mission" for a mission, else none."""
    return spec.template or ("mission" if is_mission(spec) else "")
