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
