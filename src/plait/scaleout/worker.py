"""`plait worker`: take agent turns from a Temporal queue on this machine.

A worker runs two Temporal workers in one process: one for the turn workflows of the
base queue (cheap, they only schedule attempts), one for the turns themselves on the
activity queue named by its agents, with `slots` turns at most at once. Its folder holds
the repository mirrors, one worktree per task it worked on, the scripts of the script
backend and the notes of running agent processes; one worker per folder (a lock says
so), and a worker that starts stops whatever a killed predecessor left running there.

Stopping (SIGTERM, SIGINT): the worker stops taking turns and hands the ones it runs
back (each ends as "worker stopped", and its workflow runs it on another worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.worker import Worker

from plait import processes
from plait.agents.registry import BACKENDS
from plait.doctor import find_cli
from plait.errors import ProjectError, UsageError
from plait.pidlock import pid_lock
from plait.plans.executor import ExecutorConfig
from plait.scaleout.connect import WORKFLOW_RUNNER, connect, worker_runtime
from plait.scaleout.routing import activity_queue, identity
from plait.scaleout.turns import ProcessNotes, TurnRunner
from plait.scaleout.workflow import AgentTurn
from plait.store.paths import plait_home, private_dir

STICKY_WAIT = 2.0  # seconds (Temporal's default is 10)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerOptions:
    config: ExecutorConfig  # the server, namespace and base queue (TLS, API key)
    name: str
    slots: int
    agents: tuple[str, ...]
    root: Path  # the worker's folder
    remote: str | None = None  # fetch and push here instead of where the controller says


def default_name() -> str:
    return socket.gethostname().split(".")[0] or "worker"


def default_root(name: str) -> Path:
    return plait_home() / "workers" / name


def check_agents(agents: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [a for a in agents if a not in BACKENDS]
    if unknown:
        raise UsageError(
            f"unknown agent {unknown[0]!r} in --agents",
            hint=f"use some of: {', '.join(sorted(BACKENDS))}",
        )
    return tuple(sorted(set(agents)))


def installed_agents(env: Mapping[str, str]) -> tuple[str, ...]:
    """The agent CLIs found on this machine: what a worker offers unless told."""
    found = tuple(a for a in sorted(BACKENDS) if a != "script" and find_cli(a, env)[0])
    if not found:
        raise UsageError(
            "no agent CLI is installed on this machine",
            hint="install one (`plait doctor` says how) or name them: --agents claude,codex "
            "(script: the simulator)",
        )
    return found


async def serve(
    options: WorkerOptions,
    stop: asyncio.Event,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Take turns until `stop` is set."""
    make_folder(options.root)
    with _folder_lock(options.root):
        notes = ProcessNotes(options.root / "running")
        _reap(notes, options.root)
        client = await connect(
            options.config,
            identity=identity(options.name, options.slots),
            runtime=worker_runtime(),
        )
        runner = TurnRunner(name=options.name, root=options.root, client=client,
                            agents=options.agents, remote=options.remote,
                            processes=notes)  # fmt: skip
        queue = options.config.task_queue
        turns_queue = activity_queue(queue, options.agents)
        workflows = Worker(
            client,
            task_queue=queue,
            workflows=[AgentTurn],
            workflow_runner=WORKFLOW_RUNNER,
            # A turn's workflow sticks to the worker that last ran it; when that worker
            # is lost, its next step (the retry elsewhere) waits this long before any
            # other worker may take it.
            sticky_queue_schedule_to_start_timeout=timedelta(seconds=STICKY_WAIT),
        )
        turns = Worker(
            client,
            task_queue=turns_queue,
            activities=[runner.agent_turn],
            max_concurrent_activities=options.slots,
        )
        async with workflows, turns:
            if on_ready is not None:
                on_ready(turns_queue)
            await stop.wait()


def make_folder(root: Path) -> None:
    """The worker's folder, private (0700) like all of plait's: it holds the agents'
    provider files and the code they work on. `$PLAIT_HOME/workers` is made private too."""
    home = plait_home()
    if root.parent == home / "workers":
        home.mkdir(parents=True, exist_ok=True)
        private_dir(home)
        private_dir(root.parent)
    else:
        root.parent.mkdir(parents=True, exist_ok=True)
    private_dir(root)


def _folder_lock(root: Path) -> contextlib.AbstractContextManager[None]:
    def busy(pid: str) -> ProjectError:
        return ProjectError(
            f"another worker (pid {pid}) uses {root}", hint="give this one its own --name or --dir"
        )

    return pid_lock(root / "worker.lock", busy=busy)


def _reap(notes: ProcessNotes, root: Path) -> None:
    """Stop what a worker killed before left: its agents' groups, anything in its work."""
    victims = {p.pid: p for pid, started in notes.recorded() for p in processes.group(pid, started)}
    work = root / "work"
    if work.is_dir():
        victims.update((p.pid, p) for p in processes.under(str(work)))
    processes.kill(victims.values())
