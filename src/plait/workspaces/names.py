"""Checks on names that reach git and the filesystem: task ids, branch names, revisions.

S3 (bench/README.md): everything that becomes a path or a ref is validated before use, so a hostile
id (`../x`, `-rf`, `a;rm`, a newline) is refused with a GitError instead of being passed on.
Checks are done in Python first (git's ref-name rules as `plait.core.plan` restates them,
plus option-injection), then branch names are confirmed by `git check-ref-format` itself.
"""

from __future__ import annotations

import re

from plait.core.plan import ref_name_problem, task_id_problem
from plait.errors import GitError
from plait.workspaces.git import git, git_sync

_SHA_RE = re.compile(r"^[0-9a-f]{7,64}$")


def check_task_id(task: str) -> None:
    why = task_id_problem(task)
    if why:
        raise GitError(
            f"invalid task id {task!r}: it {why}",
            hint="use letters, digits, '.', '_' and '-' (no leading '-' or '.', no '..')",
        )


def _quick_branch_problem(branch: str) -> str:
    if branch.startswith("-"):
        return "starts with '-'"
    if branch == "@" or branch.startswith("refs/") or len(branch) > 200:
        return "is not a valid branch name"
    return ref_name_problem(f"refs/heads/{branch}") or ""


def _branch_error(branch: str, why: str) -> GitError:
    return GitError(
        f"invalid branch name {branch!r}: {why}",
        hint="use a plain branch name like plait/my-task",
    )


# Names `git check-ref-format` accepted: its verdict depends on the name alone, and every
# worktree, rebase and push of a task asks about the same few (P3: a process less each).
_ACCEPTED: set[str] = set()
_ACCEPTED_MAX = 10_000


def _accepted(branch: str) -> None:
    if len(_ACCEPTED) >= _ACCEPTED_MAX:
        _ACCEPTED.clear()
    _ACCEPTED.add(branch)


async def check_branch(branch: str) -> None:
    """Refuse names git would refuse or that could be read as an option or a range."""
    why = _quick_branch_problem(branch)
    if why:
        raise _branch_error(branch, why)
    if branch in _ACCEPTED:
        return
    # `refs/heads/<name>` rather than `--branch <name>`: the latter expands `@{-1}` forms.
    result = await git("check-ref-format", f"refs/heads/{branch}", cwd="/", check=False)
    if result.code != 0:
        raise _branch_error(branch, "rejected by git check-ref-format")
    _accepted(branch)


def check_branch_sync(branch: str) -> None:
    why = _quick_branch_problem(branch)
    if why:
        raise _branch_error(branch, why)
    if branch in _ACCEPTED:
        return
    result = git_sync("check-ref-format", f"refs/heads/{branch}", cwd="/", check=False)
    if result.code != 0:
        raise _branch_error(branch, "rejected by git check-ref-format")
    _accepted(branch)


def is_sha(rev: str) -> bool:
    return bool(_SHA_RE.match(rev))


async def check_rev(rev: str) -> None:
    """A revision plait passes to git: a commit id or a branch name, nothing fancier."""
    if not is_sha(rev):
        await check_branch(rev)
