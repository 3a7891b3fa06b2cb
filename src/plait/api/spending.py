"""What a project spends, and what it may: the totals every face shows, broken down by
agent backend and by plan, with the budgets — and what `plait budget` prints.

Totals include what the turns under way have used so far (`live`, from the running
engine); whether a budget is reached is the core's verdict over finished turns only,
since a turn under way is never cut short for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plait.api.commands import BadRequest, Command, CommandError, resolve_task
from plait.core import events as ev
from plait.core.budget import (
    project_limit,
    project_over,
    reached,
    spent,
    task_limit,
    task_over,
    task_status,
    waiting_on_budget,
)
from plait.core.model import Budget, Phase, RunState, TaskState, Usage
from plait.core.money import usd
from plait.core.task import agent_of

Json = dict[str, Any]


def budget_json(b: Budget) -> Json:
    """A limit as the faces show it: null where there is none."""
    return {"tokens": b.tokens or None, "dollars": b.dollars or None}


def over_budget_word(state: RunState) -> str:
    return "over-budget" if project_over(state) else ""


def _used(t: TaskState, live: Mapping[str, Usage]) -> Usage:
    extra = live.get(t.id)
    return t.usage + extra if extra is not None else t.usage


def _add(into: dict[str, Json], key: str, usage: Usage, turns: int) -> None:
    row = into.setdefault(key, {"tasks": 0, "turns": 0, "tokens": 0, "cost_usd": 0.0})
    row["tasks"] += 1
    row["turns"] += turns
    row["tokens"] += usage.total_tokens
    row["cost_usd"] = round(row["cost_usd"] + usage.cost_usd, 6)


def spending(state: RunState, live: Mapping[str, Usage]) -> Json:
    """Tokens and cost of the whole project, by backend and by plan, and its budget."""
    by_agent: dict[str, Json] = {}
    by_plan: dict[str, Json] = {}
    total = Usage()
    for t in state.tasks.values():
        used = _used(t, live)
        total = total + used
        _add(by_agent, agent_of(state, t.id), used, t.turns)
        _add(by_plan, state.specs[t.id].plan or state.title or "-", used, t.turns)
    counted = spent(state)
    return {
        "tokens": total.total_tokens,
        "cost_usd": round(total.cost_usd, 6),
        "by_agent": by_agent,
        "by_plan": by_plan,
        "budget": {
            **budget_json(project_limit(state)),
            "counted_tokens": counted.tokens,
            "counted_usd": round(counted.dollars, 6),
            "over": project_over(state) or None,
            "task_default": budget_json(state.config.task_budget),
        },
    }


def task_budget(state: RunState, t: TaskState, live: Mapping[str, Usage]) -> Json:
    used = _used(t, live)
    return {
        "id": t.id,
        "status": task_status(state, t),
        **budget_json(task_limit(state, t)),
        "own": budget_json(t.budget),
        "tokens_used": used.total_tokens,
        "cost_usd": round(used.cost_usd, 6),
        "over": task_over(state, t) or None,
        "waiting": waiting_on_budget(state, t) or None,
    }


def budget_view(state: RunState, live: Mapping[str, Usage], task: str | None = None) -> Json:
    """What `plait budget` shows: the project's limits and spending, and each task that
    has a limit of its own or has reached one (or just `task`)."""
    if task is not None:
        return {
            "project": state.config.project,
            "task": task_budget(state, state.tasks[task], live),
        }
    default = state.config.task_budget
    tasks = [
        task_budget(state, t, live)
        for t in state.tasks.values()
        if t.budget != Budget() or ((default.tokens or default.dollars) and task_over(state, t))
    ]
    return {"project": state.config.project, **spending(state, live), "tasks": tasks}


# ---- `plait budget --tokens N --dollars D [--task T]` ------------------------------------
def set_budget(
    state: RunState,
    ref: str | None,
    *,
    tokens: object = None,
    dollars: object = None,
    now: float,
) -> Command:
    """A `BudgetSet` for the task `ref` (or the project): checked, and said in words."""
    if tokens is None and dollars is None:
        raise BadRequest("say what to set", hint="plait budget [--task T] --tokens N --dollars D")
    change = Budget(tokens=_tokens(tokens), dollars=_dollars(dollars))
    tid = ""
    if ref:
        tid = resolve_task(state, ref)
        if state.tasks[tid].phase is Phase.MERGED:
            raise CommandError(f"task {tid} has landed: it takes no more turns",
                               hint="set the project's budget: leave out --task")  # fmt: skip
    event = ev.BudgetSet(at=now, task=tid, tokens=change.tokens, dollars=change.dollars)
    return Command(event, tid, _said(state, tid, change))


def _tokens(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest(f"tokens must be a whole number, 0 or more, not {value!r}",
                         hint="--tokens 2000000 (0: no limit)")  # fmt: skip
    return value


def _dollars(value: object) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0 <= float(value) < float("inf"):  # type: ignore[arg-type]
        raise BadRequest(f"dollars must be an amount, 0 or more, not {value!r}",
                         hint="--dollars 25 (0: no limit)")  # fmt: skip
    return float(value)  # type: ignore[arg-type]


def _said(state: RunState, tid: str, change: Budget) -> str:
    """What the command did, and whether the work may go on now."""
    if tid:
        t = state.tasks[tid]
        limit = change.over(t.budget).over(state.config.task_budget)
        used, whose = (t.usage.total_tokens, t.usage.cost_usd), f"task {tid}"
    else:
        limit = change.over(state.budget).over(state.config.budget)
        total = spent(state)
        used, whose = (total.tokens, total.dollars), "the project"
    words = f"budget of {whose}: {_limit(limit)}"
    still = reached(limit, *used)
    if not still:
        return words
    # Said the same whether it was raised too little or lowered below what was spent.
    held = "its new agent turns wait" if tid else "no new agent turn starts"
    return f"{words} — already reached ({still}): {held} until it is above that"


def _limit(b: Budget) -> str:
    parts = [f"{b.tokens:,} tokens" if b.tokens else "", usd(b.dollars) if b.dollars else ""]
    return " and ".join(p for p in parts if p) or "no limit"
