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

from plait.errors import GitError
from plait.forges.base import MergeBlocked
from plait.workspaces.git import GitResult, agent_identity_env, git
from plait.workspaces.inspect import branch_sha, worktree_of_branch
from plait.workspaces.names import is_sha

_CLOCK_SLACK = 86400.0  # search this far before the work began, for clock skew
# git reads `--since=@N` as a timestamp only for a large N: `@-86400` or `@1000` became a
# date that depends on the time of day, so a search from "the beginning" (since 0: work
# whose start is not known) missed the very commit it looked for now and then.
_EARLIEST = 100_000_000  # 1973: an earlier bound means "no bound"


def since_args(since: float) -> list[str]:
    """git log's lower bound for work that began at `since` (less the clock slack); none
    when that is not a real moment."""
    bound = int(since - _CLOCK_SLACK)
    return [f"--since=@{bound}"] if bound >= _EARLIEST else []


async def find_marked(repo: str, *, base: str, trailers: Collection[str], since: float) -> str:
    """The commit on `base` whose message holds every one of `trailers` (lines like
    `Plait-PR: 7`), made after `since` (less a day of clock slack; 0: at any time), or ""
    if none."""
    first = next(iter(trailers))
    result = await git(
        "log",
        "--format=%H%x00%B%x00",
        "--fixed-strings",
        f"--grep={first}",
        *since_args(since),
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


_ZERO = "0" * 40
_MAX_TREES = 10_000  # merged trees kept from mergeability checks


# The tree `git merge-tree` wrote for (base tip, head): a pure function of the two commits.
# A mergeability check (the local forge asks on every poll) leaves it here, so the squash
# of the same pair reuses it instead of merging again (P3).
_TREES: dict[tuple[str, str], str] = {}


def _keep_tree(base_tip: str, head: str, tree: str) -> None:
    if len(_TREES) >= _MAX_TREES:
        _TREES.clear()
    _TREES[(base_tip, head)] = tree


async def _merge_tree(repo: str, base_tip: str, head: str) -> GitResult:
    result = await git(
        "merge-tree", "--write-tree", "--no-messages", base_tip, head, cwd=repo, check=False
    )
    if result.code == 0:
        _keep_tree(base_tip, head, result.out.split("\n", 1)[0].strip())
    return result


async def merged_tree(repo: str, base_tip: str, head: str, base: str) -> str:
    result = await _merge_tree(repo, base_tip, head)
    if result.code == 1:
        raise MergeBlocked(f"conflicts with {base}")
    if result.code != 0:
        raise MergeBlocked(f"git merge-tree failed: {result.err.strip()[-500:]}")
    return result.out.split("\n", 1)[0].strip()


async def is_mergeable(repo: str, base_tip: str, head: str) -> bool | None:
    """Whether head merges cleanly into base_tip; None when git cannot tell."""
    result = await _merge_tree(repo, base_tip, head)
    if result.code in (0, 1):
        return result.code == 0
    return None


async def _author(repo: str, head: str) -> tuple[str, str]:
    """The head commit's author (the agent or person who did the work)."""
    result = await git("log", "-1", "--format=%an%x00%ae", head, cwd=repo)
    name, _, email = result.out.strip().partition("\0")
    return name, email


async def _commit_tree(
    repo: str, tree: str, parent: str, message: str, author: tuple[str, str]
) -> GitResult:
    """The squash commit: authored by `author` now (no GIT_AUTHOR_DATE, like a forge's
    squash merge), committed by the identity configured for the repository, else by
    plait's fallback identity. One git when there is one (P3): `user.useConfigOnly`
    makes git refuse to guess, so a refusal means there is none."""
    name, email = author
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email} if name and email else {}
    args = ("commit-tree", tree, "-p", parent, "-m", message)
    made = await git("-c", "user.useConfigOnly=true", *args, cwd=repo, check=False, env_extra=env)
    if made.code == 0:
        return made
    return await git(*args, cwd=repo, check=False, env_extra=agent_identity_env() | env)


async def squash_onto(
    repo: str,
    *,
    base: str,
    head: str,
    message: str,
    what: str,
    author: tuple[str, str] | None = None,
) -> str:
    """Land `head` on `base` as one commit with `message`; returns it. Raises
    MergeBlocked and changes nothing when it cannot (`what` names the work in the log).
    `author`: the head commit's (name, email) when the caller knows it."""
    # Where base is checked out, the listing also says its tip: no second git for it.
    checkout = await worktree_of_branch(repo, base)
    known = checkout.head if checkout is not None else ""
    if is_sha(known) and known != _ZERO:
        base_tip: str | None = known
    else:
        base_tip = await branch_sha(repo, base)
    if base_tip is None:
        raise MergeBlocked(f"base branch {base} does not exist", retryable=False)
    cached = _TREES.get((base_tip, head))
    tree = cached or await merged_tree(repo, base_tip, head, base)
    author = author or await _author(repo, head)
    made = await _commit_tree(repo, tree, base_tip, message, author)
    if made.code != 0 and cached:  # the kept tree is gone (pruned): merge again
        _TREES.pop((base_tip, head), None)
        tree = await merged_tree(repo, base_tip, head, base)
        made = await _commit_tree(repo, tree, base_tip, message, author)
    if made.code != 0:
        raise GitError(
            f"`git commit-tree` failed in {repo} (exit {made.code}): {made.err.strip()[-500:]}",
            hint="look at the repository state there; plait retries steps that can be retried",
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
    """Fast-forward the checkout of `base` to `new`, only if it is clean and still at
    `base_tip`: one `git status` says both (P3)."""
    status = await git(
        "status", "--porcelain=v2", "--branch", "--untracked-files=no", "-z", cwd=path
    )
    entries = [e for e in status.out.split("\0") if e]
    if any(not e.startswith("# ") for e in entries):
        raise MergeBlocked(
            f"main checkout at {path} has uncommitted changes; commit or stash them", held=True
        )
    oid = next((e.split(" ", 2)[2] for e in entries if e.startswith("# branch.oid ")), "")
    if oid != base_tip:
        raise MergeBlocked(f"{base} moved while merging; will retry")
    result = await git("merge", "--ff-only", "--no-verify", "-q", new, cwd=path, check=False)
    if result.code != 0:
        detail = (result.err or result.out).strip()[-500:]
        raise MergeBlocked(f"could not fast-forward the checkout at {path}: {detail}")
