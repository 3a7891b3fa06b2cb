"""The scheduling hint of the early conflict warning: with `hold_overlapping` on, a task
whose declared `files` overlap those of a task under way waits until that one lands.

Declared files are what the plan says a task will touch, so two tasks that say they edit
the same file do not run side by side and collide at merge time. A path names a file or a
folder: `src/api` overlaps `src/api/views.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from plait.core.model import Phase, RunState, TaskState


def _norm(path: str) -> str:
    return path.strip().removeprefix("./").rstrip("/")


def paths_overlap(a: Iterable[str], b: Iterable[str]) -> tuple[str, ...]:
    """The paths of `a` that are, hold or sit inside a path of `b`."""
    theirs = [p for p in map(_norm, b) if p]
    out: list[str] = []
    for mine in map(_norm, a):
        if not mine:
            continue
        if any(
            mine == other or mine.startswith(other + "/") or other.startswith(mine + "/")
            for other in theirs
        ):
            out.append(mine)
    return tuple(dict.fromkeys(out))


def holders(
    state: RunState, task_id: str, candidates: Iterable[str], tasks: Mapping[str, TaskState]
) -> tuple[str, ...]:
    """Which `candidates`, active in `tasks`, hold `task_id` back (none unless the hint
    is on). The scheduler passes the tasks as its pass has changed them so far."""
    files = state.specs[task_id].files
    if not state.config.hold_overlapping or not files:
        return ()
    return tuple(
        other
        for other in candidates
        if other != task_id
        and tasks[other].phase is Phase.ACTIVE
        and paths_overlap(files, state.specs[other].files)
    )
