"""`plait doctor` in a subprocess with a controlled PATH and HOME (U4 in bench/README.md).

PATH holds only a temp bin dir: a link to the real git (or a fake git, or none) and fake
agent CLIs that print a version; HOME is a temp dir where credentials files are planted.
PLAIT_AGENT_CLIS_DIR points the source checkout's CLI cache at a temp dir too, so the
real pinned CLIs of this checkout are never picked up by accident.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.helpers_cli import checkout_env

REAL_GIT = shutil.which("git")
SECRET = "ghp_doctorTestTokenNeverPrinted123"


class World:
    def __init__(self, tmp: Path) -> None:
        self.bin = tmp / "bin"
        self.home = tmp / "home"
        self.clis = tmp / "agent-clis"
        for d in (self.bin, self.home, self.clis):
            d.mkdir()
        self.env = {
            "PATH": str(self.bin),
            "HOME": str(self.home),
            "PLAIT_HOME": str(tmp / "plait-home"),
            "PLAIT_AGENT_CLIS_DIR": str(self.clis),
            "LANG": "C.UTF-8",
        }

    def link_git(self) -> None:
        assert REAL_GIT is not None
        (self.bin / "git").symlink_to(REAL_GIT)

    def script(self, name: str, body: str, where: Path | None = None) -> Path:
        path = (where or self.bin) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
        return path

    def plant(self, relative: str, text: str = "{}") -> Path:
        path = self.home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def doctor(self, *args: str) -> tuple[int, dict[str, dict[str, str]], str]:
        done = subprocess.run(
            [sys.executable, "-m", "plait.cli", "doctor", *args],
            env=checkout_env(self.env),  # this checkout's plait, whatever is installed
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if "--json" not in args:
            return done.returncode, {}, done.stdout + done.stderr
        report = json.loads(done.stdout)
        checks = {c["name"]: c for c in report["checks"]}
        assert report["ok"] == (done.returncode == 0)
        assert all(c["status"] in ("ok", "warn", "fail") for c in checks.values())
        return done.returncode, checks, done.stdout + done.stderr


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


@pytest.mark.skipif(REAL_GIT is None, reason="git is not installed")
def test_default_needs_only_git_and_python_agents_are_warnings(world: World) -> None:
    world.link_git()
    code, checks, _ = world.doctor("--json")
    assert code == 0
    assert checks["python"]["status"] == "ok"
    assert checks["git"]["status"] == "ok"
    assert checks["git"]["detail"].startswith("git 2.")
    assert checks["PLAIT_HOME"]["status"] == "ok"
    assert "will be created" in checks["PLAIT_HOME"]["detail"]
    for cli in ("claude", "codex", "opencode", "pi", "gemini"):
        assert checks[cli]["status"] == "warn"
        assert "not installed" in checks[cli]["detail"]
        assert "npm install -g" in checks[cli]["fix"]
        # Run from a user's repository, "this checkout" named nothing there: the path does.
        install = Path(__file__).resolve().parents[2] / "tools" / "agent-clis" / "install"
        assert f"or plait's pinned ones: `{install}`" in checks[cli]["fix"]
        assert f"{cli} auth" not in checks  # no login to check without the CLI
    assert checks["github token"]["status"] == "warn"
    assert "gh auth login" in checks["github token"]["fix"]


@pytest.mark.skipif(REAL_GIT is None, reason="git is not installed")
def test_fake_claude_with_credentials_file_and_codex_without_login(world: World) -> None:
    world.link_git()
    world.script("claude", 'echo "9.9.9 (Claude Code)"')
    world.script("codex", 'echo "codex-cli 0.0.1"')
    world.plant(".claude/.credentials.json")
    code, checks, out = world.doctor("--json")
    assert code == 0
    assert checks["claude"]["status"] == "ok"
    assert "9.9.9 (Claude Code)" in checks["claude"]["detail"]
    assert str(world.bin / "claude") in checks["claude"]["detail"]
    assert "PATH" in checks["claude"]["detail"]
    assert checks["claude auth"]["status"] == "ok"
    assert ".credentials.json" in checks["claude auth"]["detail"]
    assert checks["codex auth"]["status"] == "warn"
    assert "not logged in" in checks["codex auth"]["detail"]
    assert "codex login" in checks["codex auth"]["fix"]
    assert "{}" not in out  # the credentials file is checked for, never read out


@pytest.mark.skipif(REAL_GIT is None, reason="git is not installed")
def test_logins_by_env_and_config_dirs_and_the_project_cli_cache(world: World) -> None:
    world.link_git()
    for cli in ("claude", "codex", "gemini", "pi", "opencode"):
        world.script(cli, f'echo "{cli} 1.0"')
    # opencode only in the checkout's CLI cache: found there, and said so.
    (world.bin / "opencode").unlink()
    world.script("opencode", 'echo "1.18.0"', world.clis / "node_modules" / ".bin")
    world.env["CLAUDE_CONFIG_DIR"] = str(world.home / "elsewhere")
    world.plant("elsewhere/.credentials.json")
    world.env["CODEX_HOME"] = str(world.home / "codex-home")
    world.plant("codex-home/auth.json")
    world.env["GEMINI_API_KEY"] = "gem-secret-value"
    world.plant(".pi/agent/models.json")
    world.plant(".local/share/opencode/auth.json")
    world.env["GITHUB_TOKEN"] = SECRET
    code, checks, out = world.doctor("--json")
    assert code == 0
    for cli in ("claude", "codex", "gemini", "pi", "opencode"):
        assert checks[cli]["status"] == "ok", checks[cli]
        assert checks[f"{cli} auth"]["status"] == "ok", checks[f"{cli} auth"]
    assert "agent-clis cache" in checks["opencode"]["detail"]
    assert "elsewhere" in checks["claude auth"]["detail"]
    assert checks["gemini auth"]["detail"] == "GEMINI_API_KEY is set"
    assert checks["github token"] == {
        "name": "github token",
        "status": "ok",
        "detail": "GITHUB_TOKEN is set",
        "fix": "",
    }
    assert SECRET not in out
    assert "gem-secret-value" not in out


@pytest.mark.skipif(REAL_GIT is None, reason="git is not installed")
def test_gh_token_is_used_but_never_printed_and_a_failing_cli_is_a_warning(world: World) -> None:
    world.link_git()
    world.script("gh", f'[ "$1 $2" = "auth token" ] && echo {SECRET}')
    world.script("claude", "exit 3")
    code, checks, out = world.doctor("--json")
    assert code == 0
    assert checks["github token"]["status"] == "ok"
    assert "gh auth token" in checks["github token"]["detail"]
    assert SECRET not in out
    assert checks["claude"]["status"] == "warn"
    assert "exited 3" in checks["claude"]["detail"]
    assert "claude auth" not in checks


def test_missing_git_fails_with_a_fix(world: World) -> None:
    code, checks, _ = world.doctor("--json")
    assert code == 1
    assert checks["git"]["status"] == "fail"
    assert "git not found" in checks["git"]["detail"]
    assert "install git" in checks["git"]["fix"]
    assert checks["python"]["status"] == "ok"
    code, _, text = world.doctor()
    assert code == 1
    assert "fail  git" in text
    assert "fix: install git" in text
    assert "NOT ready" in text


def test_too_old_git_fails_and_unwritable_plait_home_fails(world: World, tmp_path: Path) -> None:
    world.script("git", 'echo "git version 2.30.1"')
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    world.env["PLAIT_HOME"] = str(blocker / "plait")
    code, checks, _ = world.doctor("--json")
    assert code == 1
    assert checks["git"]["status"] == "fail"
    assert "2.30.1 is too old" in checks["git"]["detail"]
    assert checks["PLAIT_HOME"]["status"] == "fail"
    assert "PLAIT_HOME" in checks["PLAIT_HOME"]["fix"]


@pytest.mark.skipif(REAL_GIT is None, reason="git is not installed")
def test_the_verdict_says_which_agent_a_run_would_use(world: World) -> None:
    world.link_git()
    code, _, text = world.doctor()
    # It said "ready for the default run", and `plait run` then refused: no agent (exit 6).
    assert code == 0
    assert "ready for `plait demo` and the script agent only" in text
    assert "ready for the default run" not in text
    world.script("codex", 'echo "codex-cli 0.1.0"')
    world.plant(".codex/auth.json")
    code, _, text = world.doctor()
    assert code == 0
    assert "ready: `plait run` uses codex when no --agent is given" in text
