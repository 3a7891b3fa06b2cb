"""Agent slots kept free for the tasks a landing task is about to unlock.

Why. When a task's agent turn ends its slot is free at once, but the task's dependents
can start only once it lands (push, PR, CI, merge: a second or so on the local forge).
Giving the slot to whatever is startable at that instant starts a task with a shorter
critical path and leaves the dependents, often the critical path itself, to wait for the
next slot to free up: up to a whole agent turn later (P4 in bench/README.md).

So new starts leave a slot free for each such dependent that comes before them in the
start order, while its dependencies land, for at most `RunConfig.hold_for_dependents`
seconds after the dependency's last agent turn ended: a slow CI or a PR waiting for a
person does not keep a slot idle for long. Only PR landings hold (a merge landing's
reviewer turn takes a slot of its own); a swarm's workers claim by their own rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from plait.core.graph import readiness
from plait.core.model import AGENT_OPS, Phase, RunState, TaskState
from plait.core.task import attention_reason
from plait.core.taskmap import Shape


def agent_work_left(t: TaskState) -> bool:
    """Will the task need another agent turn before it can land?"""
    if t.current is not None and t.current.kind in AGENT_OPS and t.step in ("workspace", "agent"):
        return True
    return any(op.kind in AGENT_OPS for op in t.queue)


def landing(state: RunState, t: TaskState) -> bool:
    """Is `t` on its way to landing by itself, within the hold since its last turn?"""
    return (
        t.turn_ended_at + state.config.hold_for_dependents > state.now
        and t.phase is Phase.ACTIVE
        and state.specs[t.id].landing == "pr"
        and not t.stopped
        and not agent_work_left(t)
        and not attention_reason(t, state.config)
    )


def _holds(state: RunState) -> bool:
    return state.config.hold_for_dependents > 0 and not state.config.workers


def held_positions(
    state: RunState,
    tasks: Mapping[str, TaskState],
    live: Iterable[str],
    shape: Shape,
) -> list[int]:
    """Start positions (sorted) of the waiting tasks that become startable as soon as
    the tasks landing now land: one slot is kept for each of them. A task that is
    startable already is not waited for, it is simply started in its turn."""
    if not _holds(state):
        return []
    # The hold's time test inline before `landing`: most live tasks fail it (P2).
    now, hold = state.now, state.config.hold_for_dependents
    dependents = shape.dependents
    soon: dict[str, None] = {}
    for tid in live:
        if dependents[tid]:
            t = tasks[tid]
            if t.turn_ended_at + hold > now and landing(state, t):
                soon[tid] = None
    if not soon:
        return []
    coming: set[int] = set()
    specs, config, start_position = state.specs, state.config, shape.start_position
    for tid in soon:
        for child in dependents[tid]:
            position = start_position[child]
            if position in coming:
                continue
            c = tasks[child]
            if c.phase is not Phase.WAITING:
                continue
            spec = specs[child]
            # Cheap tests first: this runs on every schedule with a start to make.
            open_deps = [d for d in spec.depends_on if tasks[d].phase is not Phase.MERGED]
            if not open_deps or not soon.keys() >= set(open_deps):
                continue  # startable already, or it waits for more than what lands now
            if c.stopped or c.carried_by or spec.team or attention_reason(c, config):
                continue
            stacked = config.stacked
            if stacked and readiness(spec, tasks, stacked=stacked).ready:
                continue  # here already (stacked on its dependency's ready PR)
            coming.add(position)
    return sorted(coming)


def hold_ends(state: RunState, live: Iterable[str], shape: Shape) -> list[float]:
    """When the holds of the tasks landing now run out (a slot may be given away then)."""
    if not _holds(state):
        return []
    hold = state.config.hold_for_dependents
    return [
        state.tasks[tid].turn_ended_at + hold
        for tid in live
        if shape.dependents[tid] and landing(state, state.tasks[tid])
    ]
