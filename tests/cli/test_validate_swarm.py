"""`plait validate swarm.toml` says what it read: the groups, their agents and counts,
the reviewers (it said "valid project settings" and nothing of the swarm)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plait.cli import main

SWARM = """\
[swarm]
tickets = "work"

[[swarm.workers]]
name = "fast"
agent = "claude"
model = "sonnet"
count = 3

[[swarm.workers]]
name = "deep"
agent = "codex"

[[swarm.planners]]
name = "plan"

[review]
reviewers = [{agent = "claude", model = "opus"}, {agent = "gemini"}]
rounds = 2
"""


def test_validate_lists_the_swarms_groups_agents_and_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "swarm.toml"
    config.write_text(SWARM)
    assert main(["validate", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{config}: valid swarm settings: 2 worker groups (4 workers), 1 planner group (1 planner)",
        "  workers fast: 3 × claude (sonnet), queue tasks",
        "  workers deep: 1 × codex, queue tasks",
        "  planners plan: 1 × the project's agent, queue planning",
        "  reviewers: claude (opus), gemini; at most 2 fix rounds",
        "  tickets in work/, landing merge",
    ]
    assert main(["validate", str(config), "--json"]) == 0
    swarm = json.loads(capsys.readouterr().out)["swarm"]
    assert [(g["name"], g["agent"], g["count"]) for g in swarm["workers"]] == [
        ("fast", "claude", 3),
        ("deep", "codex", 1),
    ]
    assert swarm["reviewers"][1] == {"agent": "gemini", "model": ""}
