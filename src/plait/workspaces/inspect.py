"""Read-only questions about a repository or worktree: worktrees, refs, in-progress ops."""

from __future__ import annotations

import os
from dataclasses import dataclass

from plait.workspaces.git import git


@dataclass(frozen=True, slots=True)
class WorktreeEntry:
    path: str
    head: str = ""
    branch: str = ""  # short name; "" when detached or bare
    bare: bool = False
    prunable: bool = False


def parse_worktree_list(out: str) -> list[WorktreeEntry]:
    """Parse `git worktree list --porcelain -z` (NUL-separated fields, empty field ends one)."""
    entries: list[WorktreeEntry] = []
    fields: dict[str, str] = {}
    for item in out.split("\0"):
        if not item:
            if "worktree" in fields:
                entries.append(_entry(fields))
            fields = {}
            continue
        key, _, value = item.partition(" ")
        fields[key] = value
    if "worktree" in fields:
        entries.append(_entry(fields))
    return entries


def _entry(fields: dict[str, str]) -> WorktreeEntry:
    branch = fields.get("branch", "")
    return WorktreeEntry(
        path=fields["worktree"],
        head=fields.get("HEAD", ""),
        branch=branch.removeprefix("refs/heads/"),
        bare="bare" in fields,
        prunable="prunable" in fields,
    )


async def list_worktrees(repo: str) -> list[WorktreeEntry]:
    result = await git("worktree", "list", "--porcelain", "-z", cwd=repo)
    return parse_worktree_list(result.out)


async def worktree_of_branch(repo: str, branch: str) -> WorktreeEntry | None:
    """The worktree (the main checkout included) that has `branch` checked out, if any."""
    for entry in await list_worktrees(repo):
        if entry.branch == branch and not entry.prunable:
            return entry
    return None


def same_path(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


async def rev(cwd: str, ref: str) -> str | None:
    """The commit `ref` names, or None when it does not exist."""
    result = await git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", cwd=cwd, check=False)
    return result.out.strip() if result.code == 0 else None


async def branch_sha(cwd: str, branch: str) -> str | None:
    return await rev(cwd, f"refs/heads/{branch}")


async def is_ancestor(cwd: str, ancestor: str, descendant: str) -> bool:
    result = await git("merge-base", "--is-ancestor", ancestor, descendant, cwd=cwd, check=False)
    return result.code == 0


async def op_in_progress(worktree: str) -> str | None:
    """The multi-step git operation a worktree is in the middle of, if any."""
    markers = (
        ("rebase-merge", "rebase"),
        ("rebase-apply", "rebase"),
        ("MERGE_HEAD", "merge"),
        ("CHERRY_PICK_HEAD", "cherry-pick"),
        ("REVERT_HEAD", "revert"),
    )
    # One git for every marker (P3: this runs at the end of each turn).
    asked = [arg for marker, _ in markers for arg in ("--git-path", marker)]
    paths = (await git("rev-parse", *asked, cwd=worktree)).out.splitlines()
    if len(paths) != len(markers):  # a git dir whose path holds a newline: one by one
        paths = [
            (await git("rev-parse", "--git-path", marker, cwd=worktree)).out.strip()
            for marker, _ in markers
        ]
    for path, (_, name) in zip(paths, markers, strict=True):
        if os.path.exists(os.path.join(worktree, path.strip())):
            return name
    return None


async def unresolved_paths(worktree: str) -> tuple[str, ...]:
    result = await git("diff", "--name-only", "--diff-filter=U", "-z", cwd=worktree)
    return tuple(sorted({p for p in result.out.split("\0") if p}))


_MARKERS = (b"<<<<<<< ", b">>>>>>> ")


def has_conflict_markers(path: str) -> bool:
    """Whether a file still holds `<<<<<<<`/`>>>>>>>` lines (an unfinished resolution)."""
    try:
        with open(path, "rb") as fh:
            return any(line.startswith(_MARKERS) for line in fh)
    except (FileNotFoundError, IsADirectoryError):
        return False  # deleted (or replaced by a directory): a resolution, not a leftover


async def still_conflicted(worktree: str) -> tuple[str, ...]:
    """Unmerged paths whose file still has conflict markers.

    Agents often fix a conflicted file without `git add`; such a path counts as resolved.
    """
    paths = await unresolved_paths(worktree)
    return tuple(p for p in paths if has_conflict_markers(os.path.join(worktree, p)))


async def is_dirty(worktree: str, *, untracked: bool = True) -> bool:
    """Uncommitted changes; untracked files count unless told otherwise (.gitignore holds)."""
    args = ["status", "--porcelain", "-z"]
    if not untracked:
        args.append("--untracked-files=no")
    result = await git(*args, cwd=worktree)
    return bool(result.out.strip("\0"))
