"""Git between the controller and a worker: the start commit out, the result in.

The controller publishes its worktree's HEAD as `refs/plait/start/<effect id>` on the
workers' remote; after the turn it fetches the worker's `refs/plait/done/<effect
id>/<attempt>`, moves the worktree of record there, and drops the turn's refs. When the
remote is the repository itself (the local forge, workers on this machine or a shared
disk) publishing is an `update-ref` and there is nothing to fetch.
"""

from __future__ import annotations

import os

from plait.scaleout.jobs import TurnDone, TurnJob
from plait.workspaces.git import git


class Handover:
    def __init__(self, repo: str, remote: str) -> None:
        self.repo = repo
        self.remote = remote

    def _same_repo(self) -> bool:
        return os.path.isdir(self.remote) and os.path.samefile(self.remote, self.repo)

    async def publish(self, job: TurnJob) -> None:
        if self._same_repo():
            await git("update-ref", job.start_ref, job.start_sha, cwd=self.repo)
            return
        await git("push", "-q", "--force", "--no-verify", job.remote,
                  f"{job.start_sha}:{job.start_ref}", cwd=self.repo)  # fmt: skip

    async def take(self, job: TurnJob, done: TurnDone, worktree: str) -> None:
        """Move the worktree of record to the turn's result (plait's own worktree: the
        agents work on the workers)."""
        ref = job.done_ref(done.attempt)
        have = await git("cat-file", "-e", f"{done.head_sha}^{{commit}}", cwd=self.repo,
                         check=False)  # fmt: skip
        if have.code != 0:  # taken before a restart, its ref may be gone: then it is here
            await git("fetch", "-q", "--no-tags", job.remote, f"+{ref}:{ref}", cwd=self.repo)
        await git("reset", "-q", "--hard", done.head_sha, cwd=worktree)

    async def drop(self, job: TurnJob, done: TurnDone) -> None:
        """Drop the turn's refs, here and on the remote (best effort: they only hold
        commits that the task's branch holds now, or work nobody will take)."""
        refs = [job.start_ref, *(job.done_ref(n) for n in range(1, done.attempt + 1))]
        for ref in refs:
            await git("update-ref", "-d", ref, cwd=self.repo, check=False)
        if not self._same_repo():
            await git("push", "-q", "--no-verify", job.remote, *(f":{r}" for r in refs),
                      cwd=self.repo, check=False)  # fmt: skip
