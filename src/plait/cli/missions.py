"""Missions from the command line: `plait mission`, and the tree `plait ps --tree` draws.

A mission goes through the project's API like `plait add` (queued in the inbox when no
engine runs). Inside a mission's agent, PLAIT_PROJECT names the project and
PLAIT_TASK_ID the mission, so `plait mission "…" --parent $PLAIT_TASK_ID` spawns a child.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from plait import exits
from plait.api.client import ProjectAPI, open_api
from plait.api.views import FINAL
from plait.cli.common import (
    add_json_flag,
    add_project_flag,
    print_json,
    read_text_file,
    seconds,
    seconds_or_zero,
)
from plait.core.plan import LANDINGS, RESTART_POLICIES
from plait.engine.project import open_project
from plait.errors import UsageError
from plait.plans.blueprint import Blueprint, parse_blueprint

Row = dict[str, Any]


def mission_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The API fields of `plait mission`'s flags (also used by `schedule add --mission`)."""
    fields: dict[str, Any] = {"prompt": _prompt(args)}
    if args.cwd:
        where = Path(args.cwd).expanduser().resolve()
        if not where.is_dir():
            raise UsageError(
                f"{args.cwd} is not a directory", hint="--cwd takes an existing folder"
            )
        fields["cwd"] = str(where)
    for key in ("name", "parent", "agent", "model", "landing", "restart"):
        value = getattr(args, key, None)
        if value:
            fields[key] = value
    for key in ("max_restarts", "window", "backoff", "activity_timeout"):
        value = getattr(args, key, None)
        if value is not None:
            fields[key] = value
    if args.allowed_tools:
        fields["allowed_tools"] = [t for arg in args.allowed_tools for t in _split(arg)]
    if args.port:
        fields["ports"] = list(args.port)
    if args.lead:
        fields["lead"] = True
    return fields


def _prompt(args: argparse.Namespace) -> str:
    if args.file:
        return read_text_file(args.file)
    if not args.prompt:
        raise UsageError(
            "a mission needs a prompt", hint='plait mission "what to do" (or --file F)'
        )
    return str(args.prompt)


def _split(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part]


def through_api(project: str | None, call: Callable[[ProjectAPI], Row]) -> Row:
    """`call` on the project's API (its engine's, or its store's), closing both after."""
    proj = open_project(project)
    api = open_api(proj)
    try:
        return call(api)
    finally:
        api.close()
        proj.close()


def cmd_mission(args: argparse.Namespace) -> int:
    if args.script:
        # One file per project, keyed by task id: a mission's turns are scripted in it.
        raise UsageError(
            "a mission takes no --script: the script agent's file is a project setting",
            hint="give it when the project is made (`plait init --script FILE`) and script "
            'the mission\'s turns in that file under its id, e.g. {"tasks": {"m1": …}}',
        )
    fields = mission_fields(args)
    reply = through_api(args.project, lambda api: api.add_mission(fields))
    tid = str(reply.get("task", ""))
    row: Row = next((r for r in reply.get("tasks", []) if r.get("id") == tid), {})
    name = row.get("name") or ""
    if args.json:
        print_json({"id": tid, "name": name or None, "queued": reply.get("queued", False),
                    "message": reply["message"]})  # fmt: skip
    else:
        print(reply["message"])  # "mission m1 (slow-build) started", queued or not
    return exits.OK


def read_blueprint(path: str, pairs: Sequence[str] | None) -> Blueprint:
    """The blueprint at `path` with `--var key=value` pairs, validated (file:line errors)."""
    variables: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--var {pair!r} is not key=value", hint="--var resource=orders")
        variables[key.strip()] = value
    text = read_text_file(path)
    return parse_blueprint(text, path, variables=variables)


def cmd_apply(args: argparse.Namespace) -> int:
    blueprint = read_blueprint(args.blueprint, args.var)
    wire = blueprint.to_wire()
    if args.parent:
        wire["parent"] = args.parent
    reply = through_api(args.project, lambda api: api.add_team(wire))
    if args.json:
        print_json(reply)
    else:
        print(reply["message"])
        for row in reply.get("tasks", [])[1:]:
            after = ", ".join(row.get("depends_on") or []) if isinstance(row, dict) else ""
            print(f"  {row['id']}" + (f" (after {after})" if after else ""))
    return exits.OK


def add_mission_flags(p: argparse.ArgumentParser, *, name: bool = True) -> None:
    """The flags of a mission (`plait mission`; without the name and parent, which a
    scheduled run takes from its schedule, `plait schedule add --mission`)."""
    p.add_argument("--file", help="read the prompt from this file")
    if name:
        p.add_argument(
            "--name", help="a readable name, unique in the project (default: from the prompt)"
        )
        p.add_argument("--parent", metavar="MISSION", help="the mission this one works for")
    p.add_argument("--agent", help="the agent backend (default: the project's)")
    p.add_argument("--model", help="the agent's model")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--cwd", metavar="DIR", help="work in DIR as it is: no worktree, no branch")
    where.add_argument(
        "--worktree", action="store_true", help="work in a worktree of its own (the default)"
    )
    p.add_argument(
        "--landing",
        choices=[x for x in LANDINGS if x != "watch"],
        help="none: the answer is the result (default); pr: open a PR and merge it",
    )
    p.add_argument("--restart", choices=RESTART_POLICIES, help="when to restart its agent (never)")
    p.add_argument("--max-restarts", type=int, metavar="N", help="restarts allowed per window (3)")
    p.add_argument("--window", type=seconds, metavar="S", help="the restart budget's window (600)")
    p.add_argument("--backoff", type=seconds_or_zero, metavar="S", help="first restart delay (1)")
    p.add_argument(
        "--activity-timeout",
        type=seconds,
        metavar="S",
        help="stop the agent after S seconds of silence (then the restart policy applies)",
    )
    p.add_argument(
        "--allowed-tools",
        action="append",
        metavar="TOOLS",
        help="the only tools the agent may use, e.g. 'Read,Grep,Bash(git *)' (claude)",
    )
    p.add_argument("--port", action="append", metavar="SERVICE", help="hand it a port (repeatable)")
    p.add_argument(
        "--lead",
        action="store_true",
        help="a lead agent: it splits the goal into child missions and reconciles them",
    )


# ---- ps --tree -----------------------------------------------------------------------------
def tree_rows(rows: Sequence[Row], *, show_all: bool) -> list[tuple[str, Row]]:
    """Rows in tree order with the drawing before each id. Without `show_all`, landed
    rows are left out unless a row still shown hangs under them."""
    by_id = {str(r["id"]): r for r in rows}
    keep = set(by_id) if show_all else {i for i, r in by_id.items() if r["status"] not in FINAL}
    for tid in list(keep):
        parent = by_id[tid].get("parent")
        while parent and parent in by_id and parent not in keep:
            keep.add(parent)
            parent = by_id[parent].get("parent")
    kids: dict[str, list[str]] = {}
    roots: list[str] = []
    for r in rows:
        tid, parent = str(r["id"]), r.get("parent")
        if tid not in keep:
            continue
        if parent and parent in keep:
            kids.setdefault(str(parent), []).append(tid)
        else:
            roots.append(tid)
    out: list[tuple[str, Row]] = []
    for root in roots:
        out.extend(_draw(root, "", "", kids, by_id))
    return out


def _draw(
    tid: str, lead: str, more: str, kids: dict[str, list[str]], rows: dict[str, Row]
) -> Iterable[tuple[str, Row]]:
    stack = [(tid, lead, more)]
    while stack:  # iterative: a deep tree of missions must not hit the recursion limit
        node, first, rest = stack.pop()
        yield first + node, rows[node]
        below = kids.get(node, [])
        for i, child in reversed(list(enumerate(below))):
            last = i == len(below) - 1
            stack.append(
                (child, rest + ("└─ " if last else "├─ "), rest + ("   " if last else "│  "))
            )


def register(sub: Any) -> None:
    mission = sub.add_parser(
        "mission",
        help="start a mission: an agent on a prompt, its answer the result; prints id and name",
        description="Start an agent on a prompt as a mission of the project. Its final "
        "answer is the result (`plait result ID`); `plait wait ID` returns its agent's exit "
        "code. It works in a worktree of its own, or with --cwd in a folder as it is. Its "
        "agent is the project's unless --agent names another; the script agent plays the "
        "project's script file (`plait init --script FILE`), under the mission's id.",
    )
    mission.add_argument("prompt", nargs="?", help="what the agent should do")
    add_mission_flags(mission)
    mission.add_argument("--script", help=argparse.SUPPRESS)  # refused with a hint
    add_project_flag(mission)
    add_json_flag(mission, "print {id, name, …} as JSON")
    mission.set_defaults(handler=cmd_mission)

    apply = sub.add_parser(
        "apply",
        help="start a blueprint's team: a parent mission whose agents follow their depends_on",
        description="Validate a blueprint (TOML: [agents.NAME] with a prompt or a command, "
        "agent, model, cwd or worktree, restart policy, depends_on, landing) and start it as "
        "a team: a parent mission whose members run as their dependencies allow, independent "
        "ones in parallel. `plait wait` and `plait kill --cascade` on the team cover them all.",
    )
    apply.add_argument("blueprint", help="the blueprint file (.toml)")
    apply.add_argument("--var", action="append", metavar="KEY=VALUE", help="set ${KEY}")
    apply.add_argument("--parent", metavar="MISSION", help="the mission this team works for")
    add_project_flag(apply)
    add_json_flag(apply)
    apply.set_defaults(handler=cmd_apply)
