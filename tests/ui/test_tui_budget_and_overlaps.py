"""The TUI shows what the engine says about budgets and overlapping branches."""

from __future__ import annotations

from rich.console import Console

from plait.ui.tui.detail import facts
from plait.ui.tui.tasklist import cells, overlaps_text
from plait.ui.tui.text import status_style


def _text(renderable: object) -> str:
    console = Console(width=120, record=True)
    console.print(renderable)
    return console.export_text()


def test_over_budget_and_overlaps_reach_the_detail_and_the_list() -> None:
    row = {
        "id": "t1",
        "title": "Edit the parser",
        "status": "over-budget",
        "budget": {"tokens": 1000, "dollars": None},
        "over_budget": "the task's budget of 1,000 tokens",
        "overlaps": [{"with": "t2", "main": False, "paths": ["src/parse.py"]},
                     {"with": "main", "main": True, "paths": ["README.md"]}],
        "held_by": "t3",
        "waits_for": "the task's budget of 1,000 tokens",  # said once, as over budget
    }  # fmt: skip
    shown = _text(facts(row))
    assert "Budget" in shown
    assert "1,000 tokens" in shown
    assert "over: the task's budget of 1,000 tokens" in shown
    assert "with t2: src/parse.py" in shown
    assert "with main: README.md" in shown
    assert "Held back by    t3" in shown
    assert overlaps_text(row) == "t2, main"
    assert cells(row)[-1].plain == "t2, main"
    assert status_style("over-budget") == "bold magenta"
    assert "Waits for" not in shown


def test_what_a_waiting_task_waits_for_is_in_its_detail() -> None:
    row = {"id": "t4", "title": "Later", "status": "waiting",
           "waits_for": "class heavy at its cap (1 of 1 running)"}  # fmt: skip
    [line] = [ln for ln in _text(facts(row)).splitlines() if ln.startswith("Waits for")]
    assert line.split(maxsplit=2)[2].strip() == "class heavy at its cap (1 of 1 running)"


def test_the_risk_tier_and_classes_by_path_reach_the_detail() -> None:
    row = {
        "id": "issue-7",
        "title": "Harden the login",
        "status": "approved",
        "risk": "double-check",
        "risk_reason": "touches src/auth/login.py",
        "path_classes": ["E2E"],
        "waits_for": "a second reviewer's approval (risk: double-check)",
    }
    shown = _text(facts(row))
    assert "Risk             double-check (touches src/auth/login.py)" in shown
    assert "Classes by path  E2E" in shown
    assert "a second reviewer's approval" in shown


def test_the_detail_promises_no_pr_to_a_task_that_never_opens_one() -> None:
    """Found trying plait: a done landing-none task's detail said "PR none yet" and
    "Checks no PR yet", and a reset task waiting on its discard said "Now discard ·
    discard"."""
    done = {"id": "ans", "title": "Answer", "status": "done", "landing": "none",
            "branch": "plait/p/ans"}  # fmt: skip
    lines = [line.rstrip() for line in _text(facts(done)).splitlines()]
    assert "PR          none: its answer is the result" in lines
    assert "Checks      no PR" in lines
    assert not [line for line in lines if "yet" in line]
    resetting = {"id": "bad", "title": "Bad", "status": "resetting", "landing": "pr",
                 "current": "discard", "step": "discard"}  # fmt: skip
    lines = [line.rstrip() for line in _text(facts(resetting)).splitlines()]
    assert "Now         discard" in lines
    assert "PR          none yet" in lines
