"""A project of the script agent on the GitHub double's `acme/notes`, with its engines, for
the end-to-end tests of working from issues."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from plait.testing.github_double import GitHubDouble
from tests.cli.helpers_cli import cli_env, plait
from tests.engine.test_github_issues_e2e import _git

OWNER, NAME = "acme", "notes"
UP = ["-m", "plait.cli", "up", "notes", "--foreground"]


def make_project(
    gh: GitHubDouble, tmp: Path, script: object, *flags: str, **env: str
) -> dict[str, str]:
    """Clone the repository, `plait init` project "notes" on it; the environment to use."""
    clone = tmp / "clone"
    _git(tmp, "clone", "-q", gh.repo_remote_url(OWNER, NAME), str(clone))
    path = tmp / "script.json"
    path.write_text(json.dumps(script))
    environ = cli_env(tmp, GITHUB_TOKEN="double-token", **env)
    made = plait("init", "--repo", str(clone), "--forge", "github", "--github-url", gh.api_url,
                 "--script", str(path), "--poll-interval", "0.3", *flags, "--project", "notes",
                 home=tmp, env=environ)  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    return environ


def start_engine(log: Path, env: dict[str, str], argv: list[str] = UP) -> subprocess.Popen[bytes]:
    """A `plait up --foreground` engine writing to `log`."""
    with log.open("a") as out:
        return subprocess.Popen([sys.executable, *argv], env=env, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip


def store_path(tmp: Path) -> Path:
    return tmp / "plait-home" / "projects" / "notes" / "plait.db"


def pending_writes(tmp: Path) -> int:
    """Issue writes waiting in the project's outbox."""
    db = sqlite3.connect(store_path(tmp))
    try:
        query = "SELECT COUNT(*) FROM outbox WHERE type = 'WriteIssue' AND status = 'pending'"
        return int(db.execute(query).fetchone()[0])
    finally:
        db.close()
