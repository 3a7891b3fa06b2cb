"""Pushing to GitHub over HTTPS hands the token to git's credential helper, and only there.

The remote is a real git smart-HTTP server on 127.0.0.1 that answers 401 until it gets the
token (`plait.testing.git_http`). A `git` on PATH ahead of the real one records the argv and
environment of every git command plait starts; hooks an agent planted record theirs.
Neither may ever hold the token.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from plait.errors import ForgeError
from plait.forges.github.credentials import push_credentials
from plait.forges.github.forge import GitHubForge
from plait.forges.github.token import Token
from plait.testing.git_http import GitHttpServer, make_bare
from plait.testing.gitrepo import GitRepo, isolated_home_env, run_git

TOKEN = "ghs_push_token_0123456789"
BASIC = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()


@dataclass
class Env:
    repo: GitRepo
    server: GitHttpServer
    bare: Path
    seen: Path  # what the git wrapper and the hooks recorded

    def forge(self, token: str = TOKEN) -> GitHubForge:
        return GitHubForge(str(self.repo.path), token=Token(token), api_url="http://127.0.0.1:9")

    def push(self, branch: str, *, token: str = TOKEN, force: bool = False) -> str:
        forge = self.forge(token)
        return asyncio.run(forge.push(branch=branch, worktree=str(self.repo.path), force=force))

    def on_server(self, branch: str) -> str:
        return run_git("rev-parse", f"refs/heads/{branch}", cwd=self.bare).strip()


def record_everything(folder: Path, log: Path, real_git: str) -> None:
    """A `git` wrapper for PATH, and the hooks a hostile agent writes, all logging."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "git"
    wrapper.write_text(f'#!/bin/sh\n{{ echo "ARGV $*"; env; }} >> {log}\nexec {real_git} "$@"\n')
    wrapper.chmod(0o755)


def plant_hooks(hooks: Path, log: Path) -> None:
    hooks.mkdir(parents=True, exist_ok=True)
    for name in ("pre-push", "reference-transaction"):
        hook = hooks / name
        hook.write_text(f'#!/bin/sh\n{{ echo "HOOK {name}"; env; }} >> {log}\ncat >/dev/null\n')
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    for key, value in isolated_home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)  # how users often give plait the token
    repo = GitRepo.init(tmp_path / "clone", files={"a.txt": "one\n"})
    bare = make_bare(tmp_path / "srv", "acme", "app", repo.path)
    seen = tmp_path / "seen.log"
    real_git = shutil.which("git")
    assert real_git is not None
    record_everything(tmp_path / "bin", seen, real_git)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    with GitHttpServer(tmp_path / "srv", token=TOKEN) as server:
        repo.git("remote", "add", "origin", server.url("acme", "app"))
        repo.git("checkout", "-q", "-b", "plait/t1")
        repo.commit({"b.txt": "bee\n"}, "work")
        repo.git("checkout", "-q", "main")
        yield Env(repo, server, bare, seen)


def assert_never_seen(env: Env) -> None:
    text = env.seen.read_text() if env.seen.exists() else ""
    assert "ARGV" in text  # the wrapper did see plait's git commands
    assert "HOOK" not in text
    for secret in (TOKEN, BASIC):
        assert secret not in text


def test_a_push_authenticates_through_the_credential_helper(env: Env) -> None:
    head = env.push("plait/t1")
    assert env.on_server("plait/t1") == head == env.repo.rev("plait/t1")
    authorized = [r for r in env.server.requests if r[2] == env.server.expected]
    assert authorized, env.server.requests
    assert_never_seen(env)


def test_hooks_an_agent_planted_do_not_run_on_push_and_never_see_the_token(env: Env) -> None:
    plant_hooks(env.repo.path / ".git" / "hooks", env.seen)
    env.push("plait/t1")
    assert_never_seen(env)


def test_a_helper_an_agent_configured_is_never_asked(env: Env, tmp_path: Path) -> None:
    asked = tmp_path / "asked.log"
    scope = f"http://127.0.0.1:{env.server.port}"
    env.repo.git("config", f"credential.{scope}.helper", f"!f() {{ cat >> {asked}; }}; f")
    env.repo.git("config", "--add", "credential.helper", f"!f() {{ cat >> {asked}; }}; f")
    env.push("plait/t1")
    assert not asked.exists()


def test_a_remote_pointed_elsewhere_gets_no_token(env: Env, tmp_path: Path) -> None:
    make_bare(tmp_path / "elsewhere", "evil", "app", env.repo.path)
    with GitHttpServer(tmp_path / "elsewhere", token="theirs") as other:
        env.repo.git("config", "remote.origin.pushurl", other.url("evil", "app"))
        with pytest.raises(ForgeError, match="rejected"):
            env.push("plait/t1")
        assert other.requests
        assert all(auth == "" for _, _, auth in other.requests)


def test_a_wrong_token_is_refused_without_a_prompt(env: Env) -> None:
    with pytest.raises(ForgeError, match="rejected"):
        env.push("plait/t1", token="not-the-token")
    assert "not-the-token" not in env.seen.read_text()


def test_no_token_for_plain_http_off_this_machine_nor_for_ssh() -> None:
    for url in ("http://example.com/a/b.git", "ssh://git@example.com/a/b.git", "/srv/a/b.git"):
        with push_credentials(url, Token(TOKEN)) as auth:
            assert (auth.options, auth.fds) == ((), ())


def test_a_token_with_a_line_break_is_refused() -> None:
    with (
        pytest.raises(ForgeError, match="line break"),
        push_credentials("https://github.com/a/b.git", Token("abc\ndef")),
    ):
        pass
