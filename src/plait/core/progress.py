"""Whole-run facts derived from state: is the run settled, what it sums up to."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from plait.core.budget import project_over, waiting_on_budget
from plait.core.holding import hold_ends
from plait.core.model import Phase, RunState, TaskState, Usage
from plait.core.overlap import holders
from plait.core.task import attention_reason
from plait.core.taskmap import TaskMap, indexed_tasks, live_tasks


def stuck_tasks(state: RunState) -> set[str]:
    """Tasks that cannot move without a human: needing attention, stopped, held by a
    budget, or waiting on one (a task not started whose dependency is stuck, or that the
    overlap hint holds behind a stuck one; a stacked task with nothing of its own to do
    whose base is stuck)."""
    is_stuck = _stuck_judge(state)
    return {tid for tid in state.order if is_stuck(tid)}


def _stuck_judge(state: RunState) -> Callable[[str], bool]:
    memo: dict[str, bool] = {}
    over = project_over(state)
    # Tasks that may hold others back by their files (none when the hint is off).
    active = _live(state) if state.config.hold_overlapping else []

    def blockers(t: TaskState) -> tuple[str, ...] | bool:
        """The verdict, when it needs no other task; else the tasks it waits on."""
        if t.phase is Phase.MERGED:
            return False
        if t.stopped or attention_reason(t, state.config):
            return True
        if waiting_on_budget(state, t, project=over):
            return True
        if t.phase is Phase.WAITING:
            held = holders(state, t.id, active, state.tasks)
            return (*state.specs[t.id].depends_on, *held)
        idle = not t.in_flight and t.current is None and not t.queue
        if idle and t.stacked_on is not None:
            return (t.stacked_on,)
        return False

    def is_stuck(root: str) -> bool:
        # Iterative: a chain of 10,000 waiting tasks must not hit the recursion limit.
        stack = [root]
        while stack:
            tid = stack[-1]
            if tid in memo:
                stack.pop()
                continue
            waits = blockers(state.tasks[tid])
            if isinstance(waits, bool):
                memo[tid] = waits
                stack.pop()
                continue
            todo = [d for d in waits if d not in memo]
            if todo:
                stack.extend(todo)
                continue
            memo[tid] = any(memo[d] for d in waits)
            stack.pop()
        return memo[root]

    return is_stuck


def _live(state: RunState) -> list[str]:
    tasks = state.tasks
    return tasks.live_ids() if isinstance(tasks, TaskMap) else list(state.order)


def settled(state: RunState) -> bool:
    """Nothing under way and nothing that can happen without a human."""
    is_stuck = _stuck_judge(state)
    if isinstance(state.tasks, TaskMap):
        # While a run moves, some live task is under way or active and not stuck: say so
        # without the whole-plan walk below (which gives the same answer, slower).
        for tid in state.tasks.live_ids():
            t = state.tasks[tid]
            if t.in_flight or (t.phase is Phase.ACTIVE and not is_stuck(tid)):
                return False
    for tid in state.order:
        t = state.tasks[tid]
        if t.in_flight:
            return False
        if t.phase is Phase.MERGED or is_stuck(tid):
            continue
        return False
    return True


def tasks_settled(state: RunState, ids: Iterable[str]) -> bool:
    """Every one of `ids` has landed or cannot move without a human (what `plait run`
    waits for when it follows one plan's tasks in a live project)."""
    is_stuck = _stuck_judge(state)
    for tid in ids:
        t = state.tasks.get(tid)
        if t is None:
            continue
        if t.in_flight or not (t.phase is Phase.MERGED or is_stuck(tid)):
            return False
    return True


def all_merged(state: RunState) -> bool:
    return all(t.phase is Phase.MERGED for t in state.tasks.values())


def next_wakeup(state: RunState) -> float | None:
    """The earliest time a retry becomes due, if any."""
    tasks = _timed_tasks(state)
    due = [t.retry_at for t in tasks if t.retry_at > state.now]
    due += [c.until for c in state.cooldowns.values() if c.until > state.now]
    # A swarm worker resting between two cycles may claim again then.
    due += [w.idle_until for w in state.swarm.workers.values() if w.idle_until > state.now]
    delay = state.config.merge_delay
    due += [
        t.ready_since + delay for t in tasks if t.ready_since and t.ready_since + delay > state.now
    ]
    # A slot kept for a landing task's dependents is given away when its hold ends.
    if state.config.hold_for_dependents > 0:
        indexed = indexed_tasks(state)
        due += hold_ends(state, indexed.live_ids(), indexed.shape)
    return min(due) if due else None


def _timed_tasks(state: RunState) -> list[TaskState]:
    """Tasks that may hold a retry or merge timer: with an index, only the live ones (a
    task with either timer set is live by definition)."""
    return live_tasks(state)


@dataclass(frozen=True, slots=True)
class Totals:
    usage: Usage
    turns: int
    merged: int
    tasks: int


def totals(state: RunState) -> Totals:
    usage = Usage()
    turns = 0
    for t in state.tasks.values():
        usage = usage + t.usage
        turns += t.turns
    merged = sum(1 for t in state.tasks.values() if t.phase is Phase.MERGED)
    return Totals(usage=usage, turns=turns, merged=merged, tasks=len(state.tasks))
