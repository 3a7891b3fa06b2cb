"""`plait budget`: what a project (or a task) has spent and may spend; with --tokens or
--dollars, set the limit (raising it lets paused turns go on)."""

from __future__ import annotations

import argparse
from typing import Any

from plait import exits
from plait.api.client import open_api
from plait.cli.common import (
    add_json_flag,
    add_project_flag,
    count_or_zero,
    dollars_or_zero,
    print_json,
    table,
)
from plait.core.money import usd
from plait.engine.project import open_project

Json = dict[str, Any]


def cmd_budget(args: argparse.Namespace) -> int:
    proj = open_project(args.project)
    api = open_api(proj)
    try:
        if args.tokens is None and args.dollars is None:
            view = api.budget(args.task)
            reply: Json = {}
        else:
            reply = api.set_budget(args.task, tokens=args.tokens, dollars=args.dollars)
            view = reply.get("budget") or api.budget(args.task)
    finally:
        api.close()
        proj.close()
    if args.json:
        print_json({**reply, "budget": view} if reply else view)
        return exits.OK
    if reply:
        print(reply["message"])
        if reply.get("queued"):
            return exits.OK
    print(render(view))
    return exits.OK


def _limit(limit: Json) -> str:
    parts = []
    if limit.get("tokens"):
        parts.append(f"{limit['tokens']:,} tokens")
    if limit.get("dollars"):
        parts.append(usd(limit["dollars"]))
    return " and ".join(parts) or "no limit"


def render(view: Json) -> str:
    task = view.get("task")
    if task is not None:
        return _render_task(task, view["project"])
    budget = view["budget"]
    lines = [
        f"project {view['project']}: {view['tokens']:,} tokens, {usd(view['cost_usd'])}; "
        f"budget: {_limit(budget)}; each task: {_limit(budget['task_default'])}"
    ]
    if budget.get("over"):
        raise_it = f"`plait budget -p {view['project']} --tokens N` or `--dollars D`"
        lines.append(f"  {budget['over']} — no new agent turn starts: raise it with {raise_it}")
    for title, key in (("agent", "by_agent"), ("plan", "by_plan")):
        rows = [
            (name, r["tasks"], r["turns"], f"{r['tokens']:,}", usd(r["cost_usd"]))
            for name, r in sorted(view[key].items())
        ]
        if rows:
            lines += ["", table((title, "tasks", "turns", "tokens", "cost"), rows)]
    if view["tasks"]:
        rows = [
            (t["id"], t["status"], _limit(t), f"{t['tokens_used']:,}", usd(t["cost_usd"]))
            for t in view["tasks"]
        ]
        lines += ["", table(("task", "status", "budget", "tokens", "cost"), rows)]
    return "\n".join(lines)


def _render_task(t: Json, project: str) -> str:
    line = (
        f"task {t['id']} ({t['status']}): {t['tokens_used']:,} tokens, {usd(t['cost_usd'])}; "
        f"budget: {_limit(t)}"
    )
    if t.get("waiting"):
        line += (
            f"\n  {t['waiting']} — raise it with "
            f"`plait budget -p {project} --task {t['id']} --tokens N` "
            "or `--dollars D`"
        )
    return line


def register(sub: Any) -> None:
    p = sub.add_parser(
        "budget",
        help="show what the project (or a task) spent and may spend; set a limit",
        description="Show tokens and cost by agent and by plan, and the budgets. With "
        "--tokens or --dollars, set the budget of the project (or of --task): reaching one "
        "pauses new agent turns, and raising it lets them go on. 0 means no limit.",
    )
    add_project_flag(p)
    p.add_argument("--task", metavar="TASK", help="the task (id, plan-local id or title prefix)")
    p.add_argument(
        "--tokens", type=count_or_zero, metavar="N", help="the token limit to set (0: none)"
    )
    p.add_argument(
        "--dollars", type=dollars_or_zero, metavar="D", help="the dollar limit to set (0: none)"
    )
    add_json_flag(p)
    p.set_defaults(handler=cmd_budget)
