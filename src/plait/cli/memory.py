"""`plait memory add|search|list|forget`: the project's shared memory (SQLite FTS5).

Agents use it from their workspace (PLAIT_PROJECT names the project, PLAIT_TASK_ID the
task that writes); people use it from anywhere. A task's start prompt offers the entries
that match its title and body best (see `plait.engine.agent_env`). The memory is not the
core's state: the commands write the store's memory table directly, engine or not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from typing import Any

from plait import exits
from plait.cli.common import add_json_flag, add_project_flag, positive_int, print_json, table
from plait.engine.project import open_project
from plait.errors import UsageError
from plait.store import memory
from plait.store.memory import Entry
from plait.store.sqlite import Store


def cmd_add(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise UsageError(
            "the note is empty", hint='plait memory add "what later tasks should know"'
        )
    task = args.task if args.task is not None else os.environ.get("PLAIT_TASK_ID", "")
    tags = tuple(t for arg in args.tag or () for t in arg.replace(",", " ").split())
    proj = open_project(args.project)
    try:
        if task:
            _check_task(proj.store, task)
        entry = memory.add(proj.store, text.strip(), tags=tags, task=task, at=time.time())
    finally:
        proj.close()
    if args.json:
        print_json({"id": entry, "task": task or None, "tags": list(tags)})
    else:
        print(f"remembered as #{entry}" + (f" (from task {task})" if task else ""))
    return exits.OK


def _check_task(store: Store, task: str) -> None:
    state = store.load()
    if state is not None and task not in state.specs:
        raise UsageError(
            f"there is no task {task!r}", hint="--task takes a task id (or leave it out)"
        )


def cmd_search(args: argparse.Namespace) -> int:
    proj = open_project(args.project)
    try:
        found = memory.search(proj.store, args.query, limit=args.limit)
    finally:
        proj.close()
    return _show(found, args.json, empty=f"nothing in memory matches {args.query!r}")


def cmd_list(args: argparse.Namespace) -> int:
    proj = open_project(args.project)
    try:
        found = memory.entries(proj.store, limit=args.limit, tag=args.tag or "")
    finally:
        proj.close()
    empty = (
        f"no memory entry is tagged {args.tag!r} (`plait memory list` shows them all)"
        if args.tag
        else 'the memory is empty (plait memory add "…")'
    )
    return _show(found, args.json, empty=empty)


def cmd_forget(args: argparse.Namespace) -> int:
    proj = open_project(args.project)
    try:
        gone = memory.forget(proj.store, args.id)
    finally:
        proj.close()
    if not gone:
        raise UsageError(f"no memory entry #{args.id}", hint="see `plait memory list`")
    print(f"forgot #{args.id}")
    return exits.OK


def _show(found: list[Entry], json_mode: bool, *, empty: str) -> int:
    if json_mode:
        print_json([e.as_json() for e in found])
        return exits.OK
    if not found:
        print(empty)
        return exits.OK
    print(
        table(
            ("id", "from", "when", "tags", "text"),
            (
                (f"#{e.id}", e.task or "person", _when(e.at), ",".join(e.tags) or "-",
                 " ".join(e.text.split())[:80])
                for e in found
            ),
        )
    )  # fmt: skip
    return exits.OK


def _when(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")


def register(sub: Any) -> None:
    mem = sub.add_parser("memory", help="the project's shared memory: notes for later tasks")
    verbs = mem.add_subparsers(
        dest="verb", metavar="VERB", required=True, help="add, search, list or forget"
    )
    add = verbs.add_parser("add", help="leave a note (TEXT, or - to read it from stdin)")
    add.add_argument("text", help="the note, in a sentence (or - to read it from stdin)")
    add.add_argument("--tag", action="append", metavar="TAG", help="a topic (repeatable)")
    add.add_argument("--task", help="the task that writes it (default: $PLAIT_TASK_ID)")
    add_project_flag(add)
    add_json_flag(add)
    add.set_defaults(handler=cmd_add)

    search = verbs.add_parser("search", help="notes holding every word of QUERY, best first")
    search.add_argument("query", help="words the notes must all hold")
    search.add_argument(
        "--limit", type=positive_int, default=10, help="at most this many notes (default 10)"
    )
    add_project_flag(search)
    add_json_flag(search)
    search.set_defaults(handler=cmd_search)

    ls = verbs.add_parser("list", help="the newest notes (and which task wrote each)")
    ls.add_argument("--tag", help="only notes with this tag")
    ls.add_argument(
        "--limit", type=positive_int, default=50, help="at most this many notes (default 50)"
    )
    add_project_flag(ls)
    add_json_flag(ls)
    ls.set_defaults(handler=cmd_list)

    forget = verbs.add_parser("forget", help="delete a note")
    forget.add_argument("id", type=positive_int, help="the note's number (`plait memory list`)")
    add_project_flag(forget)
    forget.set_defaults(handler=cmd_forget)
