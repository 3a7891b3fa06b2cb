"""Squash-merging a local PR into its base branch, safely and at most once.

The squash itself is `plait.workspaces.squash` (a dry-run merge, one commit, a
compare-and-swap of the base). Every squash commit carries `Plait-PR: <n>` and
`Plait-Branch: <branch>` trailers; a crash after the ref moved but before the forge
recorded the merge is recovered by finding that commit on the base (`find_landed`).
"""

from __future__ import annotations

from plait.workspaces.git import commit_subject
from plait.workspaces.squash import find_marked, is_mergeable, squash_onto

__all__ = ["find_landed", "is_mergeable", "squash_merge", "squash_message"]


def squash_message(title: str, number: int, branch: str) -> str:
    first_line = commit_subject(" ".join(title.split()) or f"PR {number}", suffix=f" (#{number})")
    return f"{first_line}\n\nPlait-PR: {number}\nPlait-Branch: {branch}\n"


async def find_landed(repo: str, *, base: str, number: int, branch: str, since: float) -> str:
    """The commit on `base` that squash-merged this PR, or "" if there is none."""
    trailers = (f"Plait-PR: {number}", f"Plait-Branch: {branch}")
    return await find_marked(repo, base=base, trailers=trailers, since=since)


async def squash_merge(
    repo: str,
    *,
    number: int,
    branch: str,
    base: str,
    head: str,
    title: str,
    author: tuple[str, str] | None = None,
) -> str:
    """Land `head` on `base` as one commit; returns it. Raises MergeBlocked, changes nothing.
    `author`: the head commit's (name, email) when known."""
    message = squash_message(title, number, branch)
    return await squash_onto(
        repo, base=base, head=head, message=message, what=f"PR #{number}", author=author
    )
