"""A turn on a worker, seen from the controller's executor: one turn per effect id, a
kill that reaches the agent, and a controller that stops and picks the turn up again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from plait import processes
from plait.testing.gitrepo import isolated_home_env
from plait.testing.temporal import TemporalDevServer
from tests.scaleout.harness import Harness, finished

pytestmark = pytest.mark.timeout(120)


def _turn(say: str, *actions: dict[str, Any]) -> dict[str, Any]:
    return {"start": [{"say": say, "actions": list(actions)}]}


SCRIPT = {
    "tasks": {
        "quick": _turn("wrote it", {"write": "a.txt", "content": "a\n"}, {"commit": "Add a"}),
        "slow": _turn(
            "slept", {"write": "s.txt", "content": "s\n"}, {"commit": "Add s"}, {"sleep": 4}
        ),
        "long": _turn("never", {"sleep": 120}),
    }
}


@pytest.fixture(autouse=True)
def _git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in isolated_home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)


def test_a_turn_runs_on_the_worker_and_lands_in_the_worktree_of_record(
    tmp_path: Path, temporal: TemporalDevServer, queue: str
) -> None:
    async def scenario() -> None:
        async with Harness.start(tmp_path, temporal, queue, SCRIPT) as h:
            effect = await h.turn_effect("quick")
            done = finished(await h.executor.run(effect))
            assert done.ok, done.error
            assert done.commits_ahead == 1
            assert done.reply == "wrote it"
            assert done.session_id
            assert done.usage.total_tokens > 0
            state = await h.workspaces.work_state(worktree=effect.worktree)
            assert state.head_sha == done.head_sha
            assert (Path(effect.worktree) / "a.txt").read_text() == "a\n"
            kinds = h.rows.kinds(effect.id)
            assert kinds[0] == "Prompt"
            assert "FinalResult" in kinds
            assert [s["task"] for s in h.starts()] == ["quick"]
            # The turn's refs are gone again from the repository.
            refs = h.repo.git("for-each-ref", "refs/plait/start", "refs/plait/done")
            assert refs.strip() == ""

            # The same effect again (a duplicate dispatch, a restart): the same result,
            # from the same workflow; the agent does not run twice, no row is repeated.
            again = finished(await h.executor.run(effect))
            assert (again.ok, again.head_sha, again.reply) == (True, done.head_sha, done.reply)
            assert len(h.starts()) == 1
            assert h.rows.kinds(effect.id) == kinds

    asyncio.run(scenario())


def test_a_kill_stops_the_agent_on_its_worker(
    tmp_path: Path, temporal: TemporalDevServer, queue: str
) -> None:
    async def scenario() -> None:
        async with Harness.start(tmp_path, temporal, queue, SCRIPT) as h:
            effect = await h.turn_effect("long")
            run = asyncio.create_task(h.executor.run(effect))
            await h.until(lambda: "ToolCall" in h.rows.kinds(effect.id))
            assert h.executor.placement() == {"long": "w1"}
            agents = processes.under(str(h.worker_root / "work"))
            assert agents, "the agent runs in the worker's worktree"
            assert h.executor.interrupt(effect.id)
            run.cancel()
            done = finished(await run)
            assert (done.ok, done.failure) == (False, "killed")
            assert processes.under(str(h.worker_root / "work")) == []
            assert h.executor.placement() == {}

    asyncio.run(scenario())


def test_a_stopping_controller_leaves_the_turn_running_and_picks_it_up_again(
    tmp_path: Path, temporal: TemporalDevServer, queue: str
) -> None:
    async def scenario() -> None:
        async with Harness.start(tmp_path, temporal, queue, SCRIPT) as h:
            effect = await h.turn_effect("slow")
            run = asyncio.create_task(h.executor.run(effect))
            await h.until(lambda: "ToolCall" in h.rows.kinds(effect.id))
            run.cancel()  # the engine stops (not a kill): the turn goes on on its worker
            with pytest.raises(asyncio.CancelledError):
                await run
            written = h.rows.count("slow", effect.id)
            assert written > 0
            done = finished(await h.executor.run(effect))  # the engine runs again
            assert done.ok, done.error
            assert done.commits_ahead == 1
            assert [s["task"] for s in h.starts()] == ["slow"]
            # The worker sends the whole transcript before the result (its last batch could
            # come after it on a loaded machine, and this had to wait for it).
            kinds = h.rows.kinds(effect.id)
            assert kinds.count("Prompt") == 1
            assert kinds.count("FinalResult") == 1

    asyncio.run(scenario())
