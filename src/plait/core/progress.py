"""Whole-run facts derived from state: is the run settled, what it sums up to."""

from __future__ import annotations

from dataclasses import dataclass

from plait.core.model import Phase, RunState, Usage
from plait.core.task import attention_reason


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
    due = [t.retry_at for t in state.tasks.values() if t.retry_at > state.now]
    due += [c.until for c in state.cooldowns.values() if c.until > state.now]
    delay = state.config.merge_delay
    due += [
        t.ready_since + delay
        for t in state.tasks.values()
        if t.ready_since and t.ready_since + delay > state.now
    ]
    return min(due) if due else None


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
