"""What each `plait` command does. The CLI parses; these functions act."""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from plait.agents.registry import get_backend
from plait.core import events as ev
from plait.core.model import RunConfig, RunState
from plait.core.plan import Plan, TaskSpec, slugify
from plait.engine.loop import EngineResult
from plait.engine.project import (
    Project,
    Settings,
    build_engine,
    create_project,
    engine_lock,
    engine_running,
    make_forge,
    open_project,
    resolve_repo,
)
from plait.errors import ProjectError, UsageError
from plait.forges.base import PRInfo
from plait.plans import load_plan, plan_to_json
from plait.store.paths import check_project_name, list_projects, project_paths
from plait.ui.headless import Printer
from plait.ui.summary import outcome, summary_json, summary_table
from plait.workspaces.git import check_git_sync

EXIT_ATTENTION = 10
EXIT_STOPPED = 130


def _print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# ---- validate ---------------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    if args.json:
        _print_json({"plan": plan.name, "title": plan.title, "tasks": plan_to_json(plan)})
        return 0
    print(f"{args.plan}: plan {plan.name!r} is valid: {len(plan.tasks)} tasks")
    for t in plan.tasks:
        deps = f" (after {', '.join(t.depends_on)})" if t.depends_on else ""
        cls = f" [{t.task_class}]" if t.task_class else ""
        print(f"  {t.id}{cls}: {t.title}{deps}")
    return 0


# ---- run / resume -------------------------------------------------------------------------
def start_run(
    plan: Plan,
    *,
    project: str,
    settings: Settings,
    max_concurrency: int,
    merge_delay: float,
    keep_worktrees: bool,
    json_mode: bool,
    token: str | None = None,
    cooldown: float = 30.0,
) -> EngineResult:
    check_git_sync()
    check_project_name(project)
    proj = create_project(project, settings)
    config = RunConfig(
        project=project,
        repo=settings.repo,
        main_branch=settings.main_branch,
        forge=settings.forge,
        agent=settings.agent,
        max_concurrency=max_concurrency,
        merge_delay=merge_delay,
        keep_worktrees=keep_worktrees,
        cooldown_seconds=cooldown,
    )
    first = ev.RunStarted(
        at=time.time(), config=config, tasks=plan.tasks, title=plan.title, context=plan.context
    )
    return drive(proj, [first], json_mode=json_mode, token=token)


def drive(
    proj: Project,
    first: Sequence[ev.Event] = (),
    *,
    json_mode: bool,
    token: str | None = None,
) -> EngineResult:
    """Run the project's engine until the run settles or a signal stops it."""
    printer = Printer(json_mode=json_mode)
    try:
        with engine_lock(proj):
            engine = build_engine(proj, observer=printer, token=token)
            if engine.state is None and not any(isinstance(e, ev.RunStarted) for e in first):
                raise ProjectError(
                    f"project {proj.name!r} has no run to resume",
                    hint="start it with `plait run PLAN --project NAME`",
                )
            if not first and engine.state is not None:
                printer.note(f"resuming {proj.name} after {engine.state.events} events")
            return asyncio.run(engine.run(first=first))
    finally:
        proj.close()


def report(result: EngineResult, *, json_mode: bool, extra: dict[str, object] | None = None) -> int:
    """Print the summary (last line in JSON mode) and turn the outcome into an exit code."""
    state, stopped = result.state, result.stopped
    if json_mode:
        _print_json({**summary_json(state, stopped=stopped), **(extra or {})})
    else:
        print()
        print(summary_table(state, stopped=stopped))
        if stopped:
            print(f"\nstopped; continue with `plait resume {state.config.project}`")
    result_word = outcome(state, stopped=stopped)
    if result_word == "merged":
        return 0
    if result_word == "stopped":
        return EXIT_STOPPED
    return EXIT_ATTENTION


def cmd_run(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    check_git_sync()
    repo = resolve_repo(args.repo)
    if args.agent == "script" and not args.script:
        raise UsageError(
            "the script agent needs a script",
            hint="pass --script FILE, or pick a real agent with --agent claude|codex|opencode|pi",
        )
    ci = shlex.split(args.ci) if args.ci else []
    agent_options = _agent_options(args.agent_opt)
    if args.model:
        agent_options["model"] = args.model
    settings = Settings(
        repo=repo,
        forge=args.forge,
        agent=args.agent,
        script=str(_abspath(args.script)) if args.script else None,
        ci_command=ci,
        main_branch=args.main,
        plan=str(_abspath(args.plan)),
        agent_options=agent_options,
        github_api_url=args.github_url,
        remote=args.remote,
        slug=args.slug,
        poll_interval=args.poll_interval or (30.0 if args.forge == "github" else 0.5),
        idle_timeout=args.idle_timeout,
        turn_timeout=args.turn_timeout,
    )
    get_backend(args.agent, script=settings.script, **agent_options)  # fail before starting
    result = start_run(
        plan,
        project=args.project or plan.name,
        settings=settings,
        max_concurrency=args.max_concurrency,
        merge_delay=args.merge_delay,
        keep_worktrees=args.keep_worktrees,
        json_mode=args.json,
        token=args.token,
        cooldown=args.cooldown,
    )
    return report(result, json_mode=args.json)


def _agent_options(pairs: list[str]) -> dict[str, str | int | float | bool]:
    options: dict[str, str | int | float | bool] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"--agent-opt {pair!r} is not KEY=VALUE", hint="e.g. --agent-opt model=sonnet"
            )
        value: str | int | float | bool = raw
        if raw in ("true", "false"):
            value = raw == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(raw)
                    break
                except ValueError:
                    continue
        options[key.strip().replace("-", "_")] = value
    return options


def _abspath(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def cmd_resume(args: argparse.Namespace) -> int:
    check_git_sync()
    proj = open_project(args.project)
    result = drive(proj, json_mode=args.json, token=args.token)
    return report(result, json_mode=args.json)


# ---- status -------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    if args.project is None and len(list_projects()) != 1:
        names = list_projects()
        if args.json:
            _print_json({"projects": names})
        elif names:
            print("projects: " + ", ".join(names))
        else:
            print("no projects yet; start one with `plait run PLAN`")
        return 0
    proj = open_project(args.project)
    try:
        state = proj.store.load()
    finally:
        proj.close()
    if state is None:
        raise ProjectError(f"project {proj.name!r} has not started", hint="run `plait run PLAN`")
    if args.json:
        _print_json(summary_json(state))
    else:
        print(summary_table(state))
    return 0


# ---- human input ----------------------------------------------------------------------------
def _known_task(proj: Project, task: str) -> RunState:
    state = proj.store.load()
    if state is None or task not in state.tasks:
        known = ", ".join(state.order) if state else "none"
        raise UsageError(
            f"project {proj.name!r} has no task {task!r}", hint=f"known tasks: {known}"
        )
    return state


def cmd_send(args: argparse.Namespace) -> int:
    proj = open_project(args.project)
    try:
        _known_task(proj, args.task)
        message_id = f"m-{uuid.uuid4().hex[:12]}"
        proj.store.post(
            ev.HumanMessage(
                at=time.time(), task=args.task, text=args.message, message_id=message_id
            )
        )
    finally:
        proj.close()
    print(f"queued for {args.task}; the running engine delivers it (or on `plait resume`)")
    return 0


def cmd_adopt(args: argparse.Namespace) -> int:
    """Take over PR #N: post it to a running engine, or run the project for it."""
    check_git_sync()
    repo = resolve_repo(args.repo)
    name = args.project or f"{slugify(Path(repo).name)}-prs"
    check_project_name(name)
    if project_paths(name).exists():
        proj = open_project(name)
    else:
        options = _agent_options(args.agent_opt)
        if args.model:
            options["model"] = args.model
        settings = Settings(
            repo=repo,
            forge=args.forge,
            agent=args.agent,
            script=_abspath(args.script) if args.script else None,
            agent_options=options,
            github_api_url=args.github_url,
            remote=args.remote,
            poll_interval=args.poll_interval or (30.0 if args.forge == "github" else 0.5),
        )
        get_backend(args.agent, script=settings.script, **options)
        proj = create_project(name, settings)
    try:
        adoption = _adoption(proj, args.pr, merge=args.merge, token=args.token)
    except BaseException:
        proj.close()
        raise
    if engine_running(proj):
        proj.store.post(adoption)
        proj.close()
        print(f"PR #{args.pr} handed to the running engine of {name}; it keeps it green")
        return 0
    first: list[ev.Event] = []
    if proj.store.load() is None:
        config = RunConfig(
            project=name,
            repo=proj.settings.repo,
            main_branch=proj.settings.main_branch,
            forge=proj.settings.forge,
            agent=proj.settings.agent,
        )
        first.append(ev.RunStarted(at=time.time(), config=config, tasks=(), title=name))
    first.append(adoption)
    result = drive(proj, first, json_mode=args.json, token=args.token)
    return report(result, json_mode=args.json)


def _adoption(proj: Project, number: int, *, merge: bool, token: str | None) -> ev.TaskAdopted:
    forge = make_forge(proj, token=token)

    async def look() -> PRInfo:
        try:
            return await forge.pr_info(number)
        finally:
            await forge.close()

    info = asyncio.run(look())
    if info.state != "open":
        raise UsageError(f"PR #{number} is {info.state}", hint="adopt an open PR")
    spec = TaskSpec(
        id=f"pr-{number}",
        title=info.title,
        description=info.body,
        landing="pr" if merge else "watch",
    )
    return ev.TaskAdopted(
        at=time.time(),
        spec=spec,
        pr=number,
        branch=info.branch,
        base=info.base,
        head_sha=info.head_sha,
        draft=info.draft,
    )


def cmd_review(args: argparse.Namespace) -> int:
    proj = open_project(args.project)
    try:
        state = _known_task(proj, args.task)
        task = state.tasks[args.task]
        if proj.settings.forge != "local":
            raise UsageError(
                "plait review writes to the local forge only", hint="comment on the forge itself"
            )
        if task.pr is None:
            raise UsageError(
                f"task {args.task} has no PR yet", hint="wait until `plait status` shows its PR"
            )
        from plait.forges.local import LocalForge

        forge = LocalForge(str(proj.paths.db), proj.settings.repo)
        try:
            thread = forge.add_review_comment(
                pr=task.pr.number, body=args.comment, path=args.path, line=args.line
            )
        finally:
            asyncio.run(forge.close())
    finally:
        proj.close()
    print(f"comment {thread} added to PR #{task.pr.number}; the agent will answer it")
    return 0


# ---- logs --------------------------------------------------------------------------------------
def cmd_logs(args: argparse.Namespace) -> int:
    proj = open_project(args.project)
    try:
        _known_task(proj, args.task)
        last = 0
        while True:
            for entry in proj.store.transcript(args.task, after=last):
                last = entry.id
                if args.json:
                    _print_json(
                        {
                            "task": entry.task,
                            "effect": entry.effect_id,
                            "at": entry.at,
                            "kind": entry.kind,
                            "event": json.loads(entry.body),
                        }
                    )
                else:
                    print(_log_line(entry.kind, entry.body))
            if not args.follow:
                return 0
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        proj.close()


def _log_line(kind: str, body: str) -> str:
    data = json.loads(body)
    match kind:
        case "Prompt":
            return f"> prompt:\n{data.get('text', '')}"
        case "TextOut":
            return f"{data.get('text', '')}"
        case "ToolCall":
            return f"  $ {data.get('name', '')}: {data.get('input', '')}"
        case "ToolResult":
            return f"    → {str(data.get('output', ''))[:400]}"
        case "FinalResult":
            state = "ok" if data.get("ok") else f"failed ({data.get('failure', '')})"
            return f"-- turn {state}"
        case "SessionStarted":
            return f"-- session {data.get('session_id', '')}"
    return f"-- {kind}"


# ---- demo ----------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from plait.demo.run import run_demo

    return run_demo(args.dir, json_mode=args.json)
