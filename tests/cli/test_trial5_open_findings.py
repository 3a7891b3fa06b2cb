"""The open findings of the fifth newcomer trial, end to end with the real `plait` CLI.

Each test says what the trial saw before the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.helpers_live import Live

pytestmark = pytest.mark.slow

SCRIPT = {"tasks": {"m1": {"start": [{"say": "one"}]}, "m2": {"start": [{"say": "two"}]}}}


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
    finally:
        live.plait("down", "p")
