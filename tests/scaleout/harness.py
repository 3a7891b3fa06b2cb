"""A controller's TemporalExecutor and a `plait worker`, both in the test's event loop.

    async with Harness.start(tmp, server, queue, script) as h:
        effect = await h.turn_effect("t1")
        event = await h.executor.run(effect)

Real parts throughout: a git repository with real worktrees, the Temporal dev server, the
worker's own mirror and worktrees, the script agent as a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plait.agents.registry import get_backend
from plait.core import effects as fx
from plait.core import events as ev
from plait.engine.executors import Executors
from plait.forges.local import LocalForge
from plait.plans.executor import ExecutorConfig
from plait.scaleout import ControllerFacts, TemporalExecutor, WorkerOptions, serve
from plait.testing.gitrepo import GitRepo
from plait.testing.temporal import TemporalDevServer
from plait.workspaces.worktrees import GitWorkspaces


@dataclass
class Rows:
    """The transcript rows the executor wrote, as a store would keep them."""

    rows: list[tuple[str, str, float, str, str]] = field(default_factory=list)

    def add(self, task: str, effect_id: str, at: float, kind: str, body: str) -> None:
        self.rows.append((task, effect_id, at, kind, body))

    def count(self, task: str, effect_id: str) -> int:
        return sum(1 for r in self.rows if r[:2] == (task, effect_id))

    def kinds(self, effect_id: str) -> list[str]:
        return [r[3] for r in self.rows if r[1] == effect_id]


@dataclass
class Harness:
    tmp: Path
    repo: GitRepo
    config: ExecutorConfig
    workspaces: GitWorkspaces
    executor: TemporalExecutor
    rows: Rows
    worker_root: Path

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        tmp: Path,
        server: TemporalDevServer,
        queue: str,
        script: dict[str, Any],
        *,
        heartbeat_timeout: float = 3.0,
        backends: dict[str, dict[str, Any]] | None = None,
    ) -> AsyncIterator[Harness]:
        repo = GitRepo.init(tmp / "repo", files={"README.md": "x\n"})
        script_path = tmp / "script.json"
        script_path.write_text(json.dumps(script))
        config = ExecutorConfig(kind="temporal", address=server.address, task_queue=queue,
                                heartbeat_timeout=heartbeat_timeout)  # fmt: skip
        workspaces = GitWorkspaces(str(repo.path), str(tmp / "wt"), "main")
        local = Executors(
            project="p",
            forge=LocalForge(str(tmp / "forge.db"), str(repo.path)),
            workspaces=workspaces,
            backend_for=lambda name: get_backend(name, script=str(script_path)),
            transcript=lambda *_: None,
        )
        facts = ControllerFacts(project="p", uid="u", repo=str(repo.path),
                                remote=str(repo.path), script=str(script_path),
                                backends=backends or {})  # fmt: skip
        rows = Rows()
        executor = TemporalExecutor(local=local, config=config, facts=facts,
                                    workspaces=workspaces, transcript=rows.add,
                                    transcript_count=rows.count)  # fmt: skip
        root = tmp / "worker"
        stop, ready = asyncio.Event(), asyncio.Event()
        options = WorkerOptions(config=config, name="w1", slots=2, agents=("script",), root=root)
        worker = asyncio.create_task(serve(options, stop, on_ready=lambda _: ready.set()))
        try:
            await _first(ready.wait(), worker)
            yield cls(tmp, repo, config, workspaces, executor, rows, root)
        finally:
            stop.set()
            await asyncio.gather(worker, return_exceptions=True)

    async def turn_effect(self, task: str, *, n: int = 2) -> fx.RunAgent:
        """A start turn for `task` in its prepared worktree of record."""
        prepared = await self.workspaces.prepare(task=task, branch=f"b-{task}", base_branch="main")
        turn = fx.Turn(kind="start", title=f"Do {task}", description="", branch=f"b-{task}",
                       base_branch="main")  # fmt: skip
        return fx.RunAgent(id=f"{task}/{n}/agent", task=task, agent="script",
                           worktree=prepared.path, base_sha=prepared.base_sha, session_id="",
                           turn=turn)  # fmt: skip

    def starts(self) -> list[dict[str, Any]]:
        """The agent processes the worker started (the script agent logs each)."""
        lines = []
        for log in sorted(self.worker_root.glob("repos/*/plait-script-starts.jsonl")):
            lines += [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
        return lines

    async def until(self, check: Any, timeout: float = 60) -> None:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.05)


async def _first(wait: Any, worker: asyncio.Task[None]) -> None:
    """Wait for `wait`; fail at once if the worker died instead."""
    waiting = asyncio.ensure_future(wait)
    done, _ = await asyncio.wait({waiting, worker}, return_when=asyncio.FIRST_COMPLETED)
    if worker in done:
        waiting.cancel()
        worker.result()
        raise AssertionError("the worker stopped before it was ready")


def finished(event: ev.Event) -> ev.AgentFinished:
    assert isinstance(event, ev.AgentFinished), event
    return event
