"""Budgets on a real engine with the script agent: a task stops taking turns at its
budget (the turn under way finishes), the run settles saying so, and `plait budget`
raising it lets the task go on to land."""

from __future__ import annotations

import json
from pathlib import Path

from plait.agents.scripted import STARTS_FILE
from tests.api.helpers_live import Live, turn

PLAN = """\
# Gameplan: budgeted

## Patches

### Patch 1: Add one
Write notes/one.txt.

## Dependency Graph

- Patch 1 -> []
"""
FAILING = {"say": "not yet", "actions": [{"fail": "failed", "message": "flaky"}]}
SCRIPT = {"tasks": {"1": {"start": [FAILING, turn("done", "notes/one.txt", "1\n", "Add one")]}}}


def _starts(live: Live) -> list[dict[str, str]]:
    path = live.repo / ".git" / STARTS_FILE
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_task_stops_at_its_budget_and_resumes_when_it_is_raised(tmp_path: Path) -> None:
    live = Live.make(tmp_path, SCRIPT)
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN)
    run = live.plait(
        "run", str(plan), "--repo", str(live.repo), "--script", str(live.script),
        "--task-budget-tokens", "1",
    )  # fmt: skip
    # The first turn ran (and failed); its retry waits for a person: the run settles.
    assert run.returncode == 10, run.stdout + run.stderr
    assert "OVER BUDGET: its budget is reached" in run.stdout
    assert "1 is over budget" in run.stdout
    assert "`plait budget -p budgeted --task 1 --tokens N`" in run.stdout
    assert len(_starts(live)) == 1
    [row] = live.json("ps", "-p", "budgeted")
    assert row["status"] == "over-budget"
    assert row["budget"] == {"tokens": 1, "dollars": None}
    assert "tokens used" in row["over_budget"]
    shown = live.json("budget", "--task", "1", "-p", "budgeted")
    assert shown["task"]["waiting"]
    said = live.plait("budget", "--task", "1", "-p", "budgeted")
    assert "`plait budget -p budgeted --task 1 --tokens N`" in said.stdout, said.stdout

    assert live.plait("up", "budgeted").returncode == 0
    try:
        said = live.json("budget", "--task", "1", "--tokens", "1000000", "-p", "budgeted")
        assert said["ok"] is True
        assert "budget of task 1: 1,000,000 tokens" in said["message"]
        waited = live.plait("wait", "1", "-p", "budgeted", "--timeout", "90")
        assert waited.returncode == 0, waited.stdout + waited.stderr
        project = live.json("budget", "-p", "budgeted")
    finally:
        live.plait("down", "budgeted")
    assert len(_starts(live)) == 2
    assert live.main_files()["notes/one.txt"] == "1\n"
    assert project["by_agent"]["script"]["turns"] == 2
    assert project["tokens"] > 0
    log = (live.home() / "budgeted" / "engine.log").read_text()
    assert "budget of task 1 set: 1,000,000 tokens" in log
