"""`LocalForge`: the embedded default forge. PRs, reviews and CI live in the project's
SQLite file (tables `forge_*`) and in the repository itself.

How this works: a PR is a row naming a branch, a base and the last pushed head. Worktrees
share the repository, so "pushing" only records the branch tip as the PR head, pins it with
`refs/plait/pr/<n>/head` (so the commit stays alive whatever happens to the branch) and
queues a CI run for it. `serve()` runs CI (see `local_ci`); `merge()` squash-merges (see
`local_merge`). Every write is idempotent, because the engine runs effects at-least-once.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
from collections.abc import Callable, Collection, Mapping, Sequence

from plait.core.model import CIStatus, PRView, ReviewThread
from plait.errors import ForgeError
from plait.forges.base import MergeBlocked, PRInfo
from plait.forges.local_ci import NO_CI, CIRunner
from plait.forges.local_db import FAILED, PASSED, ForgeDB, PRRow, ThreadRow
from plait.forges.local_merge import find_landed, is_mergeable, squash_merge
from plait.workspaces.git import git
from plait.workspaces.inspect import Tip, branch_tips, is_ancestor, watched_tips
from plait.workspaces.names import check_branch

DEMO_AUTHOR = "demo-reviewer"
REVIEWER_AUTHOR = "plait-reviewer"  # a reviewer agent's verdict ([review] prs)

__all__ = ["DEMO_AUTHOR", "NO_CI", "LocalForge"]

_MAX_AUTHORS = 10_000  # heads (and pushed branches) kept in memory


class LocalForge:
    """The `Forge` implementation that needs no network: everything is local."""

    name = "local"

    def __init__(
        self,
        db_path: str,
        repo: str,
        main_branch: str = "main",
        ci_command: list[str] | None = None,
        ci_timeout: float = 600,
        ci_concurrency: int = 2,
        demo_reviews: Mapping[str, Sequence[str]] | None = None,
        ci_dir: str | None = None,
    ) -> None:
        self.repo = os.path.realpath(repo)
        self.main_branch = main_branch
        self.ci_command = list(ci_command) if ci_command else []
        self.demo_reviews = dict(demo_reviews or {})
        self.db = ForgeDB(db_path)
        # CI exports live beside the project's database (<project>/tmp/ci), where the next
        # start cleans what a crash left; never in $TMPDIR, where nothing would.
        work_dir = ci_dir or os.path.join(os.path.dirname(os.path.abspath(db_path)), "tmp", "ci")
        self.ci = CIRunner(
            self.db, self.repo, self.ci_command, ci_timeout, ci_concurrency, work_dir=work_dir
        )
        # Pure functions of commit ids, so safe to cache for the life of the process.
        self._mergeable: dict[tuple[str, str], bool | None] = {}
        self._outdated: dict[tuple[str, str, str], bool] = {}
        # The head each branch was last pushed at: a new PR starts there, as on a forge.
        self._pushed: dict[str, str] = {}
        # Authors of the heads seen, so a squash needs no git to ask (a commit's author
        # never changes).
        self._authors: dict[str, tuple[str, str]] = {}
        # Merges into one base must not interleave: two fast-forwards of the same
        # checked-out main at once leave that checkout half-updated.
        self._merge_lock = asyncio.Lock()

    # ---- PRs and pushes ---------------------------------------------------------------------
    async def open_pr(self, *, task: str, branch: str, base: str, title: str, body: str) -> PRView:
        await check_branch(branch)
        await check_branch(base)
        existing = self.db.open_pr_of_branch(branch)
        if existing is None:
            # Pushed just before (no git, P3); read after a restart.
            head = self._pushed.pop(branch, "") or await self._tip(branch)
            existing = self.db.insert_pr(
                task=task, branch=branch, base=base, title=title, body=body, head=head
            )
        # Pin and queue even for an existing PR: a crash may have come between the steps.
        await self._pin(existing.number, existing.head_sha)
        self._queue_ci(existing.number, existing.head_sha)
        return await self._view(existing)

    async def push(self, *, branch: str, worktree: str, force: bool) -> str:
        await check_branch(branch)
        head = await self._tip(branch)
        pr = self.db.open_pr_of_branch(branch)
        if pr is None:
            # The PR to open next starts here (`open_pr` takes it once).
            if len(self._pushed) >= _MAX_AUTHORS:
                self._pushed.clear()
            self._pushed[branch] = head
            return head
        if pr.head_sha != head:
            if not force and not await is_ancestor(self.repo, pr.head_sha, head):
                raise ForgeError(
                    f"push of {branch} rejected: {head[:7]} does not contain PR #{pr.number}'s "
                    f"head {pr.head_sha[:7]} (non-fast-forward)",
                    hint="push with force after a rebase",
                )
            await self._pin(pr.number, head)
            self.db.update_pr(pr.number, head_sha=head)
        self._queue_ci(pr.number, head)
        return head

    async def _tip(self, branch: str) -> str:
        return self._known_tip(branch, (await self._read_tips({branch})).get(branch))

    async def _read_tips(self, branches: Collection[str]) -> dict[str, Tip | None]:
        tips = await branch_tips(self.repo, branches)
        for tip in tips.values():
            if tip is not None and tip.author_name and tip.author_email:
                if len(self._authors) >= _MAX_AUTHORS:
                    self._authors.clear()
                self._authors[tip.sha] = (tip.author_name, tip.author_email)
        return tips

    def _known_tip(self, branch: str, tip: Tip | None) -> str:
        if tip is None:
            raise ForgeError(
                f"branch {branch} does not exist in {self.repo}",
                hint="the task's workspace must be prepared before its PR",
            )
        return tip.sha

    async def _pin(self, number: int, sha: str) -> None:
        await git("update-ref", f"refs/plait/pr/{number}/head", sha, cwd=self.repo)

    def _queue_ci(self, number: int, sha: str) -> None:
        command = shlex.join(self.ci_command)
        self.db.queue_ci(number, sha, command=command, passed_now=None if command else NO_CI)
        self.ci.wake.set()

    def _pr(self, number: int) -> PRRow:
        pr = self.db.pr(number)
        if pr is None:
            raise ForgeError(f"no local PR #{number}", hint="see `plait status` for PR numbers")
        return pr

    async def pr_info(self, number: int) -> PRInfo:
        row = self._pr(number)
        return PRInfo(
            number=row.number,
            title=row.title,
            body=row.body,
            branch=row.branch,
            base=row.base,
            head_sha=row.head_sha,
            draft=row.draft,
            state=row.state,
        )

    async def mark_ready(self, pr: int) -> None:
        row = self._pr(pr)
        if row.state != "open":
            return
        if row.draft:
            self.db.update_pr(pr, draft=0)
        comments = self.demo_reviews.get(row.task, ())
        if comments and not row.demo_posted:
            # Labelled simulator for `plait demo`: fixed ids make a second call a no-op.
            self._add_threads(row, comments, author=DEMO_AUTHOR, ids=f"demo-{row.task}")
            self.db.update_pr(pr, demo_posted=1)

    def _add_threads(self, row: PRRow, bodies: Sequence[str], *, author: str, ids: str) -> None:
        """Conversation threads numbered `<ids>-<n>`: adding them again is a no-op."""
        for n, body in enumerate(bodies, start=1):
            self.db.add_thread(
                pr=row.number,
                body=body,
                author=author,
                path=None,
                line=None,
                commit_sha=row.head_sha,
                thread_id=f"{ids}-{n}",
            )

    async def retarget(self, pr: int, base: str) -> None:
        await check_branch(base)
        row = self._pr(pr)
        if row.state == "open" and row.base != base:
            self.db.update_pr(pr, base=base)

    async def resolve_threads(
        self, pr: int, thread_ids: tuple[str, ...], reply: str, *, key: str = ""
    ) -> None:
        self._pr(pr)
        for thread_id in thread_ids:
            self.db.resolve_thread(pr, thread_id, reply)

    async def merge(self, pr: int, *, title: str) -> str:
        async with self._merge_lock:
            return await self._merge(pr, title)

    async def _merge(self, pr: int, title: str) -> str:
        row = self._pr(pr)
        if row.state == "merged":
            return row.merge_sha
        if row.state != "open":
            raise MergeBlocked(f"PR #{pr} is {row.state}", retryable=False)
        if row.draft:
            raise MergeBlocked(f"PR #{pr} is still a draft; mark it ready first", retryable=False)
        landed = await find_landed(
            self.repo, base=row.base, number=pr, branch=row.branch, since=row.created_at
        )
        if not landed:
            landed = await squash_merge(
                self.repo,
                number=pr,
                branch=row.branch,
                base=row.base,
                head=row.head_sha,
                title=title or row.title,
                author=self._authors.get(row.head_sha),
            )
        self.db.update_pr(pr, state="merged", merge_sha=landed)
        return landed

    async def post_review(
        self, pr: int, *, approved: bool, body: str, issues: tuple[str, ...], key: str
    ) -> bool:
        """Each issue of a needs-changes verdict becomes a review thread (fixed ids: posting
        again adds nothing); an approval leaves no thread to answer."""
        row = self._pr(pr)
        if not approved:
            self._add_threads(row, issues or (body,), author=REVIEWER_AUTHOR, ids=f"verdict-{key}")
        return True

    async def close_pr(self, pr: int) -> None:
        if self._pr(pr).state == "open":
            self.db.update_pr(pr, state="closed")

    def suggested_poll_interval(self, base: float) -> float:
        return base  # polling the local forge costs nothing

    def on_change(self, poll_now: Callable[[], None]) -> None:
        """Call `poll_now` when something changes here by itself (a CI run finished)."""
        self.ci.on_finished = poll_now

    async def delete_branch(self, branch: str) -> bool:
        """The local forge shares the repository: the worktree's cleanup deletes the branch.

        Like GitHub, it refuses while an open PR targets the branch.
        """
        return not any(pr.base == branch and pr.state == "open" for pr in self.db.all_prs())

    # ---- reading -----------------------------------------------------------------------------
    async def poll(self, prs: Mapping[str, int]) -> dict[str, PRView]:
        views: dict[str, PRView] = {}
        rows = [(task, row) for task, number in prs.items() if (row := self.db.pr(number))]
        tips = await self._base_tips({row.base for _, row in rows})  # one git at most
        for task, row in rows:
            views[task] = await self._view(row, tips)
        return views

    async def _base_tips(self, bases: Collection[str]) -> dict[str, str]:
        """The tips of `bases`; read by git only when one of their ref files changed since
        the last read (the engine polls after every step it takes)."""
        tips = await watched_tips(self.repo, bases)
        return {b: sha for b, sha in tips.items() if sha}

    async def _view(self, row: PRRow, tips: Mapping[str, str] | None = None) -> PRView:
        if tips is None:
            tips = await self._base_tips({row.base})
        ci, evidence = self._ci_status(row)
        return PRView(
            number=row.number,
            state=row.state,
            draft=row.draft,
            base=row.base,
            head_sha=row.head_sha,
            ci=ci,
            ci_evidence=evidence,
            mergeable=await self._mergeable_now(row, tips.get(row.base)),
            threads=await self._threads(row),
            merge_sha=row.merge_sha,
            url=f"local:pr/{row.number}",
        )

    def _ci_status(self, row: PRRow) -> tuple[CIStatus, str]:
        run = self.db.ci_run(row.number, row.head_sha) if row.head_sha else None
        if run is None:
            return CIStatus.NONE, ""
        if run.state == PASSED:
            # No CI command: green, but say so — never "CI passed" for a check never run.
            return CIStatus.PASSED, NO_CI if not run.command else ""
        if run.state != FAILED:
            return CIStatus.PENDING, ""
        how = "timed out" if run.exit_code == -1 else f"failed (exit {run.exit_code})"
        text = f"CI command `{run.command}` {how} on {run.sha[:7]}:\n{run.output}"
        return CIStatus.FAILED, text

    async def _mergeable_now(self, row: PRRow, base_tip: str | None) -> bool | None:
        if row.state != "open" or not row.head_sha or base_tip is None:
            return None
        key = (base_tip, row.head_sha)
        if key not in self._mergeable:
            self._mergeable[key] = await is_mergeable(self.repo, base_tip, row.head_sha)
        return self._mergeable[key]

    async def _threads(self, row: PRRow) -> tuple[ReviewThread, ...]:
        out: list[ReviewThread] = []
        for t in self.db.threads(row.number):
            outdated = await self._is_outdated(t, row.head_sha)
            out.append(
                ReviewThread(
                    id=t.id,
                    body=t.body,
                    author=t.author,
                    path=t.path,
                    line=t.line,
                    outdated=outdated,
                )
            )
        return tuple(out)

    async def _is_outdated(self, thread: ThreadRow, head: str) -> bool:
        """A line comment is outdated once its file changed since the commented commit."""
        if not thread.path or not thread.commit_sha or thread.commit_sha == head or not head:
            return False
        key = (thread.commit_sha, head, thread.path)
        if key not in self._outdated:
            result = await git(
                "diff",
                "--quiet",
                thread.commit_sha,
                head,
                "--",
                thread.path,
                cwd=self.repo,
                check=False,
            )
            self._outdated[key] = result.code == 1
        return self._outdated[key]

    # ---- CI ----------------------------------------------------------------------------------
    async def serve(self) -> None:
        await self.ci.serve()

    async def run_pending_ci_once(self) -> int:
        """Run every queued CI job to completion (for tests and one-shot tools)."""
        return await self.ci.run_pending_once()

    # ---- sync helpers for the CLI (other processes) ---------------------------------------
    def add_review_comment(
        self,
        *,
        pr: int,
        body: str,
        path: str | None = None,
        line: int | None = None,
        author: str = "human",
    ) -> str:
        """Open a review thread on a PR; returns its id."""
        row = self._pr(pr)
        if not body.strip():
            raise ForgeError("empty review comment", hint="say what should change")
        if path is not None and (os.path.isabs(path) or ".." in path.split("/")):
            raise ForgeError(f"bad path {path!r}", hint="use a path relative to the repo root")
        if path is not None:
            self._check_commented_line(pr, row.head_sha, path, line)
        return self.db.add_thread(
            pr=pr, body=body, author=author, path=path, line=line, commit_sha=row.head_sha
        )

    def _check_commented_line(self, pr: int, sha: str, path: str, line: int | None) -> None:
        """A line comment must point into the PR's head, as GitHub refuses one whose path it
        cannot resolve: otherwise the agent is asked about a file it cannot find."""
        shown = subprocess.run(
            ["git", "show", f"{sha}:{path}"], cwd=self.repo, capture_output=True, check=False
        )
        if shown.returncode != 0:
            raise ForgeError(
                f"PR #{pr} has no file {path!r} at its head {sha[:12]}",
                hint=f"name a file of the PR (git ls-tree -r --name-only {sha[:12]})",
            )
        lines = shown.stdout.count(b"\n") + (0 if shown.stdout.endswith(b"\n") else 1)
        if line is not None and not 1 <= line <= max(lines, 1):
            raise ForgeError(
                f"{path} has {lines} lines at PR #{pr}'s head; there is no line {line}",
                hint=f"give a --line from 1 to {lines}, or leave --line out",
            )

    def find_pr(self, task: str) -> int | None:
        return self.db.find_pr(task)

    def list_prs(self) -> list[dict[str, object]]:
        """Every PR with its CI state and open thread count, for status displays."""
        rows: list[dict[str, object]] = []
        for pr in self.db.all_prs():
            ci, _ = self._ci_status(pr)
            rows.append(
                {
                    "number": pr.number,
                    "task": pr.task,
                    "branch": pr.branch,
                    "base": pr.base,
                    "title": pr.title,
                    "state": pr.state,
                    "draft": pr.draft,
                    "head_sha": pr.head_sha,
                    "merge_sha": pr.merge_sha,
                    "ci": ci.value,
                    "threads": len(self.db.threads(pr.number)),
                }
            )
        return rows

    async def close(self) -> None:
        self.close_sync()

    def close_sync(self) -> None:
        self.db.close()
