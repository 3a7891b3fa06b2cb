"""Whole-run facts derived from state: is the run settled, what it sums up to."""

from __future__ import annotations

from dataclasses import dataclass

from plait.core.model import Phase, RunState, TaskState, Usage
from plait.core.task import attention_reason
from plait.core.taskmap import TaskMap


def stuck_tasks(state: RunState) -> set[str]:
    """Tasks that cannot move without a human: needing attention, or waiting on one."""
    stuck: set[str] = set()
    memo: dict[str, bool] = {}

    def is_stuck(tid: str) -> bool:
        if tid in memo:
            return memo[tid]
        t = state.tasks[tid]
        if t.phase is Phase.MERGED:
            result = False
        elif attention_reason(t, state.config):
            result = True
        elif t.phase is Phase.WAITING:
            result = any(is_stuck(d) for d in state.specs[tid].depends_on)
        else:
            result = False
        memo[tid] = result
        return result

    for tid in state.order:
        if is_stuck(tid):
            stuck.add(tid)
    return stuck


def settled(state: RunState) -> bool:
    """Nothing under way and nothing that can happen without a human."""
    if isinstance(state.tasks, TaskMap):
        # While a run moves, some live task is under way or active and not stuck: say so
        # without the whole-plan walk below (which gives the same answer, slower).
        for tid in state.tasks.live_ids():
            t = state.tasks[tid]
            if t.in_flight or (t.phase is Phase.ACTIVE and not attention_reason(t, state.config)):
                return False
    stuck = stuck_tasks(state)
    for tid in state.order:
        t = state.tasks[tid]
        if t.in_flight:
            return False
        if t.phase is Phase.MERGED or tid in stuck:
            continue
        return False
    return True


def all_merged(state: RunState) -> bool:
    return all(t.phase is Phase.MERGED for t in state.tasks.values())


def next_wakeup(state: RunState) -> float | None:
    """The earliest time a retry becomes due, if any."""
    tasks = _timed_tasks(state)
    due = [t.retry_at for t in tasks if t.retry_at > state.now]
    due += [c.until for c in state.cooldowns.values() if c.until > state.now]
    delay = state.config.merge_delay
    due += [
        t.ready_since + delay for t in tasks if t.ready_since and t.ready_since + delay > state.now
    ]
    return min(due) if due else None


def _timed_tasks(state: RunState) -> list[TaskState]:
    """Tasks that may hold a retry or merge timer: with an index, only the live ones (a
    task with either timer set is live by definition)."""
    tasks = state.tasks
    if isinstance(tasks, TaskMap):
        return [tasks[tid] for tid in tasks.live_ids()]
    return list(tasks.values())


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
