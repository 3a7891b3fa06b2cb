"""Commands about projects and plans: projects, status, rm, validate, demo, doctor."""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import shutil
import sys
import time
import tomllib
from typing import Any

from plait import exits
from plait.api.client import open_api
from plait.cli.common import add_json_flag, add_project_arg, print_json, read_text_file, table
from plait.core.model import ReviewConfig, WorkerGroup
from plait.core.money import usd
from plait.engine.project import engine_running, open_project
from plait.engine.settings import check_agents, check_hook
from plait.errors import PlanError, PlanProblem, ProjectError, UsageError
from plait.plans import load_plan, plan_to_json
from plait.plans.blueprint import parse_blueprint
from plait.plans.config import ProjectConfig, parse_config
from plait.plans.swarm_config import SwarmConfig, prompt_files
from plait.plans.tickets import SUFFIXES as TICKET_SUFFIXES
from plait.plans.tickets import parse_ticket
from plait.store.paths import list_projects, plait_home
from plait.ui.summary import summary_from_rows, summary_table


# ---- projects / status ----------------------------------------------------------------------
def project_rows() -> list[dict[str, Any]]:
    rows = []
    for name in list_projects():
        try:
            proj = open_project(name)
        except ProjectError as exc:
            rows.append({"project": name, "state": "broken", "error": exc.message})
            continue
        api = open_api(proj)
        try:
            rows.append(api.project())
        except ProjectError as exc:
            rows.append({"project": name, "state": "not started", "error": exc.message})
        finally:
            api.close()
            proj.close()
    return rows


def cmd_projects(args: argparse.Namespace) -> int:
    rows = project_rows()
    if args.json:
        print_json(rows)
        return exits.OK
    if not rows:
        print("no projects yet; start one with `plait run PLAN` or `plait init --repo PATH`")
        return exits.OK
    print(
        table(
            ("project", "state", "engine", "landed", "tasks", "cost", "repo"),
            (
                (
                    r["project"],
                    r["state"],
                    "up" if r.get("engine") else "-",
                    r.get("landed", "-"),
                    r.get("tasks", "-"),
                    usd(r["cost_usd"]) if r.get("cost_usd") else "-",
                    r.get("repo", r.get("error", "")),
                )
                for r in rows
            ),
        )
    )
    return exits.OK


def cmd_status(args: argparse.Namespace) -> int:
    if args.project is None and len(list_projects()) != 1:
        if args.json:
            print_json({"projects": project_rows()})
            return exits.OK
        return cmd_projects(args)
    proj = open_project(args.project)
    api = open_api(proj)
    try:
        summary = api.project()
        rows = api.tasks()
    finally:
        api.close()
        proj.close()
    word = {"needs-attention": "needs-attention", "done": "merged", "idle": "merged"}.get(
        str(summary["state"]), "running"
    )
    out = summary_from_rows(str(summary["project"]), rows, outcome=word)
    if args.json:
        print_json(out)
    else:
        print(summary_table(out))
    return exits.OK


# ---- rm -------------------------------------------------------------------------------------
def cmd_rm(args: argparse.Namespace) -> int:
    if args.project is None:  # never "the only project" by default: this one deletes
        raise UsageError("say which project to remove", hint="plait rm NAME --yes")
    proj = open_project(args.project)
    name, root, repo = proj.name, proj.paths.root, proj.settings.repo
    running = engine_running(proj)
    proj.close()
    if running:
        raise ProjectError(
            f"the engine of {name} is running", hint=f"stop it first: plait down {name}"
        )
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"removing project {name} needs confirmation", hint="pass --yes")
        what = "archive" if args.archive else "delete"
        answer = input(f"{what} project {name} ({root})? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("nothing removed")
            return exits.OK
    _drop_worktrees(repo, root, name, keep_branches=args.keep_branches)
    if args.archive:
        archive = plait_home() / "archive"
        archive.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = archive / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        shutil.move(str(root), target)
        print(f"project {name} archived in {target}")
    else:
        shutil.rmtree(root)
        print(f"project {name} deleted")
    return exits.OK


def _drop_worktrees(repo: str, root: Any, name: str, *, keep_branches: bool) -> None:
    """The project's worktrees live in its folder; git must forget them (and, unless asked
    to keep them, the project's branches) before the folder goes."""
    from plait.workspaces.git import git_sync  # asyncio under it: not for `plait status`

    if not repo or not shutil.which("git"):
        return
    if not os.path.isdir(repo):  # moved or deleted: the project must still go
        print(f"its repository {repo} is gone: no worktrees or branches to clean up there")
        return
    listing = git_sync("worktree", "list", "--porcelain", cwd=repo, check=False)
    for line in listing.out.splitlines():
        path = line.removeprefix("worktree ").strip()
        if line.startswith("worktree ") and path.startswith(str(root)):
            git_sync("worktree", "remove", "--force", "--force", path, cwd=repo, check=False)
    git_sync("worktree", "prune", cwd=repo, check=False)
    if keep_branches:
        return
    refs = git_sync(
        "for-each-ref", "--format=%(refname:short)", f"refs/heads/plait/{name}/", cwd=repo,
        check=False,
    )  # fmt: skip
    for branch in refs.out.split():
        git_sync("branch", "-D", "--", branch, cwd=repo, check=False)


# ---- validate / demo / doctor ---------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    if args.plan.endswith(".toml"):
        return _validate_config(args)
    if args.plan.endswith(TICKET_SUFFIXES) and os.path.isfile(args.plan):
        text = read_text_file(args.plan)
        if _is_ticket(args.plan, text):
            return _validate_ticket(args, text)
    plan = load_plan(args.plan)
    warnings = [w.render() for w in plan.warnings]
    if args.json:
        print_json(
            {"plan": plan.name, "title": plan.title, "tasks": plan_to_json(plan),
             "warnings": [str(w) for w in warnings]}
        )  # fmt: skip
        return exits.OK
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{args.plan}: plan {plan.name!r} is valid: {len(plan.tasks)} tasks")
    for t in plan.tasks:
        deps = f" (after {', '.join(t.depends_on)})" if t.depends_on else ""
        cls = f" [{t.task_class}]" if t.task_class else ""
        print(f"  {t.id}{cls}: {t.title}{deps}")
    return exits.OK


def _is_ticket(path: str, text: str) -> bool:
    """A swarm ticket's marks: front matter (Markdown), or an object with a summary and no
    patches (JSON). Read as a plan it was "the plan has no title"."""
    if path.endswith(".md"):
        return text.lstrip("\ufeff").startswith("---")
    try:
        data = json.loads(text)
    except ValueError:
        return False  # the plan's reader says where the syntax breaks
    return (
        isinstance(data, dict) and "patches" not in data and bool({"summary", "title"} & set(data))
    )


def _validate_ticket(args: argparse.Namespace, text: str) -> int:
    ticket = parse_ticket(text, args.plan)
    if args.json:
        deps, files = list(ticket.dependencies), list(ticket.files)
        print_json({"ticket": ticket.id, "summary": ticket.summary, "dependencies": deps,
                    "files": files})  # fmt: skip
        return exits.OK
    after = f" (after {', '.join(ticket.dependencies)})" if ticket.dependencies else ""
    print(f"{args.plan}: ticket {ticket.id!r} is valid: {ticket.summary}{after}")
    return exits.OK


def _validate_config(args: argparse.Namespace) -> int:
    text = read_text_file(args.plan)
    if _is_blueprint(text):
        return _validate_blueprint(args, text)
    config = parse_config(text, args.plan)
    check_agents(config, text, args.plan)
    _check_prompt_files(config, text, args.plan)
    check_hook(config, text, args.plan)
    if args.json:
        print_json({"config": args.plan, "valid": True, "classes": sorted(config.classes),
                    **_swarm_json(config)})  # fmt: skip
        return exits.OK
    if config.swarm is not None:
        print(f"{args.plan}: valid swarm settings: {_swarm_counts(config.swarm)}")
        for line in _swarm_lines(config.swarm, config.review):
            print(f"  {line}")
    else:
        print(f"{args.plan}: valid project settings")
    for name, c in sorted(config.classes.items()):
        parts = [f"agent {c.agent}" if c.agent else "", f"model {c.model}" if c.model else "",
                 f"at most {c.cap} at once" if c.cap else ""]  # fmt: skip
        print(f"  class {name}: {', '.join(p for p in parts if p) or 'defaults'}")
    return exits.OK


def _swarm_counts(swarm: SwarmConfig) -> str:
    def groups(kind: str, of: tuple[WorkerGroup, ...]) -> str:
        n, slots = len(of), sum(g.count for g in of)
        return f"{_plural(n, kind + ' group')} ({_plural(slots, kind)})"

    return f"{groups('worker', swarm.workers)}, {groups('planner', swarm.planners)}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _swarm_lines(swarm: SwarmConfig, review: ReviewConfig | None) -> list[str]:
    """What `validate` read of a swarm: each group, who reviews, where tickets land."""
    lines = [f"workers {g.name}: {_group_words(g)}" for g in swarm.workers]
    lines += [f"planners {g.name}: {_group_words(g)}" for g in swarm.planners]
    chain = review.reviewers if review else ()
    who = ", ".join(_agent_words(r.agent, r.model) for r in chain) or "the project's agent"
    rounds = review.rounds if review else ReviewConfig().rounds
    lines.append(f"reviewers: {who}; at most {rounds} fix rounds")
    lines.append(f"tickets in {swarm.tickets}/, landing {swarm.landing}")
    return lines


def _group_words(g: WorkerGroup) -> str:
    words = [f"{g.count} × {_agent_words(g.agent, g.model)}", f"queue {g.queue}"]
    if g.claim > 1:
        words.append(f"up to {g.claim} tasks a claim")
    if g.max_cycles:
        words.append(f"at most {g.max_cycles} cycles each")
    return ", ".join(words)


def _agent_words(agent: str, model: str) -> str:
    who = agent or "the project's agent"
    return f"{who} ({model})" if model else who


def _swarm_json(config: ProjectConfig) -> dict[str, object]:
    if config.swarm is None:
        return {}

    def group(g: WorkerGroup) -> dict[str, object]:
        return {"name": g.name, "agent": g.agent, "model": g.model, "count": g.count,
                "queue": g.queue}  # fmt: skip

    swarm = config.swarm
    reviewers = config.review.reviewers if config.review else ()
    return {
        "swarm": {
            "workers": [group(g) for g in swarm.workers],
            "planners": [group(g) for g in swarm.planners],
            "reviewers": [{"agent": r.agent, "model": r.model} for r in reviewers],
            "tickets": swarm.tickets,
            "landing": swarm.landing,
        }
    }


def _check_prompt_files(config: ProjectConfig, text: str, path: str) -> None:
    """As `plait swarm` checks them before it starts: validate said "valid", then the
    swarm refused a prompt file that is not there."""
    lines = text.splitlines()
    problems = [
        PlanProblem(
            path,
            _line_naming(lines, posixpath.basename(p)),
            f"prompt file {p} does not exist",
            "fix the path (relative to this file's folder)",
        )
        for p in prompt_files(config.swarm, config.review)
        if not os.path.isfile(p)
    ]
    if problems:
        raise PlanError(problems)


def _line_naming(lines: list[str], name: str) -> int:
    return next((i for i, line in enumerate(lines, start=1) if name in line), 0)


def _is_blueprint(text: str) -> bool:
    """A blueprint's marks: its own top-level keys, or an agent with a prompt or a command
    (plait.toml's [agents.X] hold backend options only)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False  # plait.toml's reader says where the syntax breaks
    if any(key in data for key in ("vars", "description", "name")):
        return True
    agents = data.get("agents")
    return isinstance(agents, dict) and any(
        isinstance(a, dict) and ("prompt" in a or "command" in a) for a in agents.values()
    )


def _validate_blueprint(args: argparse.Namespace, text: str) -> int:
    blueprint = parse_blueprint(text, args.plan)
    if args.json:
        print_json({"blueprint": blueprint.name, **blueprint.to_wire()})
        return exits.OK
    print(f"{args.plan}: blueprint {blueprint.name!r} is valid: {len(blueprint.members)} agents")
    for m in blueprint.members:
        deps = f" (after {', '.join(m.depends_on)})" if m.depends_on else ""
        print(f"  {m.name}{deps}")
    return exits.OK


def cmd_demo(args: argparse.Namespace) -> int:
    from plait.demo.run import run_demo

    return run_demo(args.dir, json_mode=args.json)


def cmd_doctor(args: argparse.Namespace) -> int:
    from plait.doctor import cmd_doctor as doctor

    return doctor(args)


# ---- the parsers ----------------------------------------------------------------------------
def register(sub: Any) -> None:
    projects = sub.add_parser(
        "projects", help="every project: state (running/idle/needs-attention/done), tasks, cost"
    )
    add_json_flag(projects)
    projects.set_defaults(handler=cmd_projects)

    st = sub.add_parser("status", help="a project's tasks and totals (no project: all projects)")
    add_project_arg(st, "the project (default: the only one, else every project)")
    add_json_flag(st, "the summary as one JSON object")
    st.set_defaults(handler=cmd_status)

    rm = sub.add_parser("rm", help="delete (or --archive) a project; the repository stays")
    add_project_arg(rm, "the project to remove (it must be named)")
    rm.add_argument("--yes", "-y", action="store_true", help="do not ask")
    rm.add_argument("--archive", action="store_true", help="move it under $PLAIT_HOME/archive")
    rm.add_argument(
        "--keep-branches", action="store_true", help="keep the project's branches in the repo"
    )
    rm.set_defaults(handler=cmd_rm)

    val = sub.add_parser(
        "validate",
        help="check a plan (or a plait.toml, swarm config, blueprint or ticket): every "
        "problem with file:line and a fix",
    )
    val.add_argument(
        "plan",
        help="a gameplan (.md or .json), a plait.toml or swarm config, a blueprint, or a "
        "swarm ticket (Markdown with front matter, or JSON with a summary)",
    )
    add_json_flag(val, "print the parsed tasks as JSON")
    val.set_defaults(handler=cmd_validate)

    demo = sub.add_parser(
        "demo", help="the whole lifecycle on a throwaway project (scripted agent, offline)"
    )
    demo.add_argument("--dir", help="where to create (or resume) the demo")
    add_json_flag(demo, "JSON lines")
    demo.set_defaults(handler=cmd_demo)

    doc = sub.add_parser("doctor", help="check git, agent CLIs and their logins, tokens")
    add_json_flag(doc)
    doc.set_defaults(handler=cmd_doctor)
