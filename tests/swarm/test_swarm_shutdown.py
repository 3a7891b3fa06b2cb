"""Stopping a swarm (issue 10): the first Ctrl-C lets the turns under way finish their
cycle and claims nothing new; a second stops at once, and the next start gives the claims
back; a worker that never completes is nudged, then its claim goes back to the queue."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from plait.agents.scripted import STARTS_FILE
from tests.swarm.helpers_swarm import Swarm, write_file

pytestmark = pytest.mark.slow


def _slow(i: int) -> dict[str, Any]:
    turn = write_file(i)
    return {**turn, "actions": [{"sleep": 3}, *turn["actions"]]}


def _wait_turns(sw: Swarm, n: int, proc: subprocess.Popen[str]) -> None:
    """Until `n` worker turns run (the script agent writes a line as each starts): a
    claim whose turn has not begun yet would go back at the first Ctrl-C."""
    starts = sw.repo / ".git" / STARTS_FILE
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if starts.exists() and len(starts.read_text().splitlines()) >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"never {n} turns")


def test_a_first_ctrl_c_lets_the_turns_under_way_finish_and_claims_no_more(
    tmp_path: Path,
) -> None:
    sw = Swarm.make(tmp_path, tickets=6)
    for i in range(1, 7):
        sw.task(f"t{i}", "start", _slow(i))
    sw.no_planners()
    proc = sw.start()
    _wait_turns(sw, 3, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    landed = sw.landed()
    assert len(landed) == 3  # the three cycles under way finished
    assert set(landed.values()) == {1}
    status = sw.status()
    assert status["queue"]["waiting"] == 3
    assert not [w for w in status["workers"] if w["claim"]]
    # The next start goes on with the rest.
    done = sw.run()
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(sw.landed()) == 6


def test_a_second_ctrl_c_stops_at_once_and_the_next_start_gives_the_claims_back(
    tmp_path: Path,
) -> None:
    sw = Swarm.make(tmp_path, tickets=4)
    sw.no_planners()
    for i in range(1, 5):
        sw.task(f"t{i}", "start", _slow(i))
        sw.task(f"t{i}", "continue", write_file(i))
    proc = sw.start()
    _wait_turns(sw, 3, proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert sw.landed() == {}
    held = [w for w in sw.status()["workers"] if w["claim"]]
    assert len(held) == 3  # held in the store until the next start
    done = sw.run()
    assert done.returncode == 0, done.stderr[-2000:]
    assert set(sw.landed()) == {"t1", "t2", "t3", "t4"}
    log = sw.status()["log"]
    interrupted = [e for e in log if e["kind"] == "cycle" and e["outcome"] == "interrupted"]
    assert len(interrupted) == 3
    assert all(e["returned"] == [e["task"]] for e in interrupted)


def test_a_worker_that_never_completes_is_nudged_then_gives_its_claim_back(
    tmp_path: Path,
) -> None:
    sw = Swarm.make(tmp_path, tickets=2)
    sw.no_planners()
    config = (tmp_path / "swarm.toml").read_text()
    config = config.replace("count = 3\n", "count = 1\nmax_resumes = 2\n", 1)
    (tmp_path / "swarm.toml").write_text(config)
    stuck = {"say": "still thinking about it"}
    for kind in ("start", "nudge", "wrapup"):
        sw.task("t1", kind, stuck)
    done = sw.run()
    assert done.returncode == 10, done.stderr[-2000:]  # t1 needs a person in the end
    assert set(sw.landed()) == {"t2"}
    status = sw.status()
    cycles = [e for e in status["log"] if e["task"] == "t1" and e["kind"] == "cycle"]
    assert [e["outcome"] for e in cycles] == ["stuck", "stuck", "stuck"]
    assert [bool(e["returned"]) for e in cycles] == [True, True, False]
    assert "no completion after 2 resumes and a wrap-up nudge" in cycles[0]["reason"]
    assert status["queue"]["stuck"] == 1
    assert not [w for w in status["workers"] if w["claim"]]
