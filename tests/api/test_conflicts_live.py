"""The early conflict warning on a real engine: two tasks whose branches edit the same
lines are told apart from a third that does not, in `ps --json`, the `ps` table and the
engine's headless lines, while their PRs are still open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.api.helpers_live import Live, turn, until

SCRIPT = {
    "tasks": {
        "a": {"start": [turn("a", "README.md", "notes, as a sees them\n", "a's notes")]},
        "b": {"start": [turn("b", "README.md", "notes, as b sees them\n", "b's notes")]},
        "c": {"start": [turn("c", "other.txt", "c\n", "c's file")]},
    }
}


def _overlaps(live: Live) -> dict[str, list[dict[str, Any]]]:
    return {tid: row["overlaps"] for tid, row in live.rows("cw").items()}


def _warned(live: Live) -> dict[str, list[dict[str, Any]]] | None:
    """The overlaps once both a and b have theirs (and c has started)."""
    found = _overlaps(live)
    return found if found.get("a") and found.get("b") and "c" in found else None


def test_two_branches_editing_the_same_lines_are_warned_of(tmp_path: Path) -> None:
    live = Live.make(tmp_path, SCRIPT)
    # A long merge delay keeps the PRs open, the way a human review would.
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", "cw",
            "--merge-delay", "3600")  # fmt: skip
    assert live.plait("up", "cw").returncode == 0
    try:
        for tid in ("a", "b", "c"):
            live.ok("add", f"Task {tid}", "--id", tid, "--body", "x", "-p", "cw")
        seen = until(lambda: _warned(live), what="the warning about a and b")
        table = live.ok("ps", "-p", "cw")
    finally:
        live.plait("down", "cw")
    assert seen["a"] == [{"with": "b", "main": False, "paths": ["README.md"]}]
    assert seen["b"] == [{"with": "a", "main": False, "paths": ["README.md"]}]
    assert seen["c"] == []
    assert "a may conflict with b (README.md)" in table
    log = (live.home() / "cw" / "engine.log").read_text()
    assert "[a] may conflict: with task b in README.md" in log
    assert "Traceback" not in log
