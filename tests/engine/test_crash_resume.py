"""kill -9 of a real engine in the middle of things, then `plait resume`: an interrupted
agent turn continues its session, nothing the engine started survives it, and local CI
runs once more without a twin.

Each test starts `plait run … --json` in a subprocess (script agent, local forge), waits
for a marker, SIGKILLs it, and resumes it with `plait resume` (see crash_helpers).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.crash_helpers import (
    Crashable,
    crashable,
    one_task_plan,
    wait_until,
)

pytestmark = pytest.mark.timeout(240)

TITLE = "Write the notes"


def _commit(path: str, message: str) -> list[dict[str, object]]:
    return [{"write": path, "content": f"{message}\n"}, {"commit": message}]


def results(run: Crashable, task: str = "1") -> int:
    return sum(kind == "ToolResult" for _, kind, _ in run.transcript(task))


def test_an_interrupted_turn_continues_its_session(tmp_path: Path) -> None:
    run = crashable(tmp_path, "continue")
    script = {
        "tasks": {
            "1": {
                "start": [
                    {"actions": [*_commit("a.txt", "first half"), {"hang": 300}]},
                    {"say": "finished", "actions": _commit("b.txt", "second half")},
                ]
            }
        }
    }
    try:
        run.run(one_task_plan(TITLE), script)
        # The first attempt committed, then hangs: the engine dies under it.
        wait_until(
            "the first commit",
            lambda: sum(k == "ToolResult" for _, k, _ in run.transcript("1")) == 2,
        )
        run.kill()
        summary = run.resume()
    finally:
        run.stop()

    starts = run.starts()
    assert [s["task"] for s in starts] == ["1", "1"], starts
    first_session = next(
        b["session_id"] for _, k, b in run.transcript("1") if k == "SessionStarted"
    )
    # Continued, not restarted: the second start resumed the first one's session, told so.
    assert starts[0]["resume"] == ""
    assert starts[0]["prompt"] == f"# Task: {TITLE}"
    assert starts[1]["resume"] == first_session
    assert starts[1]["prompt"] == f"# Carry on: {TITLE}"
    prompts = [(e, b["text"]) for e, k, b in run.transcript("1") if k == "Prompt"]
    assert len(prompts) == 2
    assert prompts[0][0] == prompts[1][0]  # one effect, two attempts
    assert "It had committed:" in prompts[1][1]
    assert "first half" in prompts[1][1]
    # The killed attempt counts: two turns, and its tokens beside the second's.
    (row,) = summary["tasks"]
    assert row["status"] == "merged"
    assert row["turns"] == 2
    usage = [b["usage"] for _, k, b in run.transcript("1") if k == "UsageReport"]
    finals = [b["usage"] for _, k, b in run.transcript("1") if k == "FinalResult"]
    (second,) = finals
    assert row["input_tokens"] > second["input_tokens"]
    assert len(usage) > 0
