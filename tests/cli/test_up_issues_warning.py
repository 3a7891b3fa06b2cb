"""`plait up` says when the engine will not watch the issues plait.toml asks it to.

Found in a newcomer trial: with an `[issues]` table and no GitHub remote (or no token),
`plait validate`, `plait init` and `plait up` said nothing; only engine.log said "issues:
not watching issues: …", and `plait ps` showed "no tasks" however the issues were
labelled."""

from __future__ import annotations

from pathlib import Path

from plait.testing.gitrepo import GitRepo
from tests.cli.helpers_cli import cli_env, plait

TOML = '[agent]\ndefault = "script"\n\n[issues]\nlabels = ["plait"]\n'


def test_up_warns_that_issues_are_not_watched_and_why(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo", files={"plait.toml": TOML})
    script = tmp_path / "script.json"
    script.write_text('{"default": {"start": [{"say": "ok", "actions": []}]}}')
    env = cli_env(tmp_path, PATH="/usr/bin:/bin")
    env.pop("GITHUB_TOKEN", None)
    made = plait("init", "--repo", str(repo.path), "--script", str(script), "-p", "iss",
                 home=tmp_path, env=env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    up = plait("up", "iss", home=tmp_path, env=env)
    try:
        assert up.returncode == 0, up.stderr
        assert "plait: warning: not watching issues:" in up.stderr
        assert "no remote 'origin'" in up.stderr
        assert "git remote add origin" in up.stderr  # how to fix it
    finally:
        plait("down", "iss", home=tmp_path, env=env)
