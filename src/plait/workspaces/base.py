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

    async def merge_in(self, *, worktree: str, branch: str, onto: str) -> RebaseOutcome:
        """`git merge onto` into the branch (a sync by merge); on conflict, abort."""
        ...

    async def divergence(self, *, worktree: str, onto: str, limit: int = 50) -> str:
        """Both sides' logs and the branch's diff stat, as text for an agent."""
        ...

    async def changed_paths(
        self, *, worktree: str, base_sha: str, limit: int = 1000
    ) -> tuple[str, ...]:
        """Paths the branch changes against `base_sha`."""
        ...

    async def diff(
        self, *, worktree: str, base_sha: str, head_sha: str, limit: int
    ) -> tuple[str, str]:
        """The stat and the (cut) patch of `base_sha..head_sha`."""
        ...

    async def restore(self, *, worktree: str, head_sha: str) -> bool:
        """Back to `head_sha`, clean; True when something changed."""
        ...

    async def agent_ref(self, ref: str) -> str:
        """The name an agent should use for branch `ref` in a turn's prompt (main as the
        forge has it, when a forge merges)."""
        ...

    async def main_mark(self) -> str:
        """The shared repository's main tip before an agent turn (see `guard_main`)."""
        ...

    async def guard_main(self, *, before: str, worktree: str, head: str = "") -> str:
        """After an agent turn: "" when the agent left main alone, else what it did
        (main is put back first; `plait.workspaces.mainguard`). `head`: the worktree's
        HEAD when the caller knows it."""
        ...

    async def remove(self, *, task: str, worktree: str, branch: str, keep: bool) -> None: ...
