"""Executors driving real agent processes (the script backend) in real git worktrees."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from plait.agents import ScriptBackend, TurnSpec
from plait.agents.base import AgentBackend, starts_first_alone
from plait.agents.registry import BACKENDS
from plait.core import effects as fx
from plait.core import events as ev
from plait.engine.executors import Executors
from plait.forges.local import LocalForge
from plait.testing.gitrepo import GitRepo, isolated_home_env
from plait.workspaces.worktrees import GitWorkspaces

WRITE_AND_COMMIT = {
    "default": {
        "start": [{"say": "done", "actions": [{"write": "f.txt", "content": "x"}, {"commit": "f"}]}]
    }
}


@pytest.fixture(autouse=True)
def _git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in isolated_home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)


class ScriptBacked:
    """The script backend's environment, home and decoder; a subclass says what runs."""

    name = "script"

    def __init__(self, script: Path) -> None:
        self.inner = ScriptBackend(script=str(script))

    def argv(self, spec: TurnSpec) -> list[str]:
        return self.inner.argv(spec)

    def env(self, base: Mapping[str, str], spec: TurnSpec) -> dict[str, str]:
        return self.inner.env(base, spec)

    def prepare_home(self) -> None:
        self.inner.prepare_home()

    def decoder(self):  # type: ignore[no-untyped-def]
        return self.inner.decoder()


class StopsItself(ScriptBacked):
    """The script backend, except that task `stuck`'s agent stops itself (SIGSTOP) before
    it prints anything: a first turn that never streams."""

    def argv(self, spec: TurnSpec) -> list[str]:
        if spec.task_id == "stuck":
            return ["sh", "-c", "kill -STOP $$"]
        return self.inner.argv(spec)


class Book:
    """Where the executors write down agent pids; tells the test when one started."""

    def __init__(self) -> None:
        self.pids: dict[str, int] = {}
        self.spawned = asyncio.Event()

    def remember(self, effect_id: str, pid: int) -> None:
        self.pids[effect_id] = pid
        self.spawned.set()

    def forget(self, effect_id: str) -> None:
        self.pids.pop(effect_id, None)


def make_executors(tmp_path: Path, backend: AgentBackend, **options: object) -> Executors:
    repo = GitRepo.init(tmp_path / "repo", files={"README.md": "x\n"})
    return Executors(
        project="p",
        forge=LocalForge(str(tmp_path / "forge.db"), str(repo.path)),
        workspaces=GitWorkspaces(str(repo.path), str(tmp_path / "wt"), "main"),
        backend_for=lambda _: backend,
        transcript=lambda *_: None,
        **options,  # type: ignore[arg-type]
    )


async def agent_effect(executors: Executors, task: str) -> fx.RunAgent:
    """A start turn for `task` in its freshly prepared worktree."""
    ready = await executors.run(
        fx.PrepareWorkspace(id=f"{task}/1/ws", task=task, branch=f"b-{task}", base_branch="main")
    )
    assert isinstance(ready, ev.WorkspaceReady), ready
    turn = fx.Turn(kind="start", title=task, description="", branch=f"b-{task}", base_branch="main")
    return fx.RunAgent(
        id=f"{task}/2/agent",
        task=task,
        agent="script",
        worktree=ready.path,
        base_sha=ready.base_sha,
        session_id="",
        turn=turn,
    )


def _second_turn_beside_a_silent_first(
    tmp_path: Path, backend: StopsItself, *, warm_up_wait: float
) -> None:
    """The backend's first turn runs and never streams; a second turn must still finish
    within 60 s, and the first is still running then."""

    async def scenario() -> None:
        book = Book()
        executors = make_executors(
            tmp_path,
            backend,
            warm_up_wait=warm_up_wait,
            idle_timeout=None,
            turn_timeout=None,
            processes=book,
        )
        first, second = [await agent_effect(executors, t) for t in ("stuck", "other")]
        stuck = asyncio.create_task(executors.run(first))
        await book.spawned.wait()  # the stuck turn is the backend's first, and it runs
        try:
            other = await asyncio.wait_for(executors.run(second), timeout=60)
            assert isinstance(other, ev.AgentFinished), other
            assert other.ok, other.error
            assert not stuck.done()
        finally:
            stuck.cancel()
            await asyncio.gather(stuck, return_exceptions=True)

    asyncio.run(scenario())


def test_a_stopped_first_turn_holds_the_others_back_only_briefly(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(WRITE_AND_COMMIT))
    # Without a bound, the second turn would wait for the stopped agent to stream: forever.
    _second_turn_beside_a_silent_first(tmp_path, StopsItself(script), warm_up_wait=0.2)


class StartsSideBySide(StopsItself):
    """A backend that says its first starts do not race (as claude's does)."""

    first_start_alone = False


def test_a_backend_that_starts_side_by_side_does_not_wait_for_its_first_turn(
    tmp_path: Path,
) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(WRITE_AND_COMMIT))
    # A backend that starts alone first would hold the second turn back for 120 s.
    _second_turn_beside_a_silent_first(tmp_path, StartsSideBySide(script), warm_up_wait=120.0)


def test_claude_starts_side_by_side_and_the_other_clis_alone_first() -> None:
    alone = {name for name, cls in BACKENDS.items() if starts_first_alone(cls)}
    assert "claude" not in alone
    assert {"gemini", "opencode"} <= alone
