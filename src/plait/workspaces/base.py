"""The workspace Protocol: a git worktree per task, and the git work plait does in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    path: str
    base_sha: str  # the commit of the base branch the new branch started from (or was found on)


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnCommit:
    head_sha: str
    commits_ahead: int  # commits on the branch after base_sha


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkState:
    """Where a worktree stands: its HEAD, and what changed since an earlier HEAD."""

    head_sha: str
    commits: tuple[str, ...] = ()  # `<short sha> <subject>` of each commit since, newest first
    dirty: tuple[str, ...] = ()  # paths with uncommitted changes (untracked included)


@dataclass(frozen=True, slots=True, kw_only=True)
class RebaseOutcome:
    ok: bool
    head_sha: str = ""
    base_sha: str = ""  # the commit of `onto` the branch now sits on (or conflicted with)
    conflict_paths: tuple[str, ...] = ()


class Workspaces(Protocol):
    async def prepare(self, *, task: str, branch: str, base_branch: str) -> Prepared:
        """Create, reuse or rediscover the worktree of `task` on `branch`."""
        ...

    async def finish_turn(
        self, *, worktree: str, base_sha: str, task: str, message: str
    ) -> TurnCommit:
        """Commit whatever the agent left uncommitted; count the branch's own commits."""
        ...

    async def work_state(self, *, worktree: str, since: str = "") -> WorkState:
        """HEAD, and (given an earlier HEAD `since`) the commits after it and the paths
        left uncommitted: what an interrupted agent turn left behind."""
        ...

    async def rebase(
        self, *, worktree: str, branch: str, onto: str, upstream: str
    ) -> RebaseOutcome:
        """`git rebase --onto onto upstream branch`; on conflict, abort and report the paths."""
        ...

    async def remove(self, *, task: str, worktree: str, branch: str, keep: bool) -> None: ...
