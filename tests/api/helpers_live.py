"""A real project with the script agent, and the `plait` command run against it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plait.api.client import LiveAPI, engine_address
from plait.engine.project import open_project
from plait.testing.gitrepo import GitRepo, run_git
from tests.cli.helpers_cli import cli_env, plait


def turn(say: str, path: str, content: str, message: str, *extra: dict[str, Any]) -> dict[str, Any]:
    actions: list[dict[str, Any]] = [{"write": path, "content": content}, {"commit": message}]
    return {"say": say, "actions": [*actions, *extra]}


@dataclass
class Live:
    """One project's files: its repository, plan and agent script, and a PLAIT_HOME."""

    tmp: Path
    repo: Path
    script: Path

    @classmethod
    def make(cls, tmp: Path, script: dict[str, Any]) -> Live:
        repo = GitRepo.init(tmp / "repo", files={"README.md": "notes\n"})
        path = tmp / "script.json"
        path.write_text(json.dumps(script))
        return cls(tmp=tmp, repo=Path(repo.path), script=path)

    def plait(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return plait(*args, home=self.tmp, timeout=timeout)

    def ok(self, *args: str) -> str:
        out = self.plait(*args)
        assert out.returncode == 0, (args, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr
        return out.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def start(self, *args: str) -> subprocess.Popen[str]:
        """`plait …` in the background (a foreground engine, say)."""
        return subprocess.Popen(
            [sys.executable, "-m", "plait.cli", *args],
            env=cli_env(self.tmp),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def rows(self, project: str) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in self.json("ps", "--all", "-p", project)}

    def main_log(self) -> str:
        return run_git("log", "--format=%s%n%b", "main", cwd=self.repo)

    def main_files(self) -> dict[str, str]:
        """Every file on main (squash merges keep no agent commits, only their content)."""
        names = run_git("ls-tree", "-r", "--name-only", "main", cwd=self.repo).split()
        return {n: run_git("show", f"main:{n}", cwd=self.repo) for n in names}

    def home(self) -> Path:
        return self.tmp / "plait-home" / "projects"


def live_api(project: str) -> LiveAPI:
    """The API of the project's running engine (in this process's PLAIT_HOME)."""
    proj = open_project(project)
    try:
        socket = engine_address(proj)
    finally:
        proj.close()
    assert socket is not None, f"the engine of {project} is not running"
    return LiveAPI(project, socket)


def until(check: Callable[[], Any], *, timeout: float = 90, what: str = "") -> Any:
    """Poll `check` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.2)
