"""Checking the user's repository before any agent starts on it.

Everything here can fail only with a `GitError` (exit 4) that says which check failed and
how to fix it; a dirty checked-out main branch is not an error but a warning, since plait
never touches it: merges into it wait until it is clean (the local forge) or happen on
the forge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from plait.errors import GitError
from plait.workspaces.git import git_sync


@dataclass(frozen=True, slots=True)
class RepoCheck:
    path: str  # the repository's top level, resolved
    warnings: tuple[str, ...] = ()


def check_repo(
    path: str,
    *,
    main: str,
    forge: str = "local",
    remote: str = "origin",
    main_hint: str = "name the branch work should land on with --main BRANCH",
) -> RepoCheck:
    where = Path(path).expanduser()
    if not where.exists():
        raise GitError(f"{where} does not exist", hint="pass --repo PATH of a git checkout")
    if not where.is_dir():
        raise GitError(f"{where} is not a folder", hint="pass --repo PATH of a git checkout")
    top = git_sync("rev-parse", "--show-toplevel", cwd=str(where), check=False)
    if top.code != 0:
        raise GitError(
            f"{where.resolve()} is not a git repository",
            hint="run `git init` there and commit your code, or pass --repo PATH of a checkout",
        )
    repo = os.path.realpath(top.out.strip())
    if git_sync("rev-parse", "--verify", "-q", "HEAD", cwd=repo, check=False).code != 0:
        raise GitError(
            f"{repo} has no commits yet",
            hint="commit your code first (`git add -A && git commit -m start`): agents branch "
            "from it",
        )
    if not has_branch(repo, main, forge=forge, remote=remote):
        branches = git_sync(
            "for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=repo, check=False
        ).out.split()
        known = ", ".join(branches[:8]) or "none"
        raise GitError(
            f"the main branch {main!r} does not exist in {repo} (branches: {known})",
            hint=main_hint,
        )
    return RepoCheck(repo, tuple(_dirty_main(repo, main)))


def has_branch(repo: str, branch: str, *, forge: str, remote: str) -> bool:
    """`branch` is in `repo` (with a forge other than the local one, its remote's copy
    counts too)."""
    refs = [f"refs/heads/{branch}"]
    if forge != "local":
        refs.append(f"refs/remotes/{remote}/{branch}")
    return any(
        git_sync("show-ref", "--verify", "-q", ref, cwd=repo, check=False).code == 0 for ref in refs
    )


def _dirty_main(repo: str, main: str) -> list[str]:
    head = git_sync("symbolic-ref", "-q", "--short", "HEAD", cwd=repo, check=False).out.strip()
    if head != main:
        return []
    status = git_sync("status", "--porcelain", "--untracked-files=no", cwd=repo, check=False)
    if not status.out.strip():
        return []
    return [
        f"{main} is checked out in {repo} with uncommitted changes: plait never touches them, "
        f"so merges into {main} wait until that checkout is clean (commit or stash them)"
    ]
