"""`plait schedule add|list|remove|pause|resume`: cron schedules kept in the project.

The engine (`plait up`) fires them (see `plait.sources.schedules`); these commands only
edit the project's schedule table, which the running engine reads again every few
seconds, so no engine needs to run to add one.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from typing import Any

from plait import exits
from plait.agents.registry import BACKENDS
from plait.api.commands import add_task
from plait.api.missions import mission_spec
from plait.cli.common import add_json_flag, add_project_flag, print_json, table
from plait.cli.missions import add_mission_flags, mission_fields, read_blueprint
from plait.core.plan import task_id_problem
from plait.engine.project import Project, open_project
from plait.errors import ProjectError, UsageError
from plait.sources.schedules import NAME, new_schedule, status
from plait.store import schedules as book

NAME_MAX = 40  # a run's id is the name and a 16-character due time


def cmd_add(args: argparse.Namespace) -> int:
    chosen = [k for k in ("prompt", "blueprint", "task") if getattr(args, k)]
    if len(chosen) != 1:
        raise UsageError("say what the schedule starts", hint='one of --mission "prompt", '
                         '--blueprint FILE or --task "title"')  # fmt: skip
    proj = open_project(args.project)
    try:
        kind, payload = _what(args, proj)
        name = args.name or _default_name(args, payload)
        problem = task_id_problem(name)
        if problem or len(name) > NAME_MAX:
            why = problem or f"is longer than {NAME_MAX} characters"
            raise UsageError(f"schedule name {name!r} {why}", hint="--name nightly-tests")
        schedule = new_schedule(name, args.cron, kind, payload, tz=args.tz, catch_up=args.catch_up)
        if not book.add(proj.store, schedule):
            raise UsageError(
                f"schedule {name!r} exists", hint=f"`plait schedule remove {name}` first"
            )
        after = status(schedule, lambda _: None, now=time.time())["next"]
    finally:
        proj.close()
    print(f"schedule {name} added ({args.cron} {args.tz}); next run {_when(after)}")
    return exits.OK


def _default_name(args: argparse.Namespace, payload: dict[str, Any]) -> str:
    """The mission's prompt, the blueprint's name (its file's when it has none), the task's
    title — slugged."""
    from plait.core.plan import slugify

    text = args.prompt or args.task or payload.get("name") or ""
    return slugify(str(text), fallback="schedule")[:24].strip("-.") or "schedule"


def _what(args: argparse.Namespace, proj: Project) -> tuple[str, dict[str, Any]]:
    """What the schedule starts, checked now against the project as it is."""
    state = proj.store.load()
    if state is None:
        raise ProjectError(f"project {proj.name!r} has not started", hint="plait init")
    if args.blueprint:
        return "blueprint", read_blueprint(args.blueprint, args.var).to_wire()
    if args.task:
        fields: dict[str, Any] = {
            "title": args.task,
            "body": args.body or "",
            "landing": args.landing or "pr",
        }
        for key in ("agent", "model"):
            if getattr(args, key):
                fields[key] = getattr(args, key)
        add_task(state, {**fields, "id": "schedule-check"}, now=0.0, agents=tuple(BACKENDS))
        return "task", fields
    fields = mission_fields(args)
    fields.pop("name", None)  # each run is named after its due time
    check = {**fields, "id": "schedule-check", "name": "schedule-check"}
    mission_spec(state, check, agents=tuple(BACKENDS))
    return "mission", fields


def _when(at: float | None) -> str:
    return (
        "-" if at is None else datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    )


def cmd_list(args: argparse.Namespace) -> int:
    proj = open_project(args.project)
    try:
        store = proj.store
        rows = [
            status(s, lambda key: store.get_meta(f"source:{NAME}:{key}"), now=time.time())
            for s in book.all_schedules(store)
        ]
    finally:
        proj.close()
    if args.json:
        print_json(rows)
        return exits.OK
    if not rows:
        print('no schedules (add one with `plait schedule add "0 3 * * *" --mission "…"`)')
        return exits.OK
    print(
        table(
            ("name", "cron", "tz", "starts", "next", "fired", "skipped", "state"),
            (
                (
                    r["name"], r["cron"], r["tz"], f"{r['kind']}: {str(r['what'] or '')[:30]}",
                    _when(r["next"]), r["fired"], r["skipped"],
                    "paused" if r["paused"] else (f"error: {r['error']}" if r["error"] else "on"),
                )
                for r in rows
            ),
        )
    )  # fmt: skip
    return exits.OK


def _edit(args: argparse.Namespace, verb: str) -> int:
    proj = open_project(args.project)
    try:
        store = proj.store
        if verb == "remove":
            found = book.remove(store, args.name)
        else:
            found = book.set_paused(store, args.name, verb == "pause")
    finally:
        proj.close()
    if not found:
        raise UsageError(f"no schedule named {args.name!r}", hint="see `plait schedule list`")
    done = {"remove": "removed", "pause": "paused", "resume": "resumed"}[verb]
    print(f"schedule {args.name} {done}")
    return exits.OK


def register(sub: Any) -> None:
    schedule = sub.add_parser(
        "schedule", help="start missions, blueprints or tasks on a cron schedule"
    )
    verbs = schedule.add_subparsers(
        dest="verb", metavar="VERB", required=True, help="add, list, pause, resume or remove"
    )
    add = verbs.add_parser(
        "add",
        help="add a schedule: CRON and what it starts",
        description="Full cron syntax (five fields, or six with seconds; lists, ranges, "
        "steps, names, L, #, @daily…). The project's engine (`plait up`) starts one run at "
        "each due time; a run missed while no engine ran is skipped, or run once with "
        "--catch-up once.",
    )
    add.add_argument("cron", help='e.g. "0 3 * * 1-5" (03:00 on weekdays)')
    what = add.add_mutually_exclusive_group()
    what.add_argument("--mission", dest="prompt", metavar="PROMPT", help="start a mission")
    what.add_argument("--blueprint", metavar="FILE", help="apply a blueprint (read now)")
    what.add_argument("--task", metavar="TITLE", help="add a task")
    add.add_argument("--body", help="the task's body (with --task)")
    add.add_argument("--var", action="append", metavar="KEY=VALUE", help="a blueprint variable")
    add.add_argument(
        "--name", help="the schedule's name (default: the prompt, blueprint's name or title)"
    )
    add.add_argument("--tz", default="UTC", help="the time zone of the cron times (UTC)")
    add.add_argument(
        "--catch-up",
        choices=book.CATCH_UP,
        default="skip",
        help="a run missed while no engine ran: skip it (default) or run once",
    )
    add_mission_flags(add, name=False)
    add_project_flag(add)
    add.set_defaults(handler=cmd_add)

    ls = verbs.add_parser("list", help="the schedules, their next run and what they did")
    add_project_flag(ls)
    add_json_flag(ls)
    ls.set_defaults(handler=cmd_list)

    for verb, text in (("remove", "delete a schedule"), ("pause", "stop firing a schedule"),
                       ("resume", "fire a paused schedule again")):  # fmt: skip
        p = verbs.add_parser(verb, help=text)
        p.add_argument("name", help="the schedule's name (`plait schedule list`)")
        add_project_flag(p)
        p.set_defaults(handler=lambda a, v=verb: _edit(a, v))
