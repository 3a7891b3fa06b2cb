"""A turn on a worker ends as a local one does (`engine.turn_end`): an agent that moves
main from a worker is caught and main put back, and what a worker's agent signals in its
answer (NOTHING TO DO, `plait-tasks` proposals, a change of ticket files only) reaches
the controller exactly as it does from a turn run here. Each case runs the same script
once on a worker and once here, and compares."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from plait.core import events as ev
from plait.testing.gitrepo import isolated_home_env
from plait.testing.temporal import TemporalDevServer
from tests.scaleout.harness import Harness, finished

pytestmark = pytest.mark.timeout(120)

PROPOSAL = {"id": "next-one", "summary": "Do the next thing"}
PLANNED = f"Filed one.\n\n```plait-tasks\n{json.dumps(PROPOSAL)}\n```\n"


def _script(repo: Path) -> dict[str, Any]:
    """Each turn twice: `<name>` runs on the worker, `<name>-here` on the controller."""
    # The agent fetches its own work into the shared repository and moves main there, as
    # an agent on a worker that reaches the project's repository could.
    move_main = (
        'git -C "$1" fetch -q "$PWD" HEAD && git -C "$1" update-ref refs/heads/main FETCH_HEAD'
    )
    turns = {
        "rogue": [
            {"write": "r.txt", "content": "r\n"},
            {"commit": "Add r"},
            {"run": ["sh", "-c", move_main, "sh", str(repo)]},
        ],
        "idle": [],
        "planner": [{"write": "tickets/next-one.md", "content": "next\n"}, {"commit": "File it"}],
    }
    says = {"rogue": "done", "idle": "NOTHING TO DO: it is there already", "planner": PLANNED}
    tasks = {}
    for name, actions in turns.items():
        for task in (name, f"{name}-here"):
            tasks[task] = {"start": [{"say": says[name], "actions": actions}]}
    return {"tasks": tasks}


@pytest.fixture(autouse=True)
def _git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in isolated_home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)


async def _both(h: Harness, name: str, **merge: Any) -> tuple[ev.AgentFinished, ev.AgentFinished]:
    """The turn of `name` on the worker, then here (effects of a merge-landing swarm when
    `merge` names its tickets folder)."""
    there = dataclasses.replace(await h.turn_effect(name), **merge)
    here = dataclasses.replace(await h.turn_effect(f"{name}-here"), **merge)
    on_worker = finished(await h.executor.run(there))
    locally = finished(await h.executor.local.run(here))
    assert [s["task"] for s in h.starts()][-1:] == [name]  # the first one did run on the worker
    return on_worker, locally


def _signals(done: ev.AgentFinished) -> tuple[object, ...]:
    proposed = tuple((p.id, p.title) for p in done.proposed)
    return (done.ok, done.failure, done.nothing_to_do, proposed, done.tickets_only,
            done.commits_ahead)  # fmt: skip


def _on_harness(
    tmp_path: Path,
    server: TemporalDevServer,
    queue: str,
    check: Callable[[Harness], Awaitable[None]],
) -> None:
    async def scenario() -> None:
        async with Harness.start(tmp_path, server, queue, _script(tmp_path / "repo")) as h:
            await check(h)

    asyncio.run(scenario())


def test_an_agent_on_a_worker_that_moves_main_is_stopped_and_main_put_back(
    tmp_path: Path, temporal: TemporalDevServer, queue: str
) -> None:
    async def check(h: Harness) -> None:
        before = h.repo.rev("main")
        on_worker, locally = await _both(h, "rogue")
        assert (on_worker.ok, on_worker.failure) == (False, "forbidden"), on_worker
        assert "put 1 commit(s) of its own on main" in on_worker.error, on_worker.error
        assert h.repo.rev("main") == before
        assert "Warning" in h.rows.kinds(on_worker.effect_id)
        assert _signals(on_worker) == _signals(locally)
        assert on_worker.error.split(" (")[0] == locally.error.split(" (")[0]

    _on_harness(tmp_path, temporal, queue, check)


def test_a_workers_nothing_to_do_and_proposals_reach_the_controller_as_from_here(
    tmp_path: Path, temporal: TemporalDevServer, queue: str
) -> None:
    async def check(h: Harness) -> None:
        swarm = {"tickets": "tickets", "proposals": True}
        idle, idle_here = await _both(h, "idle", **swarm)
        assert idle.nothing_to_do == "it is there already"
        assert _signals(idle) == _signals(idle_here)

        planner, planner_here = await _both(h, "planner", **swarm)
        assert [p.id for p in planner.proposed] == ["next-one"]
        assert planner.tickets_only
        assert _signals(planner) == _signals(planner_here)

    _on_harness(tmp_path, temporal, queue, check)
