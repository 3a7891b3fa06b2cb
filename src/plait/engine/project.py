"""A project on disk: its store, its settings, and the engine assembled from them.

Settings that only the shells need (CI command, script file, hook) live in the store's
meta table next to the run, so `plait resume NAME` rebuilds exactly the same engine.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from plait.core.controller import decide
from plait.core.events import RunStarted
from plait.core.model import RunState
from plait.engine.settings import (
    Effective,
    Settings,
    effective,
    project_config,
    with_secrets,
)
from plait.errors import ExecutorError, GitError, ProjectError, UsageError
from plait.pidlock import pid_lock
from plait.store.paths import ProjectPaths, list_projects, project_paths
from plait.store.sqlite import Store, TranscriptEntry
from plait.ui.headless import timeline_lines

# What an engine is built from is imported where it is built (`build_engine`): every
# `plait ps`, `logs` or `send` opens its project here, and those modules (the agents, the
# forges, the executors, the landing) cost most of the CLI's start.
if TYPE_CHECKING:
    from plait.agents.base import AgentBackend
    from plait.engine.executor import Executor
    from plait.engine.executors import Executors
    from plait.engine.loop import Engine, Observer
    from plait.forges.base import Forge
    from plait.workspaces.containers import Container
    from plait.workspaces.worktrees import GitWorkspaces


@dataclass
class Project:
    paths: ProjectPaths
    store: Store
    settings: Settings

    @property
    def name(self) -> str:
        return self.paths.name

    def close(self) -> None:
        self.store.close()

    def effective(self) -> Effective:
        """The settings in force: the stored flags over the repository's plait.toml."""
        return effective(self.name, self.settings, project_config(self.settings))


def create_project(name: str, settings: Settings) -> Project:
    paths = project_paths(name)
    if paths.exists():
        store = Store(paths.db)
        has_run = store.load() is not None
        store.close()
        if has_run:
            raise ProjectError(
                f"project {name!r} already exists at {paths.root}",
                hint=f"resume it with `plait resume {name}`, or pass --project NEW_NAME",
            )
    paths.make_private()
    store = Store(paths.db)
    store.set_meta("settings", settings.to_json())
    store.set_meta("created_at", str(time.time()))
    return Project(paths=paths, store=store, settings=settings)


def check_repository(proj: Project) -> None:
    """An engine without its repository would fail every task's workspace, over and over:
    it does not start (the project's folder outlives a deleted or moved repository)."""
    repo = proj.settings.repo
    if repo and not os.path.isdir(repo):
        raise GitError(
            f"the repository of project {proj.name}, {repo}, is gone",
            hint=f"put it back there, or remove the project: `plait rm {proj.name} --yes`",
        )


def start_project(proj: Project, *, title: str = "") -> RunState:
    """Record the project's start — its settings, no tasks yet — without an engine."""
    config = effective(proj.name, proj.settings, project_config(proj.settings)).config
    first = RunStarted(at=time.time(), config=config, tasks=(), title=title or proj.name)
    decision = decide(None, first)
    lines = timeline_lines(first, None, decision.state, decision.effects)
    proj.store.commit(first, None, decision.state, decision.effects, lines=lines)
    return decision.state


def default_project(cwd: str | None = None) -> str:
    """The project a command means when it names none: the only one, or the one whose
    repository holds the current directory."""
    names = list_projects()
    if len(names) == 1:
        return names[0]
    if not names:
        raise ProjectError(
            "there is no plait project yet",
            hint="start one with `plait run PLAN` or `plait init --repo PATH`",
        )
    here = Path(cwd or os.getcwd()).resolve()
    holding = [n for n in names if _holds(_repo_of(n), here)]
    if len(holding) == 1:
        return holding[0]
    if holding:  # inside the repository already: that hint would not help
        raise UsageError(
            f"more than one project works on the repository at {here}: " + ", ".join(holding),
            hint="name one with --project NAME",
        )
    raise UsageError(
        "more than one project exists: " + ", ".join(names),
        hint="name one with --project NAME (or run the command inside its repository)",
    )


def _repo_of(name: str) -> str | None:
    try:
        store = Store(project_paths(name).db)
    except ProjectError:
        return None
    try:
        raw = store.get_meta("settings")
        return None if raw is None else str(json.loads(raw).get("repo") or "") or None
    finally:
        store.close()


def _holds(repo: str | None, here: Path) -> bool:
    if not repo:
        return False
    root = Path(repo).resolve()
    return here == root or root in here.parents


def open_project(name: str | None) -> Project:
    if name is None:
        # An agent plait started runs the CLI from its worktree, outside the repository:
        # its environment names the project (see engine.agent_env).
        name = os.environ.get("PLAIT_PROJECT") or default_project()
    paths = project_paths(name)
    if not paths.exists():
        known = ", ".join(list_projects()) or "none"
        raise ProjectError(
            f"no project named {name!r} (known: {known})",
            hint="list projects with `plait status`, or start one with `plait run PLAN`",
        )
    paths.make_private()
    store = Store(paths.db)
    raw = store.get_meta("settings")
    if raw is None:
        store.close()
        raise ProjectError(f"project {name!r} has no settings", hint="start it again")
    return Project(paths=paths, store=store, settings=Settings.from_json(raw))


@contextlib.contextmanager
def engine_lock(project: Project) -> Iterator[None]:
    """One engine per project: two would run every effect twice."""

    def busy(pid: str) -> ProjectError:
        return ProjectError(
            f"project {project.name!r} is already running (engine pid {pid})",
            hint="watch it with `plait status` / `plait logs`; talk to it with `plait send`",
        )

    with pid_lock(project.paths.root / "engine.lock", busy=busy):
        yield


def engine_running(project: Project) -> bool:
    path = project.paths.root / "engine.lock"
    if not path.exists():
        return False
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def make_forge(project: Project, *, token: str | None = None) -> Forge:
    """The project's forge. A GitHub token is taken from `token`, GITHUB_TOKEN or `gh`,
    and lives in memory only: it is never written to the project store."""
    return forge_for(project.effective().settings, db=str(project.paths.db), token=token)


def forge_for(s: Settings, *, db: str, token: str | None = None) -> Forge:
    if s.forge == "local":
        from plait.forges.local import LocalForge

        return LocalForge(
            db,
            s.repo,
            main_branch=s.main_branch,
            ci_command=s.ci_command or None,
            demo_reviews=s.demo_reviews or None,
        )
    if s.forge == "github":
        from plait.forges.github.forge import GitHubForge
        from plait.forges.github.token import Token, resolve_token

        # The reviewer agent's reviews go out as another account when one is given:
        # GitHub takes no approval or change request from the PR's own author.
        reviewer = os.environ.get("PLAIT_REVIEWER_TOKEN", "").strip()
        return GitHubForge(
            s.repo,
            token=resolve_token(token),
            api_url=s.github_api_url,
            remote=s.remote,
            slug=s.slug,
            review_token=Token(reviewer) if reviewer else None,
        )
    raise UsageError(f"unknown forge {s.forge!r}", hint="use --forge local or --forge github")


def project_backend(project: Project, name: str) -> AgentBackend:
    """The agent backend `name` as the project's settings configure it, ready to run."""
    from plait.agents.registry import get_backend

    eff = project.effective()
    home = str(project.paths.root / "agents" / name)
    options = with_secrets(eff.backends.get(name, {}), os.environ)
    backend = get_backend(name, options, script=eff.settings.script, home=home)
    backend.prepare_home()
    return backend


def build_engine(
    project: Project, *, observer: Observer | None = None, token: str | None = None
) -> Engine:
    from plait.engine import reaper
    from plait.engine.agent_env import AgentEnvironment
    from plait.engine.executors import Executors
    from plait.engine.landing import MainLanding
    from plait.engine.loop import Engine
    from plait.engine.ports import release_ports_of_ended_tasks
    from plait.notify import Notifier
    from plait.workspaces.worktrees import GitWorkspaces

    eff = project.effective()
    s = eff.settings
    forge = forge_for(s, db=str(project.paths.db), token=token)
    workspaces = GitWorkspaces(
        s.repo,
        str(project.paths.worktrees),
        main_branch=s.main_branch,
        hook=s.hook,
        remote=s.remote if s.forge != "local" else None,
        report=lambda task, text: project.store.add_warning(task, text, at=time.time()),
    )
    backends: dict[str, AgentBackend] = {}

    def backend_for(name: str) -> AgentBackend:
        if name not in backends:
            backends[name] = project_backend(project, name)
        return backends[name]

    store = project.store

    def transcript(task: str, effect_id: str, kind: str, body: str) -> None:
        store.add_transcript(task, effect_id, time.time(), kind, body)

    def attempts(task: str, effect_id: str) -> list[TranscriptEntry]:
        return [e for e in store.transcript(task) if e.effect_id == effect_id]

    prompts = project.paths.prompts
    if not prompts.is_dir() and eff.prompts_dir:
        prompts = Path(eff.prompts_dir)
    reaper.reap_orphans(store, worktrees=str(project.paths.worktrees))
    landing = MainLanding(
        s.repo,
        project=project.name,
        ci_command=s.ci_command or None,
        work_dir=str(project.paths.scratch / "merge"),
    )
    executors = Executors(
        project=project.name,
        forge=forge,
        workspaces=workspaces,
        backend_for=backend_for,
        transcript=transcript,
        prompts_dir=prompts if prompts.is_dir() else None,
        idle_timeout=s.idle_timeout,
        turn_timeout=s.turn_timeout,
        processes=_Book(store),
        attempts=attempts,
        environment=AgentEnvironment(
            project=project.name,
            socket=str(project.paths.socket),
            store=store,
            default_ports=eff.ports,
        ),
        container=_container(project, eff),
        landing=landing,
    )
    executor: Executor = executors
    if eff.executor.kind == "temporal":
        executor = _temporal(project, eff, executors, workspaces, prompts)
    engine = Engine(
        store=store,
        forge=forge,
        executors=executor,
        observer=observer,
        poll_interval=s.poll_interval,
        narrator=timeline_lines,
        notifier=Notifier(eff.notify, project=project.name),
    )
    engine.watch(release_ports_of_ended_tasks(store))
    return engine


def _container(project: Project, eff: Effective) -> Container | None:
    """The container agents run in, when plait.toml asks for one (its engine must answer)."""
    from plait.workspaces.containers import Container, find_engine

    if not eff.container_image:
        return None
    engine = find_engine(eff.container_engine or "")
    mounts = (eff.settings.repo, str(project.paths.worktrees))
    return Container(engine=engine, image=eff.container_image, mounts=mounts)


def _temporal(
    project: Project,
    eff: Effective,
    local: Executors,
    workspaces: GitWorkspaces,
    prompts: Path,
) -> Executor:
    """Agent turns on workers (`plait worker`), through the Temporal server plait.toml or
    --executor names. Temporal's SDK is an optional dependency, imported only here."""
    try:
        from plait.scaleout.assemble import temporal_executor
    except ImportError as exc:
        raise ExecutorError(
            f"the temporal executor needs Temporal's SDK ({exc.name} is missing)",
            hint="pip install 'plait[temporal]'",
        ) from None
    return temporal_executor(
        name=project.name,
        store=project.store,
        eff=eff,
        local=local,
        workspaces=workspaces,
        prompts_dir=prompts if prompts.is_dir() else None,
    )


class _Book:
    def __init__(self, store: Store) -> None:
        self.store = store

    def remember(self, effect_id: str, pid: int) -> None:
        from plait.engine import reaper

        reaper.remember(self.store, effect_id, pid)

    def forget(self, effect_id: str) -> None:
        from plait.engine import reaper

        reaper.forget(self.store, effect_id)


def resolve_repo(path: str) -> str:
    repo = Path(path).expanduser().resolve()
    if not (repo / ".git").exists():
        raise UsageError(
            f"{repo} is not a git repository",
            hint="pass --repo PATH pointing at a git checkout (git init; git commit)",
        )
    return str(repo)
