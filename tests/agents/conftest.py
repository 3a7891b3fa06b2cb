"""Fixtures for agent tests: a real git repository and a scrubbed environment for agents."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def scrubbed_env(home: Path) -> dict[str, str]:
    """The test process's environment without GIT_* and with an empty HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), LANG="C.UTF-8")
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    return env


def git(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture
def agent_env(tmp_path: Path) -> dict[str, str]:
    return scrubbed_env(tmp_path / "home")


@pytest.fixture
def repo(tmp_path: Path, agent_env: dict[str, str]) -> Path:
    """A repository on `main` with one commit and a local identity."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main", env=agent_env)
    git(path, "config", "user.name", "Plait Test", env=agent_env)
    git(path, "config", "user.email", "test@plait.invalid", env=agent_env)
    git(path, "config", "commit.gpgsign", "false", env=agent_env)
    (path / "README.md").write_text("# test\n")
    git(path, "add", "-A", env=agent_env)
    git(path, "commit", "-q", "-m", "initial", env=agent_env)
    return path


class Git:
    """git in the test repository with the scrubbed environment."""

    def __init__(self, repo: Path, env: dict[str, str]) -> None:
        self.repo = repo
        self.env = env

    def __call__(self, *args: str) -> str:
        return git(self.repo, *args, env=self.env)


@pytest.fixture
def run_git(repo: Path, agent_env: dict[str, str]) -> Git:
    return Git(repo, agent_env)


class ScriptFile:
    """Writes an agent script (JSON) to a file in the test's temp dir."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "script.json"

    def __call__(self, data: object) -> str:
        self.path.write_text(json.dumps(data), encoding="utf-8")
        return str(self.path)


@pytest.fixture
def script_file(tmp_path: Path) -> ScriptFile:
    return ScriptFile(tmp_path)
