"""Real bare git repositories behind the GitHub double, driven by the git CLI.

How this works: every repository is a bare repo under the double's temp root. Clients push
and fetch through a `file://` remote, so the double never caches a branch tip: it asks git
(`refs()`) whenever it answers. Merges are made the way a server without a worktree makes
them: `git merge-tree --write-tree` computes the merged tree (and tells conflicts apart),
`git commit-tree` writes the commit, `git update-ref <ref> <new> <old>` moves the branch only
if nobody pushed in between. Rebase merges replay commits in a throwaway worktree with
`git cherry-pick`, because git 2.39 has no way to pick a merge base in `merge-tree`.

Git here never reads the machine's config: `GIT_CONFIG_GLOBAL=/dev/null` and
`GIT_CONFIG_NOSYSTEM` keep a developer's hooks, signing or identity out of the double.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from plait.workspaces.git import git_env

WEB_NAME = "GitHub"
WEB_EMAIL = "noreply@github.com"


class GitStoreError(RuntimeError):
    """A git command in the double failed (a bug in the double or in the test)."""


class MergeConflict(Exception):
    """The head does not merge cleanly into the base."""


def _env(author: tuple[str, str] = (WEB_NAME, WEB_EMAIL), when: str = "") -> dict[str, str]:
    extra = {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": WEB_NAME,
        "GIT_COMMITTER_EMAIL": WEB_EMAIL,
    }
    if when:
        extra["GIT_AUTHOR_DATE"] = extra["GIT_COMMITTER_DATE"] = when
    return git_env(extra)


def git(
    cwd: Path,
    *args: str,
    input_text: str | None = None,
    check: bool = True,
    author: tuple[str, str] = (WEB_NAME, WEB_EMAIL),
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=_env(author),
        input=input_text,
        stdin=None if input_text is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise GitStoreError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()}")
    return proc


def create_bare(path: Path, files: Mapping[str, str], branch: str) -> str:
    """A bare repo at `path` whose `branch` holds one commit of `files`; returns its SHA."""
    path.mkdir(parents=True, exist_ok=False)
    git(path, "init", "-q", "--bare", "-b", branch)
    with tempfile.TemporaryDirectory(prefix="ghd-seed-") as tmp:
        work = Path(tmp)
        git(work, "init", "-q", "-b", branch)
        for rel, text in (files or {"README.md": "# repo\n"}).items():
            target = work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "Initial commit")
        git(work, "push", "-q", str(path), f"HEAD:refs/heads/{branch}")
    return rev_parse(path, f"refs/heads/{branch}") or ""


def refs(path: Path) -> dict[str, str]:
    """Branch name → tip SHA, read from the repo now."""
    out = git(path, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/")
    tips: dict[str, str] = {}
    for line in out.stdout.splitlines():
        name, _, sha = line.partition(" ")
        tips[name] = sha
    return tips


def rev_parse(path: Path, rev: str) -> str | None:
    proc = git(path, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def is_ancestor(path: Path, older: str, newer: str) -> bool:
    return git(path, "merge-base", "--is-ancestor", older, newer, check=False).returncode == 0


def commits_between(path: Path, base: str, head: str) -> list[str]:
    """Commits on `head` not on `base`, oldest first (what a PR would show)."""
    out = git(path, "rev-list", "--reverse", "--topo-order", f"{base}..{head}")
    return out.stdout.split()


def merged_tree(path: Path, base: str, head: str) -> str:
    """The tree of merging `head` into `base`; raises MergeConflict."""
    proc = git(path, "merge-tree", "--write-tree", "--no-messages", base, head, check=False)
    if proc.returncode == 1:
        raise MergeConflict(f"{head[:7]} conflicts with {base[:7]}")
    if proc.returncode != 0:
        raise GitStoreError(f"git merge-tree failed: {proc.stderr.strip()}")
    return proc.stdout.split()[0]


def mergeable(path: Path, base: str, head: str) -> bool:
    try:
        merged_tree(path, base, head)
    except MergeConflict:
        return False
    return True


def file_line(path: Path, commit: str, rel: str, line: int) -> str | None:
    """Line `line` (1-based) of `rel` at `commit`; None when the file or line is gone."""
    proc = git(path, "show", f"{commit}:{rel}", check=False)
    if proc.returncode != 0:
        return None
    lines = proc.stdout.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else None


def commit_tree(
    path: Path, tree: str, parents: list[str], message: str, author: tuple[str, str]
) -> str:
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    return git(path, *args, input_text=message, author=author).stdout.strip()


def move_branch(path: Path, branch: str, new: str, old: str) -> None:
    """Compare-and-swap the branch tip; raises GitStoreError if it moved meanwhile."""
    git(path, "update-ref", f"refs/heads/{branch}", new, old)


def delete_branch(path: Path, branch: str) -> bool:
    proc = git(path, "update-ref", "-d", f"refs/heads/{branch}", check=False)
    return proc.returncode == 0


def rebase_onto(path: Path, base: str, head: str, author: tuple[str, str]) -> str:
    """Replay `base..head` (merges skipped) onto `base`; returns the new tip."""
    with tempfile.TemporaryDirectory(prefix="ghd-rebase-") as tmp:
        work = Path(tmp) / "wt"
        git(path, "worktree", "add", "-q", "--detach", str(work), base)
        try:
            picks = git(path, "rev-list", "--reverse", "--no-merges", f"{base}..{head}")
            for sha in picks.stdout.split():
                proc = git(work, "cherry-pick", "--allow-empty", sha, check=False, author=author)
                if proc.returncode != 0:
                    raise MergeConflict(f"{sha[:7]} does not apply on {base[:7]}")
            return git(work, "rev-parse", "HEAD").stdout.strip()
        finally:
            git(path, "worktree", "remove", "--force", str(work), check=False)
            shutil.rmtree(work, ignore_errors=True)
            git(path, "worktree", "prune", check=False)


def pr_files(path: Path, base: str, head: str) -> list[dict[str, object]]:
    """The files a PR changes, as GitHub's `pulls/N/files` lists them: against the merge
    base of `base` and `head`, with each file's unified patch (3 lines of context)."""
    start = git(path, "merge-base", base, head).stdout.strip()
    stats = git(path, "diff", "--numstat", "-z", "--no-renames", start, head).stdout
    statuses = git(path, "diff", "--name-status", "-z", "--no-renames", start, head).stdout
    kinds = statuses.split("\0")
    status = {kinds[i + 1]: kinds[i] for i in range(0, len(kinds) - 1, 2)}
    words = {"A": "added", "D": "removed", "M": "modified"}
    out: list[dict[str, object]] = []
    for record in stats.split("\0"):
        if not record:
            continue
        added, deleted, name = record.split("\t", 2)
        patch = git(path, "diff", "--no-color", "-U3", start, head, "--", name).stdout
        body = patch.split("\n@@", 1)
        out.append(
            {
                "filename": name,
                "status": words.get(status.get(name, "M"), "modified"),
                "additions": int(added) if added.isdecimal() else 0,
                "deletions": int(deleted) if deleted.isdecimal() else 0,
                "patch": "@@" + body[1] if len(body) == 2 else "",
            }
        )
    return out


def right_side_lines(patch: str) -> set[int]:
    """Lines of the new file a review comment may sit on: those inside the patch's hunks
    (added lines and context), as GitHub allows."""
    lines: set[int] = set()
    line = 0
    for text in patch.splitlines():
        if text.startswith("@@"):
            plus = text.split("+", 1)[1].split(" ", 1)[0]
            line = int(plus.split(",", 1)[0])
            continue
        if text.startswith("-"):
            continue
        if text.startswith(("+", " ")):
            lines.add(line)
            line += 1
    return lines
