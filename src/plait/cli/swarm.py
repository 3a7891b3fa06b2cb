"""`plait swarm CONFIG.toml` (run a swarm in the foreground) and `plait swarm status`.

A swarm is the project's engine with worker groups, a tickets folder and (optionally)
planners, all from CONFIG.toml's [swarm] and [review] tables (or plait.toml's). It runs
until the queue is empty and the planners are done; the first Ctrl-C lets the turns under
way finish their cycle and gives unfinished claims back; a second stops at once.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from plait import exits
from plait.api.client import open_api
from plait.api.swarm_view import swarm_status
from plait.cli.common import add_json_flag, add_project_flag, positive_int, print_json, table
from plait.cli.running import _new_project as new_project
from plait.cli.running import add_settings_flags, changed_settings, check_repo_quiet
from plait.core import events as ev
from plait.core.model import ReviewConfig, RunState
from plait.core.money import usd
from plait.core.plan import slugify
from plait.core.swarm import swarm_done
from plait.engine.host import HostOptions, host
from plait.engine.project import Project, open_project, start_project
from plait.engine.settings import check_start, read_config_file, with_secrets
from plait.errors import UsageError
from plait.plans.swarm_config import SwarmConfig, prompt_files
from plait.sources.planners import planning_done
from plait.sources.tickets import TicketsSource
from plait.store.paths import check_project_name, project_paths
from plait.textsafe import inert
from plait.ui.headless import Printer
from plait.workspaces.git import check_git_sync


def register(sub: Any) -> None:
    p = sub.add_parser(
        "swarm",
        help="run worker groups on a tasks/ folder until the queue is empty (or: swarm status)",
        description="Run a swarm: worker groups claim queue tasks (a tasks/ folder of "
        "tickets, planners' proposals), a reviewer judges each change, approved changes "
        "merge into main. `plait swarm status` shows the workers and the run log.",
    )
    p.add_argument(
        "config",
        metavar="CONFIG.toml|status",
        help="the swarm's config file ([swarm], [review] tables), or `status`",
    )
    add_settings_flags(p)
    add_project_flag(p)
    add_json_flag(p)
    p.add_argument(
        "--headless",
        action="store_true",
        help="print one line per event (as `plait run --headless`); a swarm always does, "
        "in a terminal too: watch it with `plait tui` or `plait swarm status`",
    )
    p.add_argument(
        "--last", type=positive_int, default=20, help="status: how many log lines to show"
    )
    p.set_defaults(handler=cmd_swarm)


def cmd_swarm(args: argparse.Namespace) -> int:
    if args.config == "status":
        return cmd_status(args)
    path = Path(args.config).expanduser().resolve()
    config = read_config_file(path)
    swarm = config.swarm
    if swarm is None or not (swarm.workers or swarm.planners):
        raise UsageError(
            f"{path} has no worker group",
            hint="add a [swarm] table and at least one [[swarm.workers]] (README: Swarm mode)",
        )
    _check_prompt_files(config.swarm, config.review)
    check_git_sync()
    proj = _project(args, str(path))
    try:
        swarm = proj.effective().swarm or swarm
    except BaseException:
        proj.close()
        raise
    return _host_swarm(proj, swarm, args)


def _project(args: argparse.Namespace, config_path: str) -> Project:
    """The project to run the swarm in (made on first use), pointed at the config file."""
    repo = Path(check_repo_quiet(args.repo or ".") or os.path.abspath("."))
    name = check_project_name(args.project or slugify(repo.name.lower(), fallback="swarm"))
    if project_paths(name).exists():
        proj = open_project(name)
        try:
            check_start(changed_settings(proj, args))
            if proj.store.load() is None:
                start_project(proj)  # made, then cut off (kill -9) before its start
        except BaseException:
            proj.close()
            raise
    else:
        proj = new_project(name, args)
    if proj.settings.swarm_file != config_path:
        proj.settings = replace(proj.settings, swarm_file=config_path)
        proj.store.set_meta("settings", proj.settings.to_json())
    return proj


def _check_prompt_files(swarm: SwarmConfig | None, review: ReviewConfig | None) -> None:
    for path in prompt_files(swarm, review):
        if not os.path.isfile(path):
            raise UsageError(
                f"prompt file {path} does not exist",
                hint="fix the path in the swarm config (paths are relative to the config file)",
            )


def _host_swarm(proj: Project, swarm: SwarmConfig, args: argparse.Namespace) -> int:
    printer = Printer(json_mode=args.json)
    eff = proj.effective()
    agents = {g.agent or eff.config.agent for g in eff.config.workers}
    agents |= {r.agent for r in eff.config.review.reviewers}
    for agent in sorted(agents):
        # A key a backend's options name must be set now, not found missing mid-run.
        with_secrets(eff.backends.get(agent, {}), os.environ)
    groups = ", ".join(
        f"{g.name}×{g.count} ({g.agent or eff.config.agent})" for g in eff.config.workers
    )
    printer.note(
        f"swarm {proj.name}: tickets in {Path(eff.config.repo) / eff.config.tickets_dir}; "
        f"workers {groups}; Ctrl-C once to finish the cycles under way, twice to stop now"
    )

    def done(state: RunState) -> bool:
        return swarm_done(state) and (state.swarm.draining or planning_done(state, swarm))

    options = HostOptions(
        until=done,
        token=args.token,
        drain=lambda: ev.SwarmStopping(at=time.time()),
    )
    first: list[ev.Event] = [ev.SwarmStarted(at=time.time())]
    state = proj.store.load()
    folder = Path(eff.config.repo) / eff.config.tickets_dir
    source = TicketsSource(folder, landing=swarm.landing)
    tickets = source.first_look(state.specs if state else {}, at=time.time())
    if tickets is not None:
        first.append(tickets)
    result = host(proj, first, observer=printer, options=options)
    status = swarm_status(result.state, problems=[], last=0)
    if args.json:
        print_json(status)
    else:
        print()
        print(worker_table(status))
        print(queue_line(status))
    if result.stopped or result.state.swarm.draining:
        return exits.INTERRUPTED
    queue = status["queue"]
    return exits.ATTENTION if queue["stuck"] else exits.OK


def cmd_status(args: argparse.Namespace) -> int:
    proj = open_project(args.project)
    api = open_api(proj)
    try:
        status = api.swarm(last=args.last)
    finally:
        api.close()
        proj.close()
    if args.json:
        print_json(status)
        return exits.OK
    if not status["workers"] and not status["log"]:
        print(f"project {proj.name} has no swarm: start one with `plait swarm CONFIG.toml "
              f"-p {proj.name}` or a [swarm] table in its plait.toml")  # fmt: skip
        return exits.OK
    print(worker_table(status))
    print(queue_line(status))
    if status["log"]:
        print()
        print(log_table(status["log"]))
    for problem in status["problems"]:
        print(f"tickets: {inert(problem)}")
    return exits.OK


def worker_table(status: dict[str, Any]) -> str:
    rows = [
        (
            w["worker"],
            w["agent"] + (f"/{w['model']}" if w["model"] else ""),
            w["claim"] or ("resting" if w["resting_until"] else "-"),
            w["cycles"],
            w["merges"],
            w["rejections"],
            w["skipped"] + w["planned"],
            w["errors"] + w["stuck"],
            w["recycled"],
            w["review_rounds"],
            usd(w["cost_usd"]),
        )
        for w in status["workers"]
    ]
    header = ("worker", "agent", "claim", "cycles", "merges", "rejected", "skipped", "errors",
              "recycled", "reviews", "cost")  # fmt: skip
    return table(header, rows)


def queue_line(status: dict[str, Any]) -> str:
    q = status["queue"]
    draining = " · draining" if status["draining"] else ""
    return (
        f"queue: {q['waiting']} waiting · {q['claimed']} claimed · {q['active']} active · "
        f"{q['merged']} merged · {q['skipped']} skipped · {q['stuck']} need attention{draining}"
    )


def log_table(log: list[dict[str, Any]]) -> str:
    rows = [
        (
            time.strftime("%H:%M:%S", time.localtime(e["at"])),
            e["worker"] or "-",
            e["task"],
            e["kind"] if e["kind"] == "cycle" else f"review {e['round']}",
            e["outcome"],
            inert(e["reason"] or "")[:60],  # may quote an agent: shown, not obeyed
        )
        for e in log
    ]
    return table(("at", "worker", "task", "what", "outcome", "why"), rows)
