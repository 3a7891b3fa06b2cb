"""`plait swarm` with the script agent (issue 10, "done when"): 3 workers, 1 planner and a
reviewer run a 10-ticket tasks/ folder to an empty queue; every approved change lands on
main exactly once, a rejected change comes back with its numbered issues and is fixed, a
"nothing to do" task is skipped, a malformed ticket is reported and left in place."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.cli.helpers_cli import plait
from tests.swarm.helpers_swarm import Swarm, write_file

pytestmark = pytest.mark.slow


def test_three_workers_a_planner_and_a_reviewer_empty_a_ten_ticket_queue(tmp_path: Path) -> None:
    sw = Swarm.make(tmp_path)
    (sw.repo / "tasks" / "broken.md").write_text("---\nid: broken\ncolour: red\n---\n")
    sw.task("t3", "verdict", {"say": "VERDICT: NEEDS_CHANGES\n\n1. file3.txt: end with a dot"},
            {"say": "VERDICT: APPROVED"})  # fmt: skip
    sw.task("t3", "changes", {"say": "added", "actions": [
        {"append": "file3.txt", "content": ".\n"}, {"commit": "dot"}]})  # fmt: skip
    sw.task("t5", "start", {"say": "Checked.\nNOTHING TO DO: file5 is not needed"})
    proposal = [{"id": "extra", "summary": "An extra file", "acceptance": ["extra.txt exists"]}]
    sw.task("plan-1", "start", {"say": f"```plait-tasks\n{json.dumps(proposal)}\n```"})
    sw.task("extra", "start", write_file(11))
    sw.task("plan-2", "start", {"say": "NOTHING TO DO: every file is written"})
    done = sw.run()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    landed = sw.landed()
    expected = {f"t{i}" for i in range(1, 11)} - {"t5"} | {"extra"}
    assert set(landed) == expected
    assert set(landed.values()) == {1}  # each approved change on main exactly once
    assert sw.main_file("file3.txt") == "3\n.\n"
    status = sw.status()
    assert status["queue"] == {
        "waiting": 0, "claimed": 0, "merged": 10, "skipped": 3, "stuck": 0, "active": 0,
    }  # fmt: skip
    workers = {w["worker"]: w for w in status["workers"]}
    assert set(workers) == {"w/1", "w/2", "w/3", "planner/1"}
    assert sum(w["merges"] for w in workers.values()) == 10
    assert sum(w["rejections"] for w in workers.values()) == 0  # fixed within the rounds
    assert workers["planner/1"]["cycles"] == 2
    assert all(w["claim"] is None for w in workers.values())
    log = status["log"]
    t3 = [e for e in log if e["task"] == "t3" and e["kind"] == "review"]
    assert [e["outcome"] for e in t3] == ["needs_changes", "approved"]
    assert t3[0]["issues"] == ["file3.txt: end with a dot"]
    [t5] = [e for e in log if e["task"] == "t5" and e["kind"] == "cycle"]
    assert (t5["outcome"], t5["reason"]) == ("skipped", "file5 is not needed")
    assert [p for p in status["problems"] if "broken.md" in p] == [
        "tasks/broken.md:3: unknown key 'colour' — known: acceptance, acceptance_criteria, "
        "dependencies, depends_on, description, difficulty, files, id, summary, title",
        "tasks/broken.md:1: the ticket has no summary — add `summary: what to do, in one line`",
    ]
    assert (sw.repo / "tasks" / "broken.md").exists()
    cycles = Counter(e["worker"] for e in log if e["kind"] == "cycle")
    assert all(cycles[f"w/{n}"] >= 1 for n in (1, 2, 3))  # all three workers took work
    assert "w/1" in done.stdout  # the summary table


def test_a_config_without_workers_or_with_a_mistake_is_one_line_with_its_place(
    tmp_path: Path,
) -> None:
    sw = Swarm.make(tmp_path, tickets=1)
    (tmp_path / "swarm.toml").write_text("[swarm]\ntickets = 'tasks'\n")
    done = sw.run()
    assert done.returncode == 2
    assert "has no worker group" in done.stderr
    assert "Traceback" not in done.stderr
    (tmp_path / "swarm.toml").write_text("[swarm]\n\n[[swarm.workers]]\ncount = 0\n")
    done = sw.run()
    assert done.returncode == 3
    assert "swarm.toml:4: count = 0 is not a whole number of at least 1" in done.stderr
    (tmp_path / "swarm.toml").write_text("[[swarm.workers]]\nagent = 'nope'\n")
    done = sw.run()
    assert "unknown agent 'nope'" in done.stderr
    (tmp_path / "swarm.toml").write_text("[[swarm.workers]]\nprompts = ['missing.md']\n")
    done = sw.run()
    assert done.returncode == 2
    assert f"prompt file {tmp_path / 'missing.md'} does not exist" in done.stderr
    (tmp_path / "swarm.toml").write_text(
        '[agents.codex]\napi_key = "env:PLAIT_NOT_SET_ANYWHERE"\n\n'
        '[[swarm.workers]]\nagent = "script"\n\n[review]\nreviewers = ["codex"]\n'
    )
    done = sw.run()
    assert done.returncode == 2
    assert "option api_key names $PLAIT_NOT_SET_ANYWHERE, which is not set" in done.stderr
    status = plait("swarm", "status", "-p", "nope", home=tmp_path)
    assert status.returncode != 0
    assert "no project named 'nope'" in status.stderr
