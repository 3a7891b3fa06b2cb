"""Merge landing's last step: an approved, synced branch lands on main once, under a lock.

How this works. `MainLanding.land` takes the repository's merge lock — an asyncio lock for
this engine and an exclusive `flock` on `<git common dir>/plait-merge.lock` for any other
plait process on the same repository — then, in order:

1. looks for the task's commit on main (`Plait-Task:` and `Plait-Project:` trailers): a
   crash after main moved but before the result was recorded lands nothing twice;
2. checks the branch contains main's tip (it was synced); if main moved on since, the
   task syncs again (`behind`);
3. runs the CI command, if one is configured, on an export of the branch head — which is
   exactly the tree main will get — and refuses on red (`ci`, with the output);
4. squashes the branch onto main (`workspaces.squash`: a dry-run merge, one commit, a
   compare-and-swap of main), so a main that moved under the lock is refused, not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass

from plait import processes
from plait.forges.base import MergeBlocked
from plait.forges.local_ci import ci_env, export_commit, run_command
from plait.workspaces.git import commit_subject, git
from plait.workspaces.inspect import branch_sha, is_ancestor
from plait.workspaces.squash import find_marked, squash_onto

LOCK_FILE = "plait-merge.lock"


@dataclass(frozen=True, slots=True)
class Landed:
    sha: str


@dataclass(frozen=True, slots=True)
class Refused:
    why: str  # behind | conflict | ci
    evidence: str = ""
    main_sha: str = ""


def landing_message(title: str, *, task: str, project: str, branch: str) -> str:
    subject = commit_subject(" ".join(title.split()) or task)
    return f"{subject}\n\nPlait-Task: {task}\nPlait-Project: {project}\nPlait-Branch: {branch}\n"


class MainLanding:
    def __init__(
        self,
        repo: str,
        *,
        project: str,
        ci_command: list[str] | None = None,
        ci_timeout: float = 600.0,
        work_dir: str,
    ) -> None:
        self.repo = os.path.realpath(repo)
        self.project = project
        self.ci_command = list(ci_command or [])
        self.ci_timeout = ci_timeout
        self.work_dir = work_dir
        self._lock = asyncio.Lock()

    async def land(
        self,
        *,
        task: str,
        branch: str,
        main: str,
        title: str,
        since: float,
        verify: bool = True,
    ) -> Landed | Refused:
        async with self._locked():
            trailers = (f"Plait-Task: {task}", f"Plait-Project: {self.project}")
            landed = await find_marked(self.repo, base=main, trailers=trailers, since=since)
            if landed:
                return Landed(landed)
            main_tip = await branch_sha(self.repo, main)
            head = await branch_sha(self.repo, branch)
            if main_tip is None or head is None:
                missing = main if main_tip is None else branch
                raise MergeBlocked(f"branch {missing} does not exist", retryable=False)
            if not await is_ancestor(self.repo, main_tip, head):
                return Refused("behind", main_sha=main_tip)
            if verify and self.ci_command:
                failed = await self._ci(head, task)
                if failed is not None:
                    return Refused("ci", evidence=failed, main_sha=main_tip)
            message = landing_message(title, task=task, project=self.project, branch=branch)
            try:
                sha = await squash_onto(
                    self.repo, base=main, head=head, message=message, what=f"task {task}"
                )
            except MergeBlocked as exc:
                if "moved" in exc.reason:
                    return Refused("behind", main_sha=main_tip)
                if "conflicts" in exc.reason:
                    return Refused("conflict", main_sha=main_tip)
                raise
            return Landed(sha)

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        async with self._lock:
            common = await git("rev-parse", "--git-common-dir", cwd=self.repo)
            path = os.path.join(self.repo, common.out.strip(), LOCK_FILE)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the flock

    async def _ci(self, head: str, task: str) -> str | None:
        """The CI command's output when it fails on `head`, None when it passes."""
        os.makedirs(self.work_dir, mode=0o700, exist_ok=True)  # its checkouts are private
        tmp = tempfile.mkdtemp(prefix=f"merge-{task}-", dir=self.work_dir)
        try:
            await export_commit(self.repo, head, tmp)
            outcome = await run_command(
                self.ci_command,
                cwd=os.path.join(tmp, "src"),
                env=ci_env(head, 0),
                timeout=self.ci_timeout,
            )
        finally:
            await asyncio.to_thread(processes.stop_under, tmp)
            await asyncio.to_thread(shutil.rmtree, tmp, True)
        if outcome.passed:
            return None
        how = "timed out" if outcome.exit_code == -1 else f"failed (exit {outcome.exit_code})"
        return f"CI command `{' '.join(self.ci_command)}` {how} on {head[:7]}:\n{outcome.output}"
