"""What `plait workers` says a worker is, from its last heartbeat and its silence since."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import WorkerStatus

from plait.scaleout.registry import STOPPED_AFTER, worker_state
from plait.scaleout.routing import LOST_AFTER
from plait.testing.temporal import TemporalDevServer
from tests.api.helpers_live import until
from tests.cli.helpers_cli import cli_env, plait
from tests.scaleout.workers import Workers

pytestmark = pytest.mark.timeout(120)

RUNNING = WorkerStatus.WORKER_STATUS_RUNNING
STOPPING = WorkerStatus.WORKER_STATUS_SHUTTING_DOWN
STOPPED = WorkerStatus.WORKER_STATUS_SHUTDOWN


def test_a_worker_that_said_it_was_stopping_and_fell_silent_has_stopped() -> None:
    assert worker_state(STOPPING, silent=1.0) == "stopping"
    assert worker_state(STOPPING, silent=STOPPED_AFTER + 1) == "stopped"


def test_a_running_worker_that_fell_silent_is_lost() -> None:
    assert worker_state(RUNNING, silent=1.0) == "running"
    assert worker_state(RUNNING, silent=LOST_AFTER + 1) == "lost"


def test_a_worker_that_said_it_stopped_stays_stopped() -> None:
    assert worker_state(STOPPED, silent=0.0) == "stopped"
    assert worker_state(STOPPED, silent=LOST_AFTER + 1) == "stopped"


def test_a_worker_stopped_with_sigterm_is_listed_as_stopped(
    tmp_path: Path, temporal: TemporalDevServer, queue: str
) -> None:
    env = cli_env(tmp_path)
    with Workers.start(tmp_path, temporal, queue, ["wa"], env=env) as workers:
        workers["wa"].stop()  # SIGTERM, and the worker exits

    def state() -> str:
        listed = plait("workers", "--temporal", temporal.address, "--queue", queue, "--json",
                       home=tmp_path)  # fmt: skip
        rows = json.loads(listed.stdout)["workers"]
        return str(rows[0]["state"]) if rows else "gone"

    until(lambda: state() in ("stopped", "gone"), timeout=60, what="the worker to be stopped")
