"""The forge Protocol: where PRs, CI and reviews live. `local` and `github` implement it.

Every write is idempotent against the forge itself, because the engine runs effects
at-least-once: opening a PR reuses the open PR for the same head branch, merging a PR
that is already merged returns its merge commit, resolving a resolved thread is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from plait.core.model import PRView


class MergeBlocked(Exception):
    """The forge cannot merge now (checkout dirty, base moved, not mergeable); try later.
    `held`: what blocks it is outside the task (the user's main checkout has uncommitted
    changes), so the merge waits for it instead of counting a failure."""

    def __init__(self, reason: str, *, retryable: bool = True, held: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.held = held


@dataclass(frozen=True, slots=True, kw_only=True)
class PRInfo:
    """What `plait adopt` needs to know about an existing PR."""

    number: int
    title: str
    body: str
    branch: str
    base: str
    head_sha: str
    draft: bool
    state: str  # open | closed | merged


@runtime_checkable
class Labels(Protocol):
    """A forge whose PRs carry labels (GitHub); the local forge has none."""

    async def replace_label(self, pr: int, label: str, stale: Callable[[str], bool]) -> None:
        """Label `pr` with `label`, taking off the other labels `stale` picks,
        idempotently."""
        ...


class Forge(Protocol):
    name: str

    async def pr_info(self, number: int) -> PRInfo:
        """An existing PR, by number (ForgeError if there is none)."""
        ...

    async def push(self, *, branch: str, worktree: str, force: bool) -> str:
        """Publish the branch as it is in the worktree; returns the pushed head SHA."""
        ...

    async def open_pr(self, *, task: str, branch: str, base: str, title: str, body: str) -> PRView:
        """Open a draft PR for `branch` into `base`, or return the open PR for that branch."""
        ...

    async def mark_ready(self, pr: int) -> None: ...

    async def retarget(self, pr: int, base: str) -> None: ...

    async def resolve_threads(
        self, pr: int, thread_ids: tuple[str, ...], reply: str, *, key: str = ""
    ) -> None:
        """Reply inside each thread (once) and resolve it.

        `key` is the effect's stable id: a forge that cannot tell from the thread itself
        whether it already replied carries it in a hidden marker and skips a second reply.
        """
        ...

    async def merge(self, pr: int, *, title: str) -> str:
        """Merge the PR into its base; returns the merge commit. Raises MergeBlocked."""
        ...

    async def post_review(
        self, pr: int, *, approved: bool, body: str, issues: tuple[str, ...], key: str
    ) -> bool:
        """A reviewer agent's verdict on the PR, once per `key`. Whether a needs-changes
        verdict comes back by the poll as threads for the task's agent to answer (False:
        it was posted for people only, and the core hands it to the agent itself)."""
        ...

    async def close_pr(self, pr: int) -> None:
        """Close the PR without merging (a task started over); closing a closed PR is a
        no-op."""
        ...

    def suggested_poll_interval(self, base: float) -> float:
        """How long to wait between polls, given the configured `base`: a forge with a
        rate budget stretches it as the budget runs low."""
        ...

    async def delete_branch(self, branch: str) -> bool:
        """Delete a landed branch on the forge once no open PR targets it.

        Returns False (and deletes nothing) while an open PR still targets it.
        """
        ...

    async def poll(self, prs: Mapping[str, int]) -> dict[str, PRView]:
        """Views of the given PRs (task id → PR number), keyed by task id."""
        ...

    async def serve(self) -> None:
        """Background work the forge does itself (the local forge runs CI here).

        Runs until cancelled. Forges with nothing to do in the background return at once.
        """
        ...

    async def close(self) -> None: ...
