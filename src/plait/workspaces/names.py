"""Checks on names that reach git and the filesystem: task ids, branch names, revisions.

QUALITY S3: everything that becomes a path or a ref is validated before use, so a hostile
id (`../x`, `-rf`, `a;rm`, a newline) is refused with a GitError instead of being passed on.
Checks are done in Python first (cheap, and they cover option-injection), then branch names
are confirmed by `git check-ref-format` itself.
"""

from __future__ import annotations

import re

from plait.core.plan import is_valid_task_id
from plait.errors import GitError
from plait.workspaces.git import git, git_sync

_SHA_RE = re.compile(r"^[0-9a-f]{7,64}$")
# Characters git forbids in ref names, plus whitespace/control characters.
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def check_task_id(task: str) -> None:
    if not is_valid_task_id(task):
        raise GitError(
            f"invalid task id {task!r}",
            hint="use letters, digits, '.', '_' and '-' (no leading '-' or '.', no '..')",
        )


def _quick_branch_problem(branch: str) -> str:
    if not branch:
        return "is empty"
    if branch.startswith("-"):
        return "starts with '-'"
    if ".." in branch or "@{" in branch:
        return "contains '..' or '@{'"
    if _BAD_REF_CHARS.search(branch):
        return "contains a space, control or special character"
    if branch.startswith("/") or branch.endswith(("/", ".", ".lock")) or "//" in branch:
        return "is not a valid branch name"
    if any(part.startswith(".") for part in branch.split("/")):
        return "has a component starting with '.'"
    if branch == "@" or branch.startswith("refs/") or len(branch) > 200:
        return "is not a valid branch name"
    return ""


def _branch_error(branch: str, why: str) -> GitError:
    return GitError(
        f"invalid branch name {branch!r}: {why}",
        hint="use a plain branch name like plait/my-task",
    )


async def check_branch(branch: str) -> None:
    """Refuse names git would refuse or that could be read as an option or a range."""
    why = _quick_branch_problem(branch)
    if why:
        raise _branch_error(branch, why)
    # `refs/heads/<name>` rather than `--branch <name>`: the latter expands `@{-1}` forms.
    result = await git("check-ref-format", f"refs/heads/{branch}", cwd="/", check=False)
    if result.code != 0:
        raise _branch_error(branch, "rejected by git check-ref-format")


def check_branch_sync(branch: str) -> None:
    why = _quick_branch_problem(branch)
    if why:
        raise _branch_error(branch, why)
    result = git_sync("check-ref-format", f"refs/heads/{branch}", cwd="/", check=False)
    if result.code != 0:
        raise _branch_error(branch, "rejected by git check-ref-format")


def is_sha(rev: str) -> bool:
    return bool(_SHA_RE.match(rev))


async def check_rev(rev: str) -> None:
    """A revision plait passes to git: a commit id or a branch name, nothing fancier."""
    if not is_sha(rev):
        await check_branch(rev)
