"""Only a turn whose agent started counts as one of the task's turns (found in a
newcomer trial: with Temporal away, a turn that never started showed as turn 1 in `plait
ps`). A failure is still a failure: the task's failure counters take it as before."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import RunConfig
from plait.core.plan import TaskSpec
from plait.testing.core_driver import CoreDriver
from plait.testing.gitrepo import isolated_home_env
from plait.testing.temporal import TemporalDevServer
from tests.scaleout.harness import Harness, finished


def test_a_turn_that_never_reached_its_agent_is_a_failure_but_no_turn() -> None:
    d = CoreDriver([TaskSpec(id="a", title="do a")], config=RunConfig(project="p", repo="/r"))
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "a")))
    [turn] = d.pending(fx.RunAgent, "a")
    d.feed(ev.AgentFinished(at=d.now, effect_id=turn.id, task="a", ok=False, failure="crash",
                            error="could not hand it out", started=False))  # fmt: skip
    a = d.st.tasks["a"]
    assert a.turns == 0
    assert a.counters.start_failures == 1
    assert a.last_error == "could not hand it out"


@pytest.mark.timeout(120)
def test_a_turn_that_cannot_be_set_up_says_its_agent_never_started(
    tmp_path: Path, temporal: TemporalDevServer, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in isolated_home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)

    async def scenario() -> None:
        async with Harness.start(tmp_path, temporal, queue, {}) as h:
            effect = await h.turn_effect("gone")
            shutil.rmtree(effect.worktree)  # nothing to hand out
            done = finished(await h.executor.run(effect))
            assert (done.ok, done.failure) == (False, "crash")
            assert done.started is False
            assert h.starts() == []

    asyncio.run(scenario())
