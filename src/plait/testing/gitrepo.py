"""Throwaway git repositories for tests, driven by real git with a scrubbed environment.

    repo = GitRepo.init(tmp_path / "repo")          # `main` with one commit, identity set
    sha = repo.commit({"a.txt": "hello\\n"}, "add a")
    repo.git("checkout", "-b", "feature")

`isolate_git_home(path)` points HOME/XDG_CONFIG_HOME at an empty directory so the test
machine's global git config (identity, hooks, signing) cannot leak into a test; call it from
a fixture with pytest's `monkeypatch` (`monkeypatch.setenv`) or pass the mapping it returns.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from plait.workspaces.git import git_env

TEST_NAME = "Plait Test"
TEST_EMAIL = "test@plait.invalid"


def isolated_home_env(home: str | os.PathLike[str]) -> dict[str, str]:
    """HOME and XDG_CONFIG_HOME pointing at `home` (created), for an empty global git config."""
    path = Path(home)
    path.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(path), "XDG_CONFIG_HOME": str(path / ".config")}


def run_git(*args: str, cwd: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> str:
    """Run git synchronously; return stdout; raise AssertionError with stderr on failure."""
    proc = subprocess.run(
        ["git", *args],
        cwd=os.fspath(cwd),
        env=git_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


class GitRepo:
    """A repository in a temp dir, with helpers to commit files and read refs."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str],
        *,
        branch: str = "main",
        files: Mapping[str, str] | None = None,
        identity: bool = True,
    ) -> GitRepo:
        """A new repo on `branch` with one commit of `files` (default: a README)."""
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        run_git("init", "-q", "-b", branch, cwd=root)
        repo = cls(root)
        if identity:
            repo.git("config", "user.name", TEST_NAME)
            repo.git("config", "user.email", TEST_EMAIL)
        repo.git("config", "commit.gpgsign", "false")
        repo.commit(files or {"README.md": "# test repo\n"}, "initial commit")
        return repo

    def git(self, *args: str, cwd: str | os.PathLike[str] | None = None) -> str:
        env = None
        if not self.has_identity(cwd):
            env = {
                "GIT_AUTHOR_NAME": TEST_NAME,
                "GIT_AUTHOR_EMAIL": TEST_EMAIL,
                "GIT_COMMITTER_NAME": TEST_NAME,
                "GIT_COMMITTER_EMAIL": TEST_EMAIL,
            }
        return run_git(*args, cwd=cwd or self.path, env=env)

    def has_identity(self, cwd: str | os.PathLike[str] | None) -> bool:
        proc = subprocess.run(
            ["git", "config", "user.email"],
            cwd=os.fspath(cwd or self.path),
            env=git_env(),
            capture_output=True,
            check=False,
        )
        return proc.returncode == 0

    def write(self, files: Mapping[str, str], *, cwd: str | os.PathLike[str] | None = None) -> None:
        base = Path(cwd or self.path)
        for name, text in files.items():
            target = base / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def commit(
        self,
        files: Mapping[str, str],
        message: str,
        *,
        cwd: str | os.PathLike[str] | None = None,
    ) -> str:
        """Write `files`, stage everything and commit in `cwd` (default: the main checkout)."""
        self.write(files, cwd=cwd)
        self.git("add", "-A", cwd=cwd)
        self.git("commit", "-q", "--no-verify", "-m", message, cwd=cwd)
        return self.rev("HEAD", cwd=cwd)

    def rev(self, ref: str, *, cwd: str | os.PathLike[str] | None = None) -> str:
        return self.git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", cwd=cwd).strip()

    def branches(self) -> list[str]:
        out = self.git("for-each-ref", "--format=%(refname:short)", "refs/heads")
        return out.split()

    def status(self, *, cwd: str | os.PathLike[str] | None = None) -> str:
        return self.git("status", "--porcelain", cwd=cwd)

    def show(self, ref: str, path: str) -> str:
        return self.git("show", f"{ref}:{path}")
