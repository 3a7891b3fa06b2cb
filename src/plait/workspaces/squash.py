"""Landing a branch's work on a base branch as one commit, safely, and finding it again.

How this works: the merged tree comes from `git merge-tree --write-tree base head` (no
checkout needed, and a dry run: a conflict changes nothing), the squash commit from `git
commit-tree` with the base tip as its only parent, and the base branch moves by
compare-and-swap (`git update-ref ref new old`), so a base that moved meanwhile makes the
merge fail instead of losing commits. When the base is checked out somewhere (typically
the user's main checkout), the checkout is advanced with `git merge --ff-only` instead,
and only if it has no uncommitted changes.

The commit message carries trailers that say what landed (`Plait-PR: 7`, `Plait-Task:
x`…); `find_marked` finds such a commit on the base, so a crash after the ref moved but
before the landing was recorded is recovered instead of landing twice.
"""

from __future__ import annotations

from collections.abc import Collection

from plait.forges.base import MergeBlocked
from plait.workspaces.git import agent_identity_env, git, has_identity
from plait.workspaces.inspect import branch_sha, is_dirty, worktree_of_branch

_CLOCK_SLACK = 86400.0  # search this far before the work began, for clock skew


async def find_marked(repo: str, *, base: str, trailers: Collection[str], since: float) -> str:
    """The commit on `base` whose message holds every one of `trailers` (lines like
    `Plait-PR: 7`), made after `since` (less a day of clock slack), or "" if none."""
    first = next(iter(trailers))
    result = await git(
        "log",
        "--format=%H%x00%B%x00",
        "--fixed-strings",
        f"--grep={first}",
        f"--since=@{int(since - _CLOCK_SLACK)}",
        f"refs/heads/{base}",
        "--",
        cwd=repo,
        check=False,
    )
    if result.code != 0:
        return ""
    fields = result.out.split("\0")
    want = set(trailers)
    for sha, body in zip(fields[0::2], fields[1::2], strict=False):
        lines = {line.strip() for line in body.splitlines()}
        if want <= lines:
            return sha.strip()
    return ""


async def _author_env(repo: str, head: str) -> dict[str, str]:
    """Author from the head commit (the agent or person who did the work)."""
    result = await git("log", "-1", "--format=%an%x00%ae", head, cwd=repo)
    name, _, email = result.out.strip().partition("\0")
    env = {} if await has_identity(repo) else agent_identity_env()
    if name and email:
        # Authored now (no GIT_AUTHOR_DATE), like a forge's squash merge.
        env |= {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
    return env


async def merged_tree(repo: str, base_tip: str, head: str, base: str) -> str:
    result = await git(
        "merge-tree", "--write-tree", "--no-messages", base_tip, head, cwd=repo, check=False
    )
    if result.code == 1:
        raise MergeBlocked(f"conflicts with {base}")
    if result.code != 0:
        raise MergeBlocked(f"git merge-tree failed: {result.err.strip()[-500:]}")
    return result.out.split("\n", 1)[0].strip()


async def is_mergeable(repo: str, base_tip: str, head: str) -> bool | None:
    """Whether head merges cleanly into base_tip; None when git cannot tell."""
    result = await git(
        "merge-tree", "--write-tree", "--no-messages", base_tip, head, cwd=repo, check=False
    )
    if result.code in (0, 1):
        return result.code == 0
    return None


async def squash_onto(repo: str, *, base: str, head: str, message: str, what: str) -> str:
    """Land `head` on `base` as one commit with `message`; returns it. Raises
    MergeBlocked and changes nothing when it cannot (`what` names the work in the log)."""
    base_tip = await branch_sha(repo, base)
    if base_tip is None:
        raise MergeBlocked(f"base branch {base} does not exist", retryable=False)
    checkout = await worktree_of_branch(repo, base)
    if checkout is not None and await is_dirty(checkout.path, untracked=False):
        raise MergeBlocked(
            f"main checkout at {checkout.path} has uncommitted changes; commit or stash them"
        )
    tree = await merged_tree(repo, base_tip, head, base)
    made = await git(
        "commit-tree",
        tree,
        "-p",
        base_tip,
        "-m",
        message,
        cwd=repo,
        env_extra=await _author_env(repo, head),
    )
    new = made.out.strip()
    if checkout is None:
        moved = await git(
            "update-ref",
            "-m",
            f"plait: merge {what}",
            f"refs/heads/{base}",
            new,
            base_tip,
            cwd=repo,
            check=False,
        )
        if moved.code != 0:
            raise MergeBlocked(f"{base} moved while merging; will retry")
        return new
    await _advance_checkout(checkout.path, base, base_tip, new)
    return new


async def _advance_checkout(path: str, base: str, base_tip: str, new: str) -> None:
    head = await git("rev-parse", "HEAD", cwd=path)
    if head.out.strip() != base_tip:
        raise MergeBlocked(f"{base} moved while merging; will retry")
    result = await git("merge", "--ff-only", "--no-verify", "-q", new, cwd=path, check=False)
    if result.code != 0:
        detail = (result.err or result.out).strip()[-500:]
        raise MergeBlocked(f"could not fast-forward the checkout at {path}: {detail}")
