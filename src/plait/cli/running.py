"""Commands that make a project's engine run: `run`, `resume`, `init`, `up`, `down`.

A project is live: its engine runs in the foreground (`run`, `resume`: until their tasks
settle) or in the background (`up`, until `down`). `run PLAN` adds the plan's tasks to
the project — creating it on first use — and follows them: through the running engine's
API when one runs, else by hosting the engine in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from plait import exits
from plait.agents.registry import BACKENDS, get_backend, unknown_backend
from plait.api import commands as cmd
from plait.api.client import Following, LiveAPI, engine_address, open_api
from plait.cli import faces
from plait.cli.background import start_engine, warn_port_kept
from plait.cli.common import (
    Parser,
    add_json_flag,
    add_project_arg,
    add_project_flag,
    dollars,
    notify_kinds,
    port,
    positive_int,
    print_json,
    seconds,
    seconds_or_zero,
    webhook,
)
from plait.core import events as ev
from plait.core.notices import ALL_KINDS
from plait.core.plan import Plan, unique_name
from plait.engine.host import HostOptions, host
from plait.engine.project import (
    Project,
    create_project,
    engine_running,
    open_project,
    start_project,
)
from plait.engine.settings import (
    GITHUB_POLL,
    RESOLVED_BY_FLAG,
    Settings,
    check_secret,
    check_start,
    configured_script,
    effective,
    repo_config,
    with_secrets,
)
from plait.errors import AgentError, PlaitError, ProjectError, UsageError
from plait.notify import Channels, Message, send_message
from plait.plans import load_plan
from plait.plans.config import WEBHOOK_FORMATS
from plait.plans.executor import executor_from_flag
from plait.service import load_env_file
from plait.store.paths import check_project_name, list_projects, project_paths
from plait.ui.headless import Printer
from plait.ui.summary import exit_code, report, rows_outcome, summary_from_rows, summary_table
from plait.workspaces.git import check_git_sync
from plait.workspaces.repo import check_repo

REAL_AGENTS = ("claude", "codex", "opencode", "pi", "gemini")


# ---- flags shared by run, init and adopt -----------------------------------------------------
def add_settings_flags(p: argparse.ArgumentParser, *, forge_default: str | None = None) -> None:
    """Flags that describe a project. Given on a later command, they change it."""
    p.add_argument("--repo", help="the git repository (default: the current directory)")
    p.add_argument(
        "--forge",
        choices=["local", "github"],
        default=forge_default,
        help="where PRs live: local (embedded in the project, offline; the default) or github",
    )
    p.add_argument(
        "--agent",
        help="agent backend for the tasks: claude, codex, opencode, pi, gemini, or script "
        "(a simulator). Default: the first logged-in CLI `plait doctor` finds",
    )
    p.add_argument("--model", help="the agent's model (default: the CLI's own)")
    p.add_argument(
        "--agent-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the agent backend (executable, base_url, provider…); repeatable",
    )
    p.add_argument("--script", help="the script file of the `script` agent (implies it)")
    p.add_argument(
        "--ci",
        help="command the local forge runs as CI on each PR head, e.g. 'make test' "
        "(default: none — PRs merge without CI)",
    )
    p.add_argument("--main", help="the branch work lands on (default: main)")
    p.add_argument(
        "--max-concurrency",
        type=positive_int,
        metavar="N",
        help="agents working at once (default: 4)",
    )
    p.add_argument(
        "--merge-delay",
        type=seconds_or_zero,
        metavar="SECONDS",
        help="merge a PR only after it sat mergeable this long, for a human look (default: 0)",
    )
    p.add_argument(
        "--poll-interval",
        type=seconds,
        metavar="SECONDS",
        help="how often to look at the forge (default: 0.5 local, 30 github)",
    )
    p.add_argument(
        "--cooldown",
        type=seconds,
        metavar="SECONDS",
        help="first wait when a backend hits a rate limit; it grows up to 60x (default: 30)",
    )
    p.add_argument(
        "--idle-timeout",
        type=seconds,
        metavar="SECONDS",
        help="an agent silent this long is nudged once, then restarted (default: 600)",
    )
    p.add_argument(
        "--turn-timeout",
        type=seconds,
        metavar="SECONDS",
        help="the longest one agent turn may take (default: 3600)",
    )
    p.add_argument(
        "--keep-worktrees",
        action="store_true",
        default=None,
        help="keep each task's worktree and branch after it lands",
    )
    add_notify_flags(p)
    add_budget_flags(p)
    p.add_argument("--token", help="GitHub token (default: GITHUB_TOKEN, then `gh auth token`)")
    p.add_argument("--github-url", help="GitHub API root, for GitHub Enterprise")
    p.add_argument("--remote", help="the git remote of the forge (default: origin)")
    p.add_argument("--slug", help="OWNER/NAME on GitHub (default: from the remote)")
    p.add_argument(
        "--executor",
        type=executor_flag,
        metavar="local|temporal://HOST:PORT/QUEUE",
        help="where agent turns run: here (local, the default) or on `plait worker`s through "
        "a Temporal server (plait.toml's [executor] holds TLS and the rest)",
    )


def executor_flag(text: str) -> str:
    """--executor's value, checked now (its meaning is decided with plait.toml later)."""
    try:
        executor_from_flag(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(f"{exc.message} ({exc.hint})") from None
    return text


def add_notify_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--notify",
        type=notify_kinds,
        metavar="KINDS",
        help=f"tell people about these, comma-separated: {', '.join(ALL_KINDS)} "
        "(default with a [notify] table or another --notify flag: all; 'none' for nothing)",
    )
    p.add_argument(
        "--notify-desktop",
        action="store_true",
        default=None,
        help="show notifications on the desktop (notify-send, where installed)",
    )
    p.add_argument(
        "--notify-webhook",
        type=webhook,
        metavar="URL",
        help="POST notifications to this URL as JSON; write a URL that holds a secret as "
        "env:NAME (read from the engine's environment; the project store keeps flags)",
    )
    p.add_argument(
        "--notify-format",
        choices=list(WEBHOOK_FORMATS),
        help="the webhook's body: json (plait's own, the default) or slack",
    )


def add_budget_flags(p: argparse.ArgumentParser) -> None:
    for flag, what in (
        ("--budget-tokens", "tokens the whole project may use"),
        ("--task-budget-tokens", "tokens each task may use"),
    ):
        p.add_argument(flag, type=positive_int, metavar="N", help=f"{what}; reaching it "
                       "pauses new agent turns (raise it with `plait budget`)")  # fmt: skip
    for flag, what in (
        ("--budget-dollars", "dollars the whole project may spend"),
        ("--task-budget-dollars", "dollars each task may spend"),
    ):
        p.add_argument(flag, type=dollars, metavar="D", help=f"{what}; reaching it "
                       "pauses new agent turns (raise it with `plait budget`)")  # fmt: skip


_NOTIFY_FLAGS = (
    ("notify", "notify_on"),
    ("notify_desktop", "notify_desktop"),
    ("notify_webhook", "notify_webhook"),
    ("notify_format", "notify_format"),
    ("budget_tokens", "budget_tokens"),
    ("budget_dollars", "budget_dollars"),
    ("task_budget_tokens", "task_budget_tokens"),
    ("task_budget_dollars", "task_budget_dollars"),
)


def agent_options(pairs: Sequence[str]) -> dict[str, str | int | float | bool]:
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
        name = key.strip().replace("-", "_")
        check_secret(name, value)
        options[name] = value
    return options


def _abspath(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def pick_agent(args: argparse.Namespace, repo: str = "") -> str:
    """--agent, else `script` when a script is given, else plait.toml's [agent] default,
    else the first real CLI found installed and logged in; else say how to choose."""
    if args.agent:
        if args.agent not in BACKENDS:
            raise unknown_backend(args.agent)
        return str(args.agent)
    if args.script:
        return "script"
    configured = repo_config(repo).agent if repo else None
    if configured:
        return configured
    from plait.doctor import default_agent

    found = default_agent(os.environ)
    if found is None:
        raise AgentError(
            "no agent CLI is installed and logged in: "
            + ", ".join(REAL_AGENTS)
            + " were looked for",
            hint="install and log in to one (`plait doctor` says how), or try plait with "
            "`--agent script --script FILE` (the script format is in the README)",
        )
    return found


def require_script(agent: str, given: str, repo: str) -> None:
    """The script agent has a script: `given` (a flag's), or plait.toml's."""
    if agent == "script" and not given and not configured_script(repo):
        raise UsageError(
            "the script agent needs a script",
            hint="pass --script FILE (its format is in the README), or a real agent: "
            "--agent claude|codex|opencode|pi|gemini",
        )


def new_settings(args: argparse.Namespace, repo: str) -> Settings:
    agent = pick_agent(args, repo)
    options = agent_options(args.agent_opt)
    # `--agent-opt script=FILE` is --script said the other way: kept the same way.
    given = args.script or (str(options.pop("script", "")) if agent == "script" else "")
    require_script(agent, given, repo)
    if args.model:
        options["model"] = args.model
    forge = args.forge or getattr(args, "forge_fallback", "local")
    script = _abspath(given) if given else None
    get_backend(agent, with_secrets(options, os.environ), script=script)
    return Settings(
        repo=repo,
        forge=forge,
        agent=agent,
        script=script,
        ci_command=shlex.split(args.ci) if args.ci else [],
        main_branch=args.main or "main",
        agent_options=options,
        github_api_url=args.github_url,
        remote=args.remote or "origin",
        slug=args.slug,
        poll_interval=args.poll_interval or (GITHUB_POLL if forge == "github" else 0.5),
        idle_timeout=args.idle_timeout or 600.0,
        turn_timeout=args.turn_timeout or 3600.0,
        max_concurrency=args.max_concurrency,
        merge_delay=args.merge_delay,
        cooldown=args.cooldown,
        keep_worktrees=args.keep_worktrees,
        **{field: getattr(args, flag) for flag, field in _NOTIFY_FLAGS},
        executor=args.executor or "",
        given=_flags_given(args),
    )


# The flags that say a setting plait.toml may also say (the flag wins when given).
_RESOLVED_FLAGS = (
    ("main", "main_branch"),
    ("poll_interval", "poll_interval"),
    ("idle_timeout", "idle_timeout"),
    ("turn_timeout", "turn_timeout"),
)


def _flags_given(args: argparse.Namespace, before: tuple[str, ...] = ()) -> tuple[str, ...]:
    now = {field for flag, field in _RESOLVED_FLAGS if getattr(args, flag) is not None}
    return tuple(f for f in RESOLVED_BY_FLAG if f in now or f in before)


def changed_settings(proj: Project, args: argparse.Namespace) -> Settings:
    """The project's settings with the flags given now applied (and stored). A flag that
    would change what the project *is* (its repository, its forge) is refused."""
    s = proj.settings
    if args.forge and args.forge != s.forge:
        raise UsageError(
            f"project {proj.name!r} uses the {s.forge} forge, not {args.forge}",
            hint=f"drop --forge, or use another --project for the {args.forge} forge",
        )
    if args.repo and _abspath(args.repo) != s.repo and _toplevel(args.repo) != s.repo:
        raise UsageError(
            f"project {proj.name!r} works on {s.repo}, not {_abspath(args.repo)}",
            hint="drop --repo, or use another --project for that repository",
        )
    updates: dict[str, Any] = {}
    if args.agent or args.script:
        updates["agent"] = pick_agent(args)
    if args.script:
        updates["script"] = _abspath(args.script)
    options = agent_options(args.agent_opt)
    if args.model:
        options["model"] = args.model
    if options:
        updates["agent_options"] = {**s.agent_options, **options}
    for flag, field in (
        ("ci", "ci_command"),
        ("main", "main_branch"),
        ("poll_interval", "poll_interval"),
        ("idle_timeout", "idle_timeout"),
        ("turn_timeout", "turn_timeout"),
        ("max_concurrency", "max_concurrency"),
        ("merge_delay", "merge_delay"),
        ("cooldown", "cooldown"),
        ("keep_worktrees", "keep_worktrees"),
        ("github_url", "github_api_url"),
        ("remote", "remote"),
        ("slug", "slug"),
        *_NOTIFY_FLAGS,
        ("executor", "executor"),
    ):
        value = getattr(args, flag)
        if value is not None:
            updates[field] = shlex.split(value) if field == "ci_command" else value
    if not updates:
        return s
    if s.given is not None or any(getattr(args, f) is not None for f, _ in _RESOLVED_FLAGS):
        before = (
            s.given if s.given is not None else tuple(f for f in RESOLVED_BY_FLAG if s.was_given(f))
        )
        updates["given"] = _flags_given(args, before)
    new = replace(s, **updates)
    get_backend(new.agent, with_secrets(new.agent_options, os.environ), script=new.script)
    proj.store.set_meta("settings", new.to_json())
    proj.settings = new
    return new


def _toplevel(path: str) -> str:
    try:
        return check_repo_quiet(path)
    except Exception:  # not a repo at all: the comparison above already failed
        return ""


def _repo_top(path: str) -> str:
    """The top of the repository at `path`; "" when it is none (check_repo says why)."""
    try:
        return check_repo_quiet(path)
    except Exception:  # a missing folder: check_repo says so
        return ""


def check_repo_quiet(path: str) -> str:
    from plait.workspaces.git import git_sync

    out = git_sync("rev-parse", "--show-toplevel", cwd=_abspath(path), check=False)
    return os.path.realpath(out.out.strip()) if out.code == 0 else ""


def _new_project(
    name: str, args: argparse.Namespace, *, title: str = "", hosts: bool = False
) -> Project:
    check_git_sync()
    check_project_name(name)
    # plait.toml's main when no --main says otherwise: a repository whose work lands on
    # `develop` needs no `main`, and a plait.toml naming a missing branch stops here.
    top = _repo_top(args.repo or ".")
    configured = repo_config(top).main if top else None  # a broken plait.toml stops here
    repo = check_repo(
        args.repo or ".",
        main=args.main or configured or "main",
        forge=args.forge or getattr(args, "forge_fallback", "local"),
        remote=args.remote or "origin",
        main_hint=(
            f"fix [project] main in {os.path.join(top, 'plait.toml')}, or pass --main BRANCH"
            if configured and not args.main
            else "name the branch work should land on with --main BRANCH"
        ),
    )
    settings = new_settings(args, repo.path)
    check_start(settings)  # else every task fails its workspace attempts
    if hosts:
        _check_workers_reachable(name, settings)
    for warning in repo.warnings:
        print(f"plait: warning: {warning}", file=sys.stderr)
    proj = create_project(name, settings)
    try:
        start_project(proj, title=title)
    except BaseException:
        proj.close()
        shutil.rmtree(proj.paths.root, ignore_errors=True)  # no half-made project
        raise
    return proj


def project_name_for(plan: Plan, args: argparse.Namespace) -> str:
    """--project, else the plan's name; a plan name that a project of another repository
    already uses gets a suffix (`name-2`), so projects never mix repositories by accident."""
    if args.project:
        return check_project_name(args.project)
    repo = check_repo_quiet(args.repo or ".")
    taken = set(list_projects())
    suffixed = re.compile(rf"^{re.escape(plan.name)}(-[0-9]+)?$")
    mine = [n for n in taken if suffixed.match(n)]
    for name in sorted(mine, key=len):
        proj = open_project(name)
        try:
            if proj.settings.repo == repo:
                return name  # this repository's project for the plan: add to it
        finally:
            proj.close()
    return unique_name(plan.name, taken)


# ---- run / resume -----------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    for warning in plan.warnings:
        print(f"plait: warning: {warning.render()}", file=sys.stderr)
    name = project_name_for(plan, args)
    if project_paths(name).exists():
        proj = open_project(name)
        try:
            check_start(changed_settings(proj, args))
        except BaseException:
            proj.close()
            raise
        channels = proj.effective().notify
        api = open_api(proj)
        if isinstance(api, LiveAPI):
            proj.close()
            try:
                code = follow_plan(api, plan, json_mode=args.json, tui=faces.wants_tui(args))
            finally:
                api.close()
            # The engine runs on: this plan is done, not (necessarily) the project.
            tell_finished(channels, name, plan, code, project_idle=False)
            return code
        state = proj.store.load()
        if state is None:
            start_project(proj, title=plan.title)
            state = proj.store.load()
        assert state is not None
        command = cmd.add_plan(state, plan, now=time.time())
        code = host_and_report(
            proj, [command.event], ids=command.tasks, args=args, note=command.done
        )
        tell_finished(channels, name, plan, code, project_idle=True)
        return code
    proj = _new_project(name, args, title=plan.title, hosts=True)
    channels = proj.effective().notify
    state = proj.store.load()
    assert state is not None
    command = cmd.add_plan(state, plan, now=time.time())
    code = host_and_report(proj, [command.event], ids=command.tasks, args=args, note=command.done)
    tell_finished(channels, name, plan, code, project_idle=True)
    return code


_FINISHED = {
    exits.OK: "every task landed",
    exits.ATTENTION: "some tasks wait for you (`plait ps`)",
    exits.STOPPED_TASK: "some tasks are stopped (`plait ps`)",
}


def tell_finished(
    channels: Channels, project: str, plan: Plan, code: int, *, project_idle: bool
) -> None:
    """Say that a foreground `plait run` finished, when people asked to hear it. A run
    that hosted the engine left the project idle: the engine said so already, when
    people asked for that."""
    if code not in _FINISHED or not channels.wants("finished"):
        return
    if project_idle and channels.wants("idle"):
        return
    digest = hashlib.sha256("\n".join(plan.ids).encode()).hexdigest()[:12]
    message = Message(
        id=f"finished/{project}/{plan.name}/{digest}",
        kind="finished",
        project=project,
        task="",
        title=f"{project}: plait run {plan.name} finished",
        text=f"{_FINISHED[code]}.",
    )
    # A person waits at this terminal: two tries, not the engine's patience.
    errors = asyncio.run(send_message(replace(channels, retries=min(channels.retries, 2)), message))
    for error in errors:
        print(f"plait: warning: the notification was not sent: {error}", file=sys.stderr)


def host_and_report(
    proj: Project,
    first: Sequence[ev.Event],
    *,
    ids: Sequence[str] | None,
    args: argparse.Namespace,
    extra: dict[str, object] | None = None,
    note: str = "",
) -> int:
    """Host the engine in this process until the project settles; print the summary.
    In a terminal the TUI shows the run (`--headless` for the lines)."""
    if faces.wants_tui(args):
        return faces.host_in_tui(proj, first, ids=ids, token=args.token, extra=extra)
    printer = Printer(json_mode=args.json)
    s = proj.effective().settings
    ci = shlex.join(s.ci_command) if s.ci_command else "none configured"
    printer.note(
        f"project {proj.name}: repo {s.repo}, forge {s.forge}, agent {s.agent}, CI: {ci}"
        + (f"; API on {proj.paths.socket}" if not args.json else "")
    )
    if note:
        printer.note(note)
    result = host(proj, first, observer=printer, options=HostOptions(token=args.token))
    return report(result, ids=ids, json_mode=args.json, extra=extra)


def follow_plan(api: LiveAPI, plan: Plan, *, json_mode: bool, tui: bool = False) -> int:
    """`plait run` on a project whose engine already runs: hand it the plan and follow
    its tasks' lines (or the TUI) until they settle."""
    printer = Printer(json_mode=json_mode)
    reply = api.add_plan(plan)
    ids = [str(r["id"]) for r in reply.get("tasks", [])]
    if tui:
        return faces.follow_in_tui(api, ids)
    printer.note(f"{reply['message']}; following them on the running engine of {api.name}")
    return follow(api, ids, printer=printer, json_mode=json_mode)


def follow(api: LiveAPI, ids: Sequence[str], *, printer: Printer, json_mode: bool) -> int:
    wanted = set(ids)
    lines: list[dict[str, Any]] = []
    lock = threading.Lock()

    def read() -> None:
        for message in api.events():
            if message.get("task") in wanted and message.get("message"):
                with lock:
                    lines.append(message)

    threading.Thread(target=read, daemon=True).start()
    proj = open_project(api.name)
    # The engine may end before this follower does (a foreground `plait run` exits when
    # its tasks settle): then the store says how they stand.
    through = Following(proj, api)
    ended = False
    try:
        while True:
            with lock:
                batch, lines[:] = list(lines), []
            for message in batch:
                printer.line(message)
            if through.call(lambda a: a.settled(list(wanted))):
                break
            if not through.api.live:
                ended = True  # stopped before they settled
                break
            time.sleep(0.3)
        rows = [r for r in through.call(lambda a: a.tasks()) if r["id"] in wanted]
    except KeyboardInterrupt:
        printer.note(f"stopped following; the engine of {api.name} goes on (`plait ps`)")
        return exits.INTERRUPTED
    finally:
        through.api.close()
        proj.close()
    if ended:
        printer.note(f"the engine of {api.name} stopped; `plait resume {api.name}` carries on")
    summary = summary_from_rows(api.name, rows, outcome=rows_outcome(rows, stopped=ended))
    if json_mode:
        print_json(summary)
    else:
        print()
        print(summary_table(summary))
    return exit_code(str(summary["outcome"]))


def cmd_resume(args: argparse.Namespace) -> int:
    check_git_sync()
    proj = open_project(args.project)
    state = proj.store.load()
    if state is None:
        proj.close()
        raise ProjectError(f"project {proj.name!r} has nothing to resume", hint="plait run PLAN")
    Printer(json_mode=args.json).note(f"resuming {proj.name} after {state.events} events")
    return host_and_report(proj, [], ids=None, args=args)


# ---- init / up / down ---------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    repo_dir = check_repo_quiet(args.repo or ".")
    name = args.project or (Path(repo_dir).name.lower() if repo_dir else "")
    from plait.core.plan import slugify

    name = check_project_name(slugify(name, fallback="project") if not args.project else name)
    if project_paths(name).exists():
        raise ProjectError(
            f"project {name!r} already exists",
            hint=f"use it (`plait ps -p {name}`) or --project NEW",
        )
    proj = _new_project(name, args)
    print(
        f"project {name} created for {proj.settings.repo}: add work with `plait add -p {name} "
        f'"…"` or `plait run PLAN -p {name}`; start its engine with `plait up {name}`'
    )
    try:
        _say_if_workers_unreachable(proj)
    finally:
        proj.close()
    return exits.OK


def _check_workers_reachable(name: str, settings: Settings) -> None:
    """`plait run` hosts the engine at once, and an engine whose turns run on workers does
    not start while its Temporal server does not answer: refused before the project is
    made and the plan's tasks said to be added (exit 8). A missing SDK is the engine's to
    say, as for a project made before."""
    executor = effective(name, settings, repo_config(settings.repo)).executor
    if executor.kind != "temporal":
        return
    try:
        from plait.scaleout.connect import check_reachable
    except ImportError:
        return
    check_reachable(executor)


def _say_if_workers_unreachable(proj: Project) -> None:
    """A project whose turns run on workers is made even when its Temporal server does not
    answer yet (it may be started later), but the person hears it now, not at `plait up`."""
    config = proj.effective().executor
    if config.kind != "temporal":
        return
    try:
        from plait.scaleout.connect import check_reachable

        check_reachable(config)
    except ImportError as exc:
        print(
            f"plait: warning: agent turns of {proj.name} run on workers, which need Temporal's "
            f"SDK ({exc.name} is missing): pip install 'plait[temporal]'",
            file=sys.stderr,
        )
    except PlaitError as exc:
        print(
            f"plait: warning: {exc.message}; `plait up {proj.name}` refuses to start until it "
            f"answers ({exc.hint})",
            file=sys.stderr,
        )


def cmd_up(args: argparse.Namespace) -> int:
    if args.foreground:
        load_env_file()  # under launchd: the service's secrets (systemd reads them itself)
    proj = open_project(args.project)
    if args.foreground:
        note = Printer(json_mode=False).note
        options = HostOptions(mode="background", until=None, http_port=args.http, token=args.token)

        def ready(_: object, info: dict[str, object]) -> None:
            where = info["http"] or info["socket"]
            note(f"engine of {proj.name} running (pid {os.getpid()}), API on {where}")

        host(proj, [], observer=Printer(json_mode=False), options=options, on_ready=ready)
        return exits.OK
    if engine_running(proj):
        name = proj.name
        socket = engine_address(proj)
        proj.close()
        if args.http is not None and socket is not None:
            # Already up: have it open its loopback listener too, as `--http` asks.
            api = LiveAPI(name, socket)
            try:
                opened = api.open_http(args.http)
            finally:
                api.close()
            base = str(opened["http"])
            again = f"plait up {name} --http {args.http}"
            warn_port_kept(name, base, args.http, serves="its API", again=again)
            print(f"the engine of {name} is already running; its API is also on {base}")
            return exits.OK
        print(f"the engine of {name} is already running")
        return exits.OK
    from plait.sources.issues import not_watched as issues_not_watched

    name = proj.name
    try:
        check_start(proj.settings)  # said here: the engine's own log is read later
        unwatched = issues_not_watched(proj)  # so is this
    finally:
        proj.close()
    if unwatched:
        print(f"plait: warning: {unwatched}", file=sys.stderr)
    pid = start_engine(name, http=args.http, token=args.token)
    paths = project_paths(name)
    print(
        f"engine of {name} running in the background (pid {pid}); "
        f"log: {paths.engine_log}; stop it with `plait down {name}`"
    )
    if args.http is not None:
        # `--http 0` picks the port: say which, or the address is only in engine.json.
        base = json.loads(paths.engine_info.read_text())["http"]
        print(f"its API is also on {base} (bearer token in {paths.token})")
    return exits.OK


def cmd_down(args: argparse.Namespace) -> int:
    proj = open_project(args.project)
    name = proj.name
    try:
        socket = engine_address(proj, wait=1.0)
        if socket is None:
            print(f"the engine of {name} is not running")
            return exits.OK
        api = LiveAPI(name, socket)
        try:
            api.shutdown()
        except ProjectError:
            _signal_engine(proj, signal.SIGTERM)
        finally:
            api.close()
        deadline = time.monotonic() + args.timeout
        while engine_running(proj):
            if time.monotonic() > deadline:
                _signal_engine(proj, signal.SIGTERM)
                deadline = time.monotonic() + args.timeout
            time.sleep(0.1)
    finally:
        proj.close()
    print(f"the engine of {name} stopped; its work resumes with `plait up {name}`")
    return exits.OK


def _signal_engine(proj: Project, sig: int) -> None:
    try:
        pid = int((proj.paths.root / "engine.lock").read_text().strip())
        os.kill(pid, sig)
    except (OSError, ValueError):
        pass


# ---- the parsers -------------------------------------------------------------------------------
def add_headless_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--headless",
        action="store_true",
        help="print one line per event instead of the TUI (the default when not in a terminal)",
    )


def register(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="add a plan's tasks to a project (created on first use) and follow them to main",
        description="Validate the plan, add its tasks to the project and follow them until "
        "they settle: every task landed (exit 0) or some need a person (exit 10). Runs the "
        "project's engine here, or hands the plan to its running engine (`plait up`).",
    )
    run.add_argument("plan", help="the plan file (gameplan .md or .json)")
    add_project_flag(run)
    add_settings_flags(run)
    add_json_flag(run, "one JSON object per line, the summary last")
    add_headless_flag(run)
    run.set_defaults(handler=cmd_run)

    res = sub.add_parser("resume", help="run a project's engine here until its tasks settle")
    add_project_arg(res)
    res.add_argument("--token", help="GitHub token, for a GitHub project")
    add_json_flag(res, "one JSON object per line, the summary last")
    add_headless_flag(res)
    res.set_defaults(handler=cmd_resume)

    init = sub.add_parser("init", help="create a project for a repository, with no tasks yet")
    add_project_flag(init)
    add_settings_flags(init)
    init.set_defaults(handler=cmd_init)

    up = sub.add_parser("up", help="start a project's engine in the background")
    add_project_arg(up)
    up.add_argument(
        "--http",
        type=port,
        metavar="PORT",
        help="also serve the API on 127.0.0.1:PORT with a token (0: any free port)",
    )
    up.add_argument("--token", help="GitHub token, for a GitHub project")
    up.add_argument(
        "--foreground", action="store_true", help="run the engine in this terminal instead"
    )
    up.set_defaults(handler=cmd_up)

    down = sub.add_parser("down", help="stop a project's background engine cleanly")
    add_project_arg(down)
    down.add_argument(
        "--timeout",
        type=seconds,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for turns under way to stop before signalling (default: 30)",
    )
    down.set_defaults(handler=cmd_down)


__all__ = ["Parser", "register"]


# ---- adopt ---------------------------------------------------------------------------------------
def cmd_adopt(args: argparse.Namespace) -> int:
    """Take over PR #N: hand it to the running engine, or run the project for it here."""
    check_git_sync()
    repo_dir = check_repo_quiet(args.repo or ".")
    from plait.core.plan import slugify

    name = check_project_name(
        args.project or f"{slugify(Path(repo_dir or _abspath(args.repo or '.')).name)}-prs"
    )
    if project_paths(name).exists():
        proj = open_project(name)
        try:
            check_start(changed_settings(proj, args))
        except BaseException:
            proj.close()
            raise
        api = open_api(proj)
        if isinstance(api, LiveAPI):
            proj.close()
            try:
                reply = api.adopt(args.pr, merge=args.merge)
            finally:
                api.close()
            print(reply["message"])
            return exits.OK
        adoption = adoption_event(proj.settings, str(proj.paths.db), args.pr, merge=args.merge,
                                  token=args.token)  # fmt: skip
        return host_and_report(proj, [adoption], ids=[adoption.spec.id], args=args)
    settings = new_settings(args, "")
    if settings.forge == "local":
        raise UsageError(
            f"there is no project {name!r}, so no local PR #{args.pr} to adopt",
            hint="local PRs live inside a project: name it with --project, or use --forge github",
        )
    repo = check_repo(
        args.repo or ".", main=settings.main_branch, forge=settings.forge, remote=settings.remote
    )
    settings = replace(settings, repo=repo.path)
    # Look before creating anything: a failed adopt leaves no half-made project.
    adoption = adoption_event(settings, "", args.pr, merge=args.merge, token=args.token)
    proj = create_project(name, settings)
    start_project(proj, title=name)
    return host_and_report(proj, [adoption], ids=[adoption.spec.id], args=args)


def adoption_event(
    settings: Settings, db: str, number: int, *, merge: bool, token: str | None
) -> ev.TaskAdopted:
    from plait.engine.project import forge_for
    from plait.forges.base import PRInfo

    forge = forge_for(settings, db=db, token=token)

    async def look() -> PRInfo:
        try:
            return await forge.pr_info(number)
        finally:
            await forge.close()

    import asyncio

    return cmd.adopt_event(asyncio.run(look()), merge=merge, now=time.time())


def register_adopt(sub: Any) -> None:
    adopt = sub.add_parser(
        "adopt", help="take over an existing PR and keep it green (CI fixes, reviews, rebases)"
    )
    adopt.add_argument("pr", type=positive_int, help="the PR number")
    add_project_flag(adopt)
    add_settings_flags(adopt, forge_default=None)
    adopt.add_argument("--merge", action="store_true", help="merge it when green and approved")
    add_json_flag(adopt, "one JSON object per line, the summary last")
    add_headless_flag(adopt)
    adopt.set_defaults(handler=cmd_adopt, forge_fallback="github")
