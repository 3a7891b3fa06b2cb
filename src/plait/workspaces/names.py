"""Checks on names that reach git and the filesystem: task ids, branch names, revisions.

S3 (bench/README.md): everything that becomes a path or a ref is validated before use, so a hostile
id (`../x`, `-rf`, `a;rm`, a newline) is refused with a GitError instead of being passed on.
Checks are done in Python: git's ref-name rules as `plait.core.plan` restates them (held
to `git check-ref-format`'s answers by a property test), plus option-injection.
"""

from __future__ import annotations

import os
import re

from plait.core.plan import ref_name_problem, task_id_problem
from plait.errors import GitError

_SHA_RE = re.compile(r"^[0-9a-f]{7,64}$")


def check_task_id(task: str) -> None:
    why = task_id_problem(task)
    if why:
        raise GitError(
            f"invalid task id {task!r}: it {why}",
            hint="use letters, digits, '.', '_' and '-' (no leading '-' or '.', no '..')",
        )


def _quick_branch_problem(branch: str) -> str:
    """What is wrong with `branch`: git's own verdict (`ref_name_problem` restates `git
    check-ref-format refs/heads/<branch>`, and tests/core/test_ref_names.py holds it to
    git's answers), so no git runs for it (P3: every worktree, push and PR asked)."""
    try:
        os.fsencode(branch)
    except UnicodeEncodeError:
        return "cannot be passed to git (it is not text the file system can take)"
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


async def check_branch(branch: str) -> None:
    """Refuse names git would refuse or that could be read as an option or a range."""
    check_branch_sync(branch)


def check_branch_sync(branch: str) -> None:
    why = _quick_branch_problem(branch)
    if why:
        raise _branch_error(branch, why)


def is_sha(rev: str) -> bool:
    return bool(_SHA_RE.match(rev))


async def check_rev(rev: str) -> None:
    """A revision plait passes to git: a commit id or a branch name, nothing fancier."""
    if not is_sha(rev):
        await check_branch(rev)
