"""Commands on a project's tasks: ps, add, kill, retry, reset, wait, result, send, review,
logs, adopt.

Each goes through `plait.api.client.open_api`: the running engine's API when there is
one, the project's store otherwise (a write is then queued for the next engine, and the
answer says so).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from plait import exits
from plait.api import commands as cmd
from plait.api.client import Following, ProjectAPI, open_api
from plait.api.views import ENDED, FINAL, checked_statuses
from plait.cli.common import (
    add_json_flag,
    add_project_flag,
    duration,
    human_bytes,
    positive_int,
    print_json,
    read_text_file,
    seconds,
    table,
)
from plait.cli.missions import tree_rows
from plait.core.money import usd
from plait.engine.project import Project, open_project
from plait.errors import ProjectError, UsageError
from plait.textsafe import inert

_POLL = 0.3  # seconds between looks while waiting or following


def _api(args: argparse.Namespace) -> tuple[Project, ProjectAPI]:
    proj = open_project(args.project)
    return proj, open_api(proj)


def _done(proj: Project, api: ProjectAPI) -> None:
    api.close()
    proj.close()


# ---- ps ----------------------------------------------------------------------------------------
def cmd_ps(args: argparse.Namespace) -> int:
    if args.status:
        args.status = ",".join(checked_statuses(args.status))  # a typo is an error, not "none"
    proj, api = _api(args)
    name, live = proj.name, api.live
    try:
        rows = api.tasks(status=args.status or "")
        every = api.tasks() if args.status and not rows and not args.json else rows
    finally:
        _done(proj, api)
    drawn = [(str(r["id"]), r) for r in rows]
    if args.tree:
        drawn = tree_rows(rows, show_all=bool(args.all or args.status))
    elif not args.all and not args.status:
        drawn = [(tid, r) for tid, r in drawn if r["status"] not in FINAL]
    rows = [r for _, r in drawn]
    if args.json:
        print_json(rows)
        return exits.OK
    if not rows and args.status:
        print(_no_task_is(args.status, every))
        return exits.OK
    if not rows:
        hint = "" if args.all else " (--all shows the settled ones too)"
        print(f"no tasks{hint}")
        return exits.OK
    print(
        table(
            ("task", "status", "agent", "PR", "risk", "turns", "tokens", "cost", "time", "cpu",
             "mem", "title"),
            (
                (
                    label,
                    r["status"],
                    r["agent"],
                    f"#{r['pr']}" if r["pr"] else "-",
                    r.get("risk") or "-",
                    r["turns"],
                    f"{r['tokens']:,}",
                    usd(r["cost_usd"]) if r["cost_usd"] else "-",
                    duration(float(r["duration_s"])),
                    f"{r['cpu_percent']:.0f}%" if "cpu_percent" in r else "-",
                    human_bytes(r.get("rss_bytes")),
                    str(r["title"])[:50],
                )
                for label, r in drawn
            ),
        )
    )  # fmt: skip
    for line in conflict_lines(rows):
        print(line)
    for r in rows:
        if r.get("waits_for"):
            print(f"{r['id']} waits: {r['waits_for']}")
    if not live and any(r["status"] not in _PARKED for r in rows):
        # "working" with no engine read as if an agent were at it.
        print(
            f"no engine runs for {name}: these tasks stand where its last engine left them; "
            f"`plait up {name}` (or `plait resume {name}`) carries them on"
        )
    return exits.OK


# Statuses that say nothing moves until a person or a dependency does.
_PARKED = FINAL | {"waiting", "queued", "stopped", "needs-attention", "over-budget", "failed",
                   "carried"}  # fmt: skip


def _no_task_is(wanted: str, rows: list[dict[str, Any]]) -> str:
    """An empty `ps --status` names the statuses tasks have now, so that the user sees
    where they are rather than nothing."""
    counts = Counter(str(r["status"]) for r in rows)
    there = ", ".join(f"{word} ({n})" for word, n in sorted(counts.items()))
    return f"no task is {wanted.replace(',', ' or ')}; statuses now: {there or 'no tasks yet'}"


def conflict_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The early conflict warning under the table: each task and what it would collide
    with (another live branch or main), before the collision happens."""
    out = []
    for r in rows:
        found = [f"{o['with']} ({', '.join(o['paths'][:3])})" for o in r.get("overlaps") or []]
        if found:
            out.append(f"  {r['id']} may conflict with {'; '.join(found)}")
    return (["", "conflict warnings:", *out]) if out else []


# ---- add -----------------------------------------------------------------------------------------
def cmd_add(args: argparse.Namespace) -> int:
    body = read_text_file(args.file) if args.file else args.body or ""
    fields: dict[str, Any] = {"title": args.title, "body": body, "after": args.after or []}
    for key in ("agent", "landing", "model", "id"):
        if getattr(args, key):
            fields[key] = getattr(args, key)
    if args.task_class:
        fields["class"] = args.task_class
    if args.port:
        fields["ports"] = list(args.port)
    proj, api = _api(args)
    try:
        reply = api.add(fields)
    finally:
        _done(proj, api)
    if not body.strip():  # after the add: a refused task's error stays the only line
        print(
            "plait: warning: the task has no body; the agent gets only its title",
            file=sys.stderr,
        )
    return _said(reply, args)


def _said(reply: dict[str, Any], args: argparse.Namespace) -> int:
    if getattr(args, "json", False):
        print_json(reply)
    else:
        print(reply["message"])
    return exits.OK


# ---- kill / retry / reset / send -----------------------------------------------------------------
def _command(args: argparse.Namespace, verb: str, **body: Any) -> int:
    proj, api = _api(args)
    try:
        reply = api.command(verb, args.task, **body)
    finally:
        _done(proj, api)
    return _said(reply, args)


def cmd_kill(args: argparse.Namespace) -> int:
    return _command(args, "kill", reason=args.reason or "", cascade=args.cascade)


def cmd_retry(args: argparse.Namespace) -> int:
    return _command(args, "retry", cascade=args.cascade)


def cmd_reset(args: argparse.Namespace) -> int:
    return _command(args, "reset", hard=args.hard)


def cmd_send(args: argparse.Namespace) -> int:
    return _command(args, "send", text=args.message)


# ---- wait / result -------------------------------------------------------------------------------
def cmd_wait(args: argparse.Namespace) -> int:
    proj, api = _api(args)
    through = Following(proj, api)  # the store, once the engine ends
    deadline = time.monotonic() + args.timeout if args.timeout else None
    try:
        ids = [str(api.task(ref)["id"]) for ref in args.tasks]
        while True:
            rows = {str(r["id"]): r for r in through.call(lambda a: a.tasks())}
            words = {tid: str(rows[tid]["status"]) for tid in ids}
            code = _wait_code([rows[tid] for tid in ids])
            if code is not None:
                _wait_report(words, args.json)
                if not args.json:
                    print("".join(attention_notes(rows, ids)), end="")
                return code
            held = {tid: blocked_by(rows, tid) for tid in ids}
            if all(held[tid] or words[tid] in _SETTLED for tid in ids):
                why = {t: f"{d} is {rows[d]['status']}" for t, d in held.items() if d}
                _wait_report(words, args.json, why)
                return exits.ATTENTION
            if not through.api.live:
                _wait_report(words, args.json)
                raise ProjectError(
                    f"no engine runs for {proj.name}, so these tasks will not move",
                    hint=f"start it with `plait up {proj.name}` (or `plait resume {proj.name}`), "
                    "then wait again",
                )
            if deadline is not None and time.monotonic() > deadline:
                _wait_report(words, args.json)
                return exits.TIMEOUT
            time.sleep(_POLL)
    except KeyboardInterrupt:
        return exits.INTERRUPTED
    finally:
        _done(proj, through.api)


_SETTLED = ENDED | {"needs-attention", "stopped"}


def blocked_by(rows: dict[str, dict[str, Any]], tid: str) -> str:
    """The dependency, direct or further up, that stopped for good ("" if none): a task
    under a failed, stopped or needs-attention one will not move until a person acts, so
    `plait wait` ends instead of running into its timeout."""
    seen: set[str] = set()
    todo = [str(d) for d in rows[tid].get("depends_on") or ()]
    while todo:
        dep = todo.pop()
        if dep in seen or dep not in rows:
            continue
        seen.add(dep)
        if str(rows[dep]["status"]) in _SETTLED - FINAL:
            return dep
        todo.extend(str(d) for d in rows[dep].get("depends_on") or ())
    return ""


def attention_notes(rows: dict[str, dict[str, Any]], ids: list[str]) -> list[str]:
    """Lines (each ending in a newline) saying, for each awaited task that needs a person,
    which task needs one and why: the task's own reason, or — a team — its members' (any
    depth), with the command that lets them go on."""
    notes: list[str] = []
    for tid in ids:
        if rows[tid]["status"] != "needs-attention":
            continue
        for who in (tid, *_members(rows, tid)):
            row = rows[who]
            if row["status"] == "needs-attention" and row.get("attention"):
                note = f"  {who} needs attention: {row['attention']}"
                hint = f'  (fix that, then `plait retry {who}`, or `plait send {who} "…"`)'
                if note + "\n" not in notes:
                    notes += [note + "\n", hint + "\n"]
    return notes


def _members(rows: dict[str, dict[str, Any]], parent: str) -> list[str]:
    """The tasks under `parent` (its members, theirs…), in the order of `rows`."""
    under: list[str] = []
    todo = [parent]
    while todo:
        top = todo.pop()
        kids = [tid for tid, row in rows.items() if row.get("parent") == top]
        under += kids
        todo += kids
    return under


def _wait_code(rows: list[dict[str, Any]]) -> int | None:
    """None while a task can still move. Then: 10 when one needs a person, 11 when one is
    stopped, a failed mission's agent exit code (the first in the order asked), else 0."""
    words = [str(r["status"]) for r in rows]
    if not all(w in ENDED or w in ("needs-attention", "stopped") for w in words):
        return None
    if "needs-attention" in words:
        return exits.ATTENTION
    if "stopped" in words:
        return exits.STOPPED_TASK
    failed = [r for r in rows if r["status"] == "failed"]
    return int(failed[0].get("exit_code") or 1) if failed else exits.OK


def _wait_report(
    words: dict[str, str], json_mode: bool, held: dict[str, str] | None = None
) -> None:
    """`held`: why a task will not move ("a is failed"), for the tasks under a stopped one."""
    held = held or {}
    if json_mode:
        print_json(words)
        return
    for tid, word in words.items():
        print(f"{tid}: {word}, blocked: {held[tid]}" if tid in held else f"{tid}: {word}")
    for dep in sorted({why.split(" ", 1)[0] for why in held.values()}):
        print(f"  `plait retry {dep}` (or `plait reset {dep}`) lets the tasks under it move")


def cmd_result(args: argparse.Namespace) -> int:
    proj, api = _api(args)
    try:
        result = api.result(args.task)
    finally:
        _done(proj, api)
    word = str(result["status"])
    if args.json:
        print_json(result)
    else:
        if result["answer"]:
            print(result["answer"])
        landed = []
        if result.get("exit_code") is not None:
            landed.append(f"exit code {result['exit_code']}")
        if word == "failed" and result.get("error"):
            landed.append(str(result["error"]))
        if result["merge_sha"]:
            landed.append(f"merged as {result['merge_sha'][:12]}")
        if result["pr_url"] or result["pr"]:
            landed.append(f"PR {result['pr_url'] or '#' + str(result['pr'])}")
        print(f"-- {result['id']}: {word}" + (f"; {', '.join(landed)}" if landed else ""))
        if result.get("branch") and word in ENDED:
            branch = result["branch"]
            print(
                f"-- its branch {branch} stays in the repository with what it committed "
                f"(`git log {branch}`; `git branch -D {branch}` when you are done with it)"
            )
    if word in FINAL:
        return exits.OK
    if word == "failed":
        return int(result.get("exit_code") or 1)
    if word == "needs-attention":
        return exits.ATTENTION
    if word == "stopped":
        return exits.STOPPED_TASK
    if not args.json:
        print(f"plait: {result['id']} has not finished yet (`plait wait {result['id']}`)",
              file=sys.stderr)  # fmt: skip
    return exits.NOT_YET


# ---- logs ----------------------------------------------------------------------------------------
def cmd_logs(args: argparse.Namespace) -> int:
    proj, api = _api(args)
    through = Following(proj, api)  # the store, once the engine ends
    try:
        tid = str(api.task(args.task)["id"])
        after, shown = 0, 0
        while True:
            page = through.call(_transcript_page(tid, after))
            for entry in page["entries"]:
                shown += 1
                if args.json:
                    print_json({k: entry[k] for k in ("task", "effect", "at", "kind", "event")})
                elif entry["line"] is not None:
                    print(inert(entry["line"]), flush=True)  # agent text: shown, not obeyed
            after = int(page["next"])
            if page["entries"]:
                continue
            if not args.follow:
                break
            if shown == 0 and not args.json:
                print(f"no transcript yet for {tid}; waiting for its agent…", flush=True)
                shown = -1
            status = str(through.call(lambda a: a.task(tid))["status"])
            if status in FINAL:
                break
            if not through.api.live and api.live:
                # The engine it followed ended (a foreground run that settled, say).
                print(f"-- the engine of {proj.name} stopped; {tid} is {status}", flush=True)
                break
            time.sleep(_POLL * 2)
        if shown == 0 and not args.json:
            print(f"no transcript yet for {tid} (its agent has not started)")
    except KeyboardInterrupt:
        return exits.OK
    finally:
        _done(proj, through.api)
    return exits.OK


def _transcript_page(tid: str, after: int) -> Callable[[ProjectAPI], dict[str, Any]]:
    return lambda api: api.transcript(tid, after=after)


# ---- review (the local forge) --------------------------------------------------------------------
def cmd_review(args: argparse.Namespace) -> int:
    proj, api = _api(args)
    try:
        task = api.task(args.task)
        tid = str(task["id"])
        if task["status"] in FINAL:
            raise cmd.CommandError(
                f"task {tid} is {task['status']}; its PR takes no more review",
                hint="start follow-up work with `plait add`",
            )
        if proj.settings.forge != "local":
            raise UsageError(
                "plait review writes to the local forge only", hint="comment on the forge itself"
            )
        if task["pr"] is None:
            raise UsageError(f"task {tid} has no PR yet", hint="wait until `plait ps` shows it")
        import asyncio

        from plait.forges.local import LocalForge

        forge = LocalForge(str(proj.paths.db), proj.settings.repo)
        try:
            thread = forge.add_review_comment(
                pr=int(task["pr"]), body=args.comment, path=args.path, line=args.line
            )
        finally:
            asyncio.run(forge.close())
    finally:
        _done(proj, api)
    print(f"comment {thread} added to PR #{task['pr']}; the agent will answer it")
    return exits.OK


# ---- the parsers ---------------------------------------------------------------------------------
def register(sub: Any) -> None:
    ps = sub.add_parser("ps", help="the project's tasks: status, agent, PR, cost, CPU/memory")
    add_project_flag(ps)
    ps.add_argument("--all", action="store_true", help="also tasks that landed")
    ps.add_argument(
        "--status", help="only tasks with these statuses (comma-separated; a typo is an error)"
    )
    ps.add_argument("--tree", action="store_true", help="missions under the ones that started them")
    add_json_flag(ps, "print the rows as JSON")
    ps.set_defaults(handler=cmd_ps)

    add = sub.add_parser("add", help="add one task to a project (live or idle)")
    add.add_argument("title", help="a one-line title")
    body = add.add_mutually_exclusive_group()
    body.add_argument("--body", help="what to do, for the agent")
    body.add_argument("--file", help="read what to do from this file")
    add.add_argument(
        "--after",
        action="append",
        metavar="TASK",
        help="start only after this task landed (repeatable)",
    )
    add.add_argument("--agent", help="the agent backend for this task")
    add.add_argument("--model", help="the agent's model for this task")
    add.add_argument(
        "--landing",
        choices=["pr", "merge", "none"],
        help="pr: open a PR and merge it (default); merge: a reviewer agent's verdict, then a "
        "merge into main; none: the agent's answer is the result",
    )
    add.add_argument("--class", dest="task_class", help="the task's class (INFRA, GATED, BEHAVIOR)")
    add.add_argument("--id", help="the task's id (default: from the title)")
    add.add_argument(
        "--port",
        action="append",
        metavar="SERVICE",
        help="hand its agent a port (PLAIT_PORT_<SERVICE>)",
    )
    add_project_flag(add)
    add_json_flag(add)
    add.set_defaults(handler=cmd_add)

    for name, handler, text in (
        ("kill", cmd_kill, "stop a task's agent now; keep its work; park it as stopped"),
        ("retry", cmd_retry, "let a stopped or stuck task go again from where it is"),
        ("reset", cmd_reset, "clear a task's failure counters and retry it (--hard: start over)"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("task", help="task id, or a unique start of its title")
        add_project_flag(p)
        add_json_flag(p)
        p.set_defaults(handler=handler)
        if name in ("kill", "retry"):
            p.add_argument(
                "--cascade",
                action="store_true",
                help="also every mission under it (children first)",
            )
        if name == "kill":
            p.add_argument("--reason", help="why (shown in ps and the summary)")
        if name == "reset":
            p.add_argument(
                "--hard",
                action="store_true",
                help="also drop its branch, worktree and PR and start over from main",
            )

    wait = sub.add_parser(
        "wait",
        help="wait until tasks land (exit 0), need attention (10), are stopped (11), fail "
        "(a mission: its agent's exit code) or time out (124)",
    )
    wait.add_argument("tasks", nargs="+", metavar="TASK", help="task ids or title starts")
    wait.add_argument(
        "--timeout", type=seconds, metavar="SECONDS", help="give up after this long (exit 124)"
    )
    add_project_flag(wait)
    add_json_flag(wait)
    wait.set_defaults(handler=cmd_wait)

    result = sub.add_parser("result", help="a task's final answer and how it landed")
    result.add_argument("task", help="task id, or a unique start of its title")
    add_project_flag(result)
    add_json_flag(result)
    result.set_defaults(handler=cmd_result)

    send = sub.add_parser("send", help="send a message to a task's agent; clears needs-attention")
    send.add_argument("task", help="task id, or a unique start of its title")
    send.add_argument("message", help="what to tell the task's agent")
    add_project_flag(send)
    add_json_flag(send)
    send.set_defaults(handler=cmd_send)

    review = sub.add_parser(
        "review", help="leave a review comment on a task's PR (local forge); the agent answers"
    )
    review.add_argument("task", help="task id, or a unique start of its title")
    review.add_argument("comment", help="the review comment")
    review.add_argument("--path", help="file the comment is about")
    review.add_argument("--line", type=positive_int, help="line the comment is about")
    add_project_flag(review)
    review.set_defaults(handler=cmd_review)

    logs = sub.add_parser("logs", help="a task's agent transcript")
    logs.add_argument("task", help="task id, or a unique start of its title")
    logs.add_argument("-f", "--follow", action="store_true", help="follow it live")
    add_project_flag(logs)
    add_json_flag(logs, "every record as JSON, one per line")
    logs.set_defaults(handler=cmd_logs)
