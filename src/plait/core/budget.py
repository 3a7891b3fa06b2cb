"""Budgets: when a task, or the whole project, has spent what it may.

Derived, never stored: a task is over budget when what it has used reaches its limit (its
own, set by `plait budget --task`, else the config's per-task default), and the project
when all its tasks together reach the project's. The scheduler starts no agent turn for a
task over budget, or in a project over budget; a turn under way always finishes, and the
git and forge steps after it (push, PR, merge) go on. Raising a limit (`BudgetSet`) is all
it takes for the turns to go on. A task held this way counts as waiting on a person, so a
foreground run settles instead of waiting for ever.
"""

from __future__ import annotations

from dataclasses import dataclass

from plait.core.model import AGENT_OPS, Budget, Phase, RunState, TaskState
from plait.core.money import usd
from plait.core.task import display_status, next_op
from plait.core.taskmap import TaskMap, nanos

OVER_BUDGET = "over-budget"
# Statuses that say more than "over budget" would (the task is not waiting for a turn).
_FIRM = frozenset({"merged", "done", "resetting", "stopped", "needs-attention"})


@dataclass(frozen=True, slots=True)
class Spent:
    tokens: int
    dollars: float


def task_limit(state: RunState, t: TaskState) -> Budget:
    own = t.budget
    if own.tokens is None and own.dollars is None:
        return state.config.task_budget  # the common case: nothing of its own
    return own.over(state.config.task_budget)


def project_limit(state: RunState) -> Budget:
    return state.budget.over(state.config.budget)


def spent(state: RunState) -> Spent:
    """What all the tasks have used: kept by the task index, summed without one."""
    tasks = state.tasks
    if isinstance(tasks, TaskMap):
        return Spent(tasks.spent_tokens, tasks.spent_nanos / 1e9)
    used = [t.usage for t in tasks.values()]
    return Spent(sum(u.total_tokens for u in used), sum(nanos(u.cost_usd) for u in used) / 1e9)


def reached(limit: Budget, tokens: int, dollars: float) -> str:
    """Which limit `tokens` and `dollars` have reached, in words; "" when neither."""
    if limit.tokens and tokens >= limit.tokens:
        return f"{tokens:,} of {limit.tokens:,} tokens used"
    if limit.dollars and dollars >= limit.dollars:
        return f"{usd(dollars)} of {usd(limit.dollars)} spent"
    return ""


def task_over(state: RunState, t: TaskState) -> str:
    why = reached(task_limit(state, t), t.usage.total_tokens, t.usage.cost_usd)
    return f"its budget is reached: {why}" if why else ""


def project_over(state: RunState) -> str:
    # Read without making the limit first: asked for every narrated event and every
    # scheduling, and most projects set no budget (P2).
    own, default = state.budget, state.config.budget
    if not (default.tokens if own.tokens is None else own.tokens) and not (
        default.dollars if own.dollars is None else own.dollars
    ):
        return ""
    limit = project_limit(state)
    total = spent(state)
    why = reached(limit, total.tokens, total.dollars)
    return f"the project's budget is reached: {why}" if why else ""


def over_budget(state: RunState, t: TaskState, *, project: str | None = None) -> str:
    """Why no new turn of `t` may start ("" when one may). `project`: the project's
    verdict, when the caller has it already."""
    return task_over(state, t) or (project_over(state) if project is None else project)


def wants_turn(t: TaskState) -> bool:
    """Whether the next thing the task would do is start an agent turn."""
    if t.in_flight or t.phase is Phase.MERGED:
        return False
    if t.phase is Phase.WAITING:
        return True
    if t.current is not None:
        return t.current.kind in AGENT_OPS and t.step in ("workspace", "agent")
    upcoming = next_op(t)
    return upcoming is not None and upcoming.kind in AGENT_OPS


def waiting_on_budget(state: RunState, t: TaskState, *, project: str | None = None) -> str:
    """Why the task waits for a person to raise a budget, or "" when it does not."""
    return over_budget(state, t, project=project) if wants_turn(t) else ""


def task_status(state: RunState, t: TaskState, *, project: str | None = None) -> str:
    """The task's display status, with `over-budget` when a budget holds its next turn."""
    word = display_status(t, state.config, landing=state.specs[t.id].landing)
    if word in _FIRM:
        return word
    return OVER_BUDGET if waiting_on_budget(state, t, project=project) else word
