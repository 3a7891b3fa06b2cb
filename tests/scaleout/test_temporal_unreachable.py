"""A Temporal server out of reach: an engine refuses to start (exit 8, saying where and
how to fix it); one that goes away under a running engine holds the turn back (`plait ps`
says why, `plait workers` exits 8) instead of spending the task's attempts as crashes,
and the turn runs once the server is back.

Real parts: Temporal dev servers (one of this test's own, stopped and started again on
its port), `plait run` and `plait worker` as processes, a real repository.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from plait.testing.temporal import TemporalDevServer, free_port
from tests.api.helpers_live import until
from tests.cli.helpers_cli import cli_env, plait
from tests.scaleout.test_workers_e2e import Project, _running
from tests.scaleout.workers import Workers

pytestmark = pytest.mark.timeout(240)


def test_run_refuses_to_start_when_temporal_does_not_answer(tmp_path: Path, queue: str) -> None:
    proj = Project(tmp_path, "far", ["1"])
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    done = plait(*proj.run_args("--executor", f"temporal://{address}/{queue}"), home=tmp_path)
    assert done.returncode == 8, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"cannot reach Temporal at {address}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (proj.repo.path / "f1.txt").exists()
    # Refused before anything is made: no project left behind, no task said to be added
    # (found in a newcomer trial: "added 1 task of plan …", then the refusal).
    assert "added" not in done.stdout
    assert not (tmp_path / "plait-home" / "projects" / "far").exists()


def _server_on(port: int, log: Path) -> TemporalDevServer:
    server = TemporalDevServer(log=log)
    server.port, server.address = port, f"127.0.0.1:{port}"
    return server.start()


def _task(name: str, home: Path) -> dict[str, Any]:
    """Task 1's row ({} while the project is not made yet)."""
    ps = plait("ps", "-p", name, "--json", "--all", home=home)
    rows = json.loads(ps.stdout) if ps.returncode == 0 else []
    return next((r for r in rows if r["id"] == "1"), {})


def test_a_turn_waits_while_temporal_is_away_and_runs_when_it_is_back(
    tmp_path: Path, queue: str
) -> None:
    port = free_port()
    server = _server_on(port, tmp_path / "server.log")
    proj = Project(tmp_path, "away", ["1"])
    env = cli_env(tmp_path)
    try:
        args = proj.run_args("--executor", f"temporal://{server.address}/{queue}")
        with _running(args, env) as run:
            # No worker yet: the turn's workflow waits on the queue, and says so.
            until(lambda: _task("away", tmp_path).get("status") == "working", what="the turn")
            queued = until(lambda: _task("away", tmp_path).get("waits_for"), what="a reason")
            assert queued.startswith("a plait worker with the script agent")
            server.stop()
            lost = f"Temporal at {server.address}"
            until(lambda: lost in str(_task("away", tmp_path).get("waits_for")), what="the loss")
            workers = plait("workers", "-p", "away", home=tmp_path)
            assert workers.returncode == 8, workers.stdout + workers.stderr
            assert server.address in workers.stderr
            server = _server_on(port, tmp_path / "server2.log")  # a new, empty server
            with Workers.start(tmp_path, server, queue, ["wa"], env=env):
                out, err = run.communicate(timeout=150)
        assert run.returncode == 0, out[-3000:] + err[-3000:]
    finally:
        server.stop()
    summary = proj.summary(out)
    assert summary["outcome"] == "merged"
    assert summary["tasks"][0]["turns"] == 1  # the wait cost the task no attempt
