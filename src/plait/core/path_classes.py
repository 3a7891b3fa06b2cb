"""Classes by path: a task joins a class when the files its branch changes match the
class's `paths` (`[classes.E2E] paths = ["e2e/**"]`), and that class's cap holds it.

Semantics. A task's changed files are known once it has pushed a head (after its first
turn, when its PR opens): `risk_gate`'s assessment of each new head records the path
classes it matches (`TaskState.path_classes`, from `git diff base..head`, the same files
the PR shows). From then on the task counts in those classes besides its own label class:
- its further agent turns (CI fixes, review answers, conflicts, the reviewer's turns)
  take a slot of each class and wait while one of them is at its cap;
- its merge waits while as many tasks of one of its classes are merging as the cap allows
  (an exclusive class: one merge at a time, so the next one is judged on the new main).
Before its first head nothing is known, so a class by path never holds a first start.
The waiting reason names the class and why the task is in it. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

from plait.core.model import AGENT_OPS, OpKind, Phase, RunState, TaskState


def classes_of(state: RunState, task_id: str) -> tuple[str, ...]:
    """The task's classes: its own (by label or plan), then those its paths put it in."""
    cls = state.specs[task_id].task_class
    own = (cls,) if cls else ()
    return own + by_path(state, task_id)


def by_path(state: RunState, task_id: str) -> tuple[str, ...]:
    """The classes only its paths put it in (besides its own). Cheap without path classes:
    the scheduler asks for every slot it counts."""
    if not state.config.class_paths:
        return ()
    found = state.tasks[task_id].path_classes
    return tuple(c for c in found if c != state.specs[task_id].task_class) if found else ()


def _merging(t: TaskState) -> bool:
    return t.current is not None and t.current.kind is OpKind.MERGE


def merging_held(state: RunState, tasks: Mapping[str, TaskState], t: TaskState) -> bool:
    """Would merging `t` now exceed the cap of one of its classes by path?"""
    caps = state.config.class_caps
    mine = [c for c in t.path_classes if c in caps]
    if not mine:
        return False
    for cls in mine:
        busy = sum(
            1
            for o in tasks.values()
            if o.id != t.id and _merging(o) and cls in classes_of(state, o.id)
        )
        if busy >= caps[cls]:
            return True
    return False


def _wants_turn(t: TaskState) -> bool:
    if t.in_flight:
        return False
    if t.current is not None:
        return t.current.kind in AGENT_OPS and t.step in ("workspace", "agent")
    return any(op.kind in AGENT_OPS for op in t.queue)


def _in_turn(t: TaskState) -> bool:
    if t.step == "verdict":
        return True
    return (
        t.current is not None and t.current.kind in AGENT_OPS and t.step in ("workspace", "agent")
    )


def active_reason(state: RunState, t: TaskState) -> str:
    """Why a started task's next turn waits on a class cap ("" when it does not)."""
    if t.phase is not Phase.ACTIVE or t.stopped or not _wants_turn(t):
        return ""
    caps = state.config.class_caps
    capped = [c for c in classes_of(state, t.id) if c in caps]
    if not capped:
        return ""
    busy = [o for o in state.tasks.values() if o.in_flight and _in_turn(o)]
    for cls in capped:
        same = sum(1 for o in busy if cls in classes_of(state, o.id))
        if same >= caps[cls]:
            why = _by_paths(state, cls) if cls in t.path_classes else ""
            return f"class {cls}{why} at its cap ({same} of {caps[cls]} running)"
    return ""


def merge_reason(state: RunState, t: TaskState) -> str:
    """Why a mergeable task's merge waits on a class by path ("" when it does not)."""
    caps = state.config.class_caps
    for cls in t.path_classes:
        if cls not in caps:
            continue
        same = sum(
            1
            for o in state.tasks.values()
            if o.id != t.id and _merging(o) and cls in classes_of(state, o.id)
        )
        if same >= caps[cls]:
            why = _by_paths(state, cls)
            return f"class {cls}{why} at its cap ({same} of {caps[cls]} merging)"
    return ""


def _by_paths(state: RunState, cls: str) -> str:
    globs = state.config.class_paths.get(cls, ())
    return f" (changes {', '.join(globs)})" if globs else ""
