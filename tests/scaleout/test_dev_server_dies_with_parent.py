"""A Temporal dev server started by a process that is killed goes with it: a killed pytest
left its session's server running (found an hour later)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from plait.testing.temporal import TemporalUnavailable, temporal_cli

PARENT = """
import sys, time
from pathlib import Path
from plait.testing.temporal import TemporalDevServer
server = TemporalDevServer(log=Path(sys.argv[1])).start()
print(server.proc.pid, server.port, flush=True)
time.sleep(600)
"""


def _gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids):
            return True
        time.sleep(0.2)
    return False


def test_a_dev_server_goes_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    try:
        temporal_cli()
    except TemporalUnavailable as exc:
        pytest.skip(str(exc))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path / "server.log")],
        stdout=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    assert parent.stdout is not None
    started, port = map(int, parent.stdout.readline().split())
    tree = [psutil.Process(started), *psutil.Process(started).children(recursive=True)]
    servers = [p for p in tree if p.name() == "temporal"]
    pids = [p.pid for p in tree]
    try:
        assert len(servers) == 1, tree
        assert any(c.laddr.port == port for c in servers[0].net_connections("tcp"))
        parent.send_signal(signal.SIGKILL)  # no cleanup of its own can run
        parent.wait()
        # It was still running after its parent was gone.
        assert _gone(pids, within=20), [psutil.Process(p).cmdline() for p in pids]
    finally:
        parent.stdout.close()
        for pid in pids:
            if psutil.pid_exists(pid):
                os.kill(pid, signal.SIGKILL)
