"""`python -m plait.testing.github_double`, the README's way to try working from issues
without GitHub: the commands it prints, run as printed, take its issue to a merged PR
and a closed issue (found in a newcomer trial: there was no recipe; the double had to be
driven from a script, and a repository without checks never merged)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.api.helpers_live import until
from tests.cli.helpers_cli import cli_env, plait

pytestmark = pytest.mark.slow


def test_the_printed_recipe_merges_the_issue(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    if schema := os.environ.get("PLAIT_GITHUB_SCHEMA_DIR"):
        env["PLAIT_GITHUB_SCHEMA_DIR"] = schema
    argv = [sys.executable, "-m", "plait.testing.github_double"]
    double = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)  # fmt: skip
    try:
        assert double.stdout is not None
        lines = [double.stdout.readline() for _ in range(5)]
        assert lines[0].startswith("GitHub double at http://127.0.0.1:"), lines
        url = lines[0].split()[3].rstrip(":")
        clone, token, init, up = (shlex.split(line.split("#")[0]) for line in lines[1:])
        assert clone[:2] == ["git", "clone"]
        subprocess.run(clone, cwd=tmp_path, check=True, capture_output=True)
        assert token == ["export", "GITHUB_TOKEN=any"]
        env["GITHUB_TOKEN"] = "any"
        assert init[:2] == ["plait", "init"]
        made = subprocess.run([sys.executable, "-m", "plait.cli", *init[1:]], cwd=tmp_path,
                              env=env, capture_output=True, text=True, check=False)  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert up[:3] == ["plait", "up", "notes;"]
        assert plait("up", "notes", home=tmp_path, env=env).returncode == 0
        auth = {"Authorization": "token any"}

        def labels() -> list[str]:
            issue = httpx.get(f"{url}/repos/acme/notes/issues/1", headers=auth).json()
            return (
                [label["name"] for label in issue["labels"]] if issue["state"] == "closed" else []
            )

        try:
            until(lambda: _status(tmp_path, env) == "merged", timeout=90, what="issue-1 merged")
            until(lambda: "plait:done" in labels(), timeout=30, what="the issue closed, done")
        finally:
            plait("down", "notes", home=tmp_path, env=env)
    finally:
        double.send_signal(signal.SIGTERM)
        _, err = double.communicate(timeout=10)
    assert double.returncode == 0, err
    assert "Traceback" not in err


def _status(tmp: Path, env: dict[str, str]) -> str:
    done = plait("ps", "-p", "notes", "--all", "--json", home=tmp, env=env)
    rows = json.loads(done.stdout) if done.returncode == 0 else []
    return next((str(r["status"]) for r in rows if r["id"] == "issue-1"), "")
