"""`plait schedule`: add, list (--json), pause, resume, remove, and the errors people make."""

from __future__ import annotations

import json
from pathlib import Path

from plait.testing.gitrepo import GitRepo
from tests.cli.helpers_cli import plait


def init(tmp: Path, repo: GitRepo) -> tuple[str, ...]:
    script = tmp / "script.json"
    script.write_text("{}")
    return (
        "init",
        "--repo",
        str(repo.path),
        "-p",
        "s",
        "--agent",
        "script",
        "--script",
        str(script),
    )


def test_schedule_commands_from_add_to_remove(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo", files={"README.md": "x\n"})
    assert plait(*init(tmp_path, repo), home=tmp_path).returncode == 0
    added = plait("schedule", "add", "15 3 * * mon-fri", "--mission", "Check the nightly build",
                  "--name", "nightly", "--tz", "Europe/Paris", "--restart", "on-failure",
                  "-p", "s", home=tmp_path)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "schedule nightly added" in added.stdout
    blueprint = tmp_path / "team.toml"
    blueprint.write_text('[agents.a]\nprompt = "Look at ${what}"\n')
    team = plait("schedule", "add", "@weekly", "--blueprint", str(blueprint), "--var",
                 "what=logs", "--catch-up", "once", "-p", "s", home=tmp_path)  # fmt: skip
    assert team.returncode == 0, team.stderr
    rows = json.loads(plait("schedule", "list", "--json", "-p", "s", home=tmp_path).stdout)
    by_name = {r["name"]: r for r in rows}
    assert by_name["nightly"]["kind"] == "mission"
    assert by_name["nightly"]["tz"] == "Europe/Paris"
    assert by_name["nightly"]["next"] is not None
    assert by_name["team"]["catch_up"] == "once"
    assert plait("schedule", "pause", "nightly", "-p", "s", home=tmp_path).returncode == 0
    rows = json.loads(plait("schedule", "list", "--json", "-p", "s", home=tmp_path).stdout)
    assert next(r for r in rows if r["name"] == "nightly")["paused"] is True
    assert plait("schedule", "resume", "nightly", "-p", "s", home=tmp_path).returncode == 0
    assert plait("schedule", "remove", "nightly", "-p", "s", home=tmp_path).returncode == 0
    listed = plait("schedule", "list", "-p", "s", home=tmp_path).stdout
    assert "nightly" not in listed
    assert "team" in listed


def test_schedule_mistakes_are_one_line_with_a_hint(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo", files={"README.md": "x\n"})
    assert plait(*init(tmp_path, repo), home=tmp_path).returncode == 0
    cases = [
        (["schedule", "add", "61 * * * *", "--mission", "x"], "not a cron expression"),
        (["schedule", "add", "0 3 * * *", "--mission", "x", "--tz", "Mars/Base"], "time zone"),
        (["schedule", "add", "0 3 * * *"], "say what the schedule starts"),
        (["schedule", "add", "0 3 * * *", "--mission", "x", "--agent", "nope"], "unknown agent"),
        (["schedule", "remove", "ghost"], "no schedule named"),
    ]
    for args, words in cases:
        out = plait(*args, "-p", "s", home=tmp_path)
        assert out.returncode == 2, (args, out.stderr)  # bad usage; a bad cron or zone was 1
        assert words in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
        assert "hint:" in out.stderr


def test_a_blueprint_schedule_is_named_after_the_blueprint(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo", files={"README.md": "x\n"})
    assert plait(*init(tmp_path, repo), home=tmp_path).returncode == 0
    blueprint = tmp_path / "team.toml"
    blueprint.write_text('name = "orders-api"\n[agents.a]\nprompt = "Look"\n')
    added = plait("schedule", "add", "@daily", "--blueprint", str(blueprint), "-p", "s",
                  home=tmp_path)  # fmt: skip
    # It was named after the file ("schedule team added"), as `plait apply` does not.
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("schedule orders-api added"), added.stdout
    rows = json.loads(plait("schedule", "list", "--json", "-p", "s", home=tmp_path).stdout)
    assert [r["name"] for r in rows] == ["orders-api"]
