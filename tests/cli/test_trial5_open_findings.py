"""The open findings of the fifth newcomer trial, end to end with the real `plait` CLI.

Each test says what the trial saw before the fix."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from plait.testing.gitrepo import run_git
from tests.api.helpers_live import Live, turn
from tests.cli.helpers_cli import plait
from tests.swarm.helpers_swarm import Swarm

pytestmark = pytest.mark.slow

SCRIPT = {
    "tasks": {
        "m1": {"start": [{"say": "one"}]},
        "m2": {"start": [turn("wrote notes", "notes.txt", "notes\n", "Add notes")]},
    }
}


def test_a_mission_prints_one_line_with_or_without_an_engine(tmp_path: Path) -> None:
    live = Live.make(tmp_path, SCRIPT)
    live.ok("init", "--repo", str(live.repo), "--project", "p", "--agent", "script",
            "--script", str(live.script))  # fmt: skip
    queued = live.ok("mission", "Find why the build got slow", "--name", "slow-build", "-p", "p")
    assert queued.startswith("mission m1 (slow-build) started — queued"), queued
    live.ok("up", "p")
    try:
        started = live.ok("mission", "crasher", "-p", "p")
        # It printed "m2 crasher" with an engine running (README: "mission m1 (…) started").
        assert started == "mission m2 (crasher) started\n"
        assert live.plait("wait", "m2", "-p", "p").returncode == 0
        # Its branch stayed with its commit, and nothing said where (O3).
        result = live.ok("result", "m2", "-p", "p")
        assert "-- its branch plait/p/m2 stays in the repository" in result
        assert "`git branch -D plait/p/m2`" in result
        assert "notes.txt" in run_git("show", "--stat", "plait/p/m2", cwd=live.repo)
        assert live.json("result", "m2", "-p", "p")["branch"] == "plait/p/m2"
    finally:
        live.plait("down", "p")


def test_a_skipped_ticket_is_settled_for_ps_wait_and_result(tmp_path: Path) -> None:
    sw = Swarm.make(tmp_path, tickets=1)
    sw.no_planners()
    sw.task("t1", "start", {"say": "Checked.\nNOTHING TO DO: file1 is there already"})
    done = sw.run()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # `plait ps` listed it among the tasks not landed yet.
    assert live_plait(sw, "ps", "-p", "sw").stdout.startswith("no tasks")
    every = live_plait(sw, "ps", "--all", "-p", "sw").stdout
    assert "t1    skipped" in every
    waited = live_plait(sw, "wait", "t1", "-p", "sw", "--timeout", "5")
    # It said "no engine runs for sw, so these tasks will not move" (exit 5).
    assert (waited.returncode, waited.stdout) == (0, "t1: skipped\n")
    assert live_plait(sw, "result", "t1", "-p", "sw").returncode == 0


def live_plait(sw: Swarm, *args: str) -> subprocess.CompletedProcess[str]:
    out = plait(*args, home=sw.tmp)
    assert "Traceback" not in out.stderr
    return out


def test_mission_script_says_the_script_is_the_projects(tmp_path: Path) -> None:
    live = Live.make(tmp_path, SCRIPT)
    live.ok("init", "--repo", str(live.repo), "--project", "p", "--agent", "script",
            "--script", str(live.script))  # fmt: skip
    out = live.plait("mission", "x", "--script", str(live.script), "-p", "p")
    # It was argparse's "unrecognized arguments: --script …" with the usage.
    assert out.returncode == 2
    assert "the script agent's file is a project setting" in out.stderr
    assert "`plait init --script FILE`" in out.stderr
    assert "Traceback" not in out.stderr
    assert live.json("ps", "-p", "p") == []  # nothing was queued
    assert "plait init --script FILE" in " ".join(live.ok("mission", "--help").split())
