"""A worker's copy of a task's workspace: a bare mirror per repository, a worktree per task.

How this works. The controller keeps each task's worktree of record; before a turn goes
out it publishes the worktree's HEAD under `refs/plait/start/<effect id>` on the remote the
workers use (the project's repository itself, or its forge). A worker fetches that one
ref into its mirror (`<root>/repos/<hash of the remote>.git`, created on first use),
checks the task's branch out at it in `<root>/work/<project>-<uid>/<task>`, and after the
turn pushes HEAD to `refs/plait/done/<effect id>/<attempt>`; the controller fetches it and
moves its worktree there. A worktree is kept between turns (dependencies a hook installed
stay), but reset to the start commit before each turn, except when this same worker is
taking up its own attempt that was cut off: then what that attempt left is the point.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from plait.errors import GitError
from plait.scaleout.jobs import TurnJob
from plait.workspaces.git import AGENT_EMAIL, AGENT_NAME, git
from plait.workspaces.hook import run_hook
from plait.workspaces.inspect import is_ancestor
from plait.workspaces.names import check_task_id
from plait.workspaces.worktrees import GitWorkspaces

HOOK_TIMEOUT = 1800.0


@dataclass(frozen=True, slots=True)
class Checkout:
    path: str  # the task's worktree on this worker
    shelf: GitWorkspaces  # the git work plait does inside it (commit leftovers, inspect)


class WorkerWorkspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, asyncio.Lock] = {}

    def mirror(self, remote: str) -> Path:
        key = hashlib.sha256(remote.encode()).hexdigest()[:16]
        return self.root / "repos" / f"{key}.git"

    def worktree(self, job: TurnJob) -> Path:
        check_task_id(job.task)
        return self.root / "work" / job.folder / job.task

    async def checkout(self, job: TurnJob, *, keep: bool) -> Checkout:
        """The task's worktree at the turn's start commit (or, with `keep`, as an earlier
        attempt of this worker left it, when that still builds on the start commit)."""
        mirror = self.mirror(job.remote)
        lock = self._locks.setdefault(str(mirror), asyncio.Lock())
        async with lock:  # one clone, fetch or worktree change at a time per mirror
            await self._fetch(mirror, job)
            path = await self._place(mirror, job, keep=keep)
        shelf = GitWorkspaces(str(mirror), str(path.parent), main_branch="main")
        return Checkout(path=str(path), shelf=shelf)

    async def publish(self, job: TurnJob, path: str, attempt: int) -> None:
        """Push the worktree's HEAD where the controller looks for this attempt's work."""
        await git(
            "push", "-q", "--force", "--no-verify", job.remote, f"HEAD:{job.done_ref(attempt)}",
            cwd=path,
        )  # fmt: skip

    async def _fetch(self, mirror: Path, job: TurnJob) -> None:
        if not (mirror / "HEAD").is_file():
            mirror.parent.mkdir(parents=True, exist_ok=True)
            await git("init", "-q", "--bare", str(mirror), cwd=str(mirror.parent))
            await git("config", "user.name", AGENT_NAME, cwd=str(mirror))
            await git("config", "user.email", AGENT_EMAIL, cwd=str(mirror))
        ref = job.start_ref
        await git("fetch", "-q", "--no-tags", job.remote, f"+{ref}:{ref}", cwd=str(mirror))
        fetched = (await git("rev-parse", ref, cwd=str(mirror))).out.strip()
        if fetched != job.start_sha:
            raise GitError(
                f"{ref} on {job.remote} is {fetched[:12]}, not the turn's start "
                f"{job.start_sha[:12]}",
                hint="another controller publishes to the same remote; give it its own",
            )

    async def _place(self, mirror: Path, job: TurnJob, *, keep: bool) -> Path:
        path = self.worktree(job)
        if path.is_dir() and not (path / ".git").exists():
            await asyncio.to_thread(shutil.rmtree, path, True)  # not a worktree: ours to clear
        if path.is_dir():
            if keep and await is_ancestor(str(path), job.start_sha, "HEAD"):
                return path
            await git("checkout", "-q", "-f", "-B", job.branch, job.start_sha, cwd=str(path))
            await git("clean", "-q", "-ffd", cwd=str(path))
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        await git("worktree", "prune", cwd=str(mirror))
        await git(
            "worktree", "add", "-q", "-f", "-B", job.branch, str(path), job.start_sha,
            cwd=str(mirror),
        )  # fmt: skip
        if job.hook:
            hook = os.path.join(path, job.hook)
            try:
                await run_hook(hook, task=job.task, branch=job.branch, worktree=str(path),
                               timeout=HOOK_TIMEOUT)  # fmt: skip
            except BaseException:
                # A retry must run the hook again in a fresh worktree.
                await git("worktree", "remove", "-f", "-f", str(path), cwd=str(mirror),
                          check=False)  # fmt: skip
                raise
        return path
