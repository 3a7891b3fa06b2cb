"""`plait swarm` with its agent turns on a `plait worker`, end to end, against the same
swarm run here: a worker's "NOTHING TO DO" skips its ticket with the reason, a planner's
`plait-tasks` proposal on a worker becomes a task that lands — as here (`engine.turn_end`
ends both kinds of turn).

Real parts: the Temporal dev server, `plait worker` and `plait swarm` as processes, real
git repositories, the script agent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from plait.testing.temporal import TemporalDevServer
from tests.cli.helpers_cli import cli_env
from tests.scaleout.workers import Workers
from tests.swarm.helpers_swarm import Swarm, write_file

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _swarm(tmp: Path) -> Swarm:
    tmp.mkdir()
    sw = Swarm.make(tmp, tickets=2)
    sw.task("t1", "start", {"say": "Checked.\nNOTHING TO DO: file1 is not needed"})
    proposal = [{"id": "extra", "summary": "An extra file", "acceptance": ["file3.txt exists"]}]
    sw.task("plan-1", "start", {"say": f"```plait-tasks\n{json.dumps(proposal)}\n```"})
    sw.task("extra", "start", write_file(3))
    sw.task("plan-2", "start", {"say": "NOTHING TO DO: every file is written"})
    return sw


def _outcome(sw: Swarm) -> dict[str, Any]:
    status = sw.status()
    cycles = sorted(
        (e["task"], e["outcome"], e.get("reason", ""))
        for e in status["log"]
        if e["kind"] == "cycle"
    )
    return {"queue": status["queue"], "cycles": cycles, "landed": sw.landed()}


def test_a_swarm_on_a_worker_skips_and_proposes_as_it_does_here(
    tmp_path: Path, temporal: TemporalDevServer, queue: str
) -> None:
    here = _swarm(tmp_path / "here")
    done = here.run()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    spread = _swarm(tmp_path / "spread")
    env = cli_env(spread.tmp)
    with Workers.start(tmp_path, temporal, queue, ["wa"], env=env, slots=3) as workers:
        done = spread.run("--executor", f"temporal://{temporal.address}/{queue}")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        ran = workers["wa"].tasks()
    assert {"t1", "plan-1", "extra"} <= set(ran), ran  # the signalling turns ran there

    mine, theirs = _outcome(here), _outcome(spread)
    assert ("t1", "skipped", "file1 is not needed") in theirs["cycles"], theirs
    assert theirs["landed"] == {"t2": 1, "extra": 1}
    assert theirs == mine
