"""`GitWorkspaces`: one git worktree per task, and the git work plait does inside it.

How this works: a task's worktree lives at `<root>/<task>` on the task's branch. Every
method is safe to run again after a crash, because the engine runs effects at-least-once:
`prepare` makes a new branch with its worktree in one git, and when git refuses (the
branch or the folder is there already) looks for a worktree that already has the branch
checked out (wherever it is); `remove` deletes the worktree and the branch, and when git
refuses looks at every worktree, and accepts things that are already gone; `rebase`
recognises a branch that already sits on its target. The user's main checkout is never
touched: all commands run either in the task's worktree or as ref-level commands in the
repository.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable

from plait.errors import GitError
from plait.workspaces.base import Prepared, RebaseOutcome, TurnCommit, WorkState
from plait.workspaces.git import (
    AGENT_EMAIL,
    AGENT_NAME,
    GitResult,
    commit_env,
    commit_message,
    git,
    has_identity,
    side_by_side,
)
from plait.workspaces.githooks import HookGuard
from plait.workspaces.hook import run_hook
from plait.workspaces.identity import repo_has_identity
from plait.workspaces.inspect import (
    branch_sha,
    is_ancestor,
    is_dirty,
    list_worktrees,
    op_in_progress,
    rev,
    same_path,
    still_conflicted,
    unresolved_paths,
    watched_branch_sha,
)
from plait.workspaces.mainguard import check_main, main_tip
from plait.workspaces.names import check_branch, check_rev, check_task_id
from plait.workspaces.pushguard import RemoteRefs, check_pushes, remote_refs

_MAX_CONTINUES = 200  # rebase --continue steps finish_turn takes before giving up
_MAX_MARKS = 10_000  # forge snapshots kept for turns under way


class GitWorkspaces:
    """The `Workspaces` implementation over real git worktrees."""

    def __init__(
        self,
        repo: str,
        root: str,
        main_branch: str,
        hook: str | None = None,
        *,
        hook_timeout: float = 1800.0,
        remote: str | None = None,
        report: Callable[[str, str], None] | None = None,
    ) -> None:
        """`remote`: where the main branch really moves (a forge like GitHub merges there);
        it is fetched before a worktree is based on main or rebased onto it. `report(task,
        text)`: told what an agent changed that plait put back (its git hooks)."""
        self.repo = os.path.realpath(repo)
        self.root = os.path.realpath(root)
        self.main_branch = main_branch
        self.hook = hook
        self.hook_timeout = hook_timeout
        self.remote = remote
        self.report = report
        self.git_hooks = HookGuard(self.repo)
        # The forge's refs before each turn under way, by the mark `main_mark` gave it.
        self._forge_marks: dict[str, RemoteRefs] = {}
        self._marks = 0
        # One fetch at a time per tracking ref: two prepares fetching main together race
        # for its ref lock ("cannot lock ref … is at X but expected Y") and one fails.
        self._fetching: dict[str, asyncio.Lock] = {}

    # ---- prepare -------------------------------------------------------------------------
    async def prepare(self, *, task: str, branch: str, base_branch: str) -> Prepared:
        check_task_id(task)
        await check_branch(branch)
        await check_rev(base_branch)
        await self.git_hooks.remember()  # before any agent works in the repository
        base_tip = await self._resolve(base_branch)
        path = os.path.join(self.root, task)
        if not self.remote and not os.path.lexists(path):
            # Usually a new branch: made with its worktree in one git (P3). git refuses
            # when anything stands in the way (the branch exists, a worktree is left
            # registered there, the branch is checked out unborn): then the careful way
            # below looks at what is there, as it always did.
            os.makedirs(self.root, exist_ok=True)
            added = await git(
                "worktree", "add", "--no-track", "-b", branch, "--", path, base_tip,
                cwd=self.repo, check=False,
            )  # fmt: skip
            if added.code == 0:
                await self._set_up(task, branch, path)
                # A new branch made at base_tip: that is its merge base, no git to ask.
                return Prepared(path=path, base_sha=base_tip)
        remote_tip = await self._fetch_branch(branch)
        local = await branch_sha(self.repo, branch)
        worktrees = await list_worktrees(self.repo)
        existing = next((w for w in worktrees if w.branch == branch and not w.prunable), None)
        if existing is not None and same_path(existing.path, self.repo):
            raise GitError(
                f"branch {branch} is checked out in the main checkout {self.repo}",
                hint="switch the main checkout to another branch; agents work in worktrees",
            )
        if existing is not None and os.path.isdir(existing.path):
            path = existing.path
            if remote_tip:
                await self._fast_forward(path, branch, remote_tip)
        else:
            if local is None and remote_tip:
                # A branch that exists only on the forge (an adopted PR): start from it.
                await git("branch", "--no-track", "--", branch, remote_tip, cwd=self.repo)
            elif (
                local is not None and remote_tip and await is_ancestor(self.repo, local, remote_tip)
            ):
                await git("branch", "-f", "--", branch, remote_tip, cwd=self.repo)
            fresh = local is None and not remote_tip
            stale = any(w.prunable or not os.path.isdir(w.path) for w in worktrees)
            path = await self._create(task, branch, base_tip, fresh=fresh, prune=stale)
            if fresh:
                # A new branch made at base_tip: that is its merge base, no git to ask.
                return Prepared(path=path, base_sha=base_tip)
        merge_base = await git("merge-base", branch, base_tip, cwd=self.repo, check=False)
        base_sha = merge_base.out.strip() if merge_base.code == 0 else base_tip
        return Prepared(path=path, base_sha=base_sha)

    async def _fetch_branch(self, branch: str) -> str | None:
        """The forge's tip of `branch` (None without a remote or when it has none)."""
        if not self.remote or branch == self.main_branch:
            return None
        tracking = f"refs/remotes/{self.remote}/{branch}"
        async with self._fetch_lock(tracking):
            fetched = await git(
                "fetch", "--quiet", "--no-tags", self.remote, f"+refs/heads/{branch}:{tracking}",
                cwd=self.repo, check=False,
            )  # fmt: skip
        return await rev(self.repo, tracking) if fetched.code == 0 else None

    def _fetch_lock(self, tracking: str) -> asyncio.Lock:
        lock = self._fetching.get(tracking)
        if lock is None:
            lock = self._fetching[tracking] = asyncio.Lock()
        return lock

    async def _fast_forward(self, worktree: str, branch: str, tip: str) -> None:
        """Someone pushed to the branch on the forge: catch the worktree up if we can."""
        local = await branch_sha(self.repo, branch)
        if local is None or local == tip or not await is_ancestor(self.repo, local, tip):
            return
        if await is_dirty(worktree, untracked=False):
            return
        await git("merge", "--ff-only", "-q", tip, cwd=worktree)

    async def _resolve(self, ref: str) -> str:
        if self.remote and ref == self.main_branch:
            tracking = f"refs/remotes/{self.remote}/{ref}"
            async with self._fetch_lock(tracking):
                await git(
                    "fetch", "--quiet", "--no-tags", self.remote, f"+refs/heads/{ref}:{tracking}",
                    cwd=self.repo,
                )  # fmt: skip
            fetched = await rev(self.repo, tracking)
            if fetched is not None:
                return fetched
        # A branch as main is: known without a git while its ref files stay put.
        sha = await watched_branch_sha(self.repo, ref) or await rev(self.repo, ref)
        if sha is None:
            raise GitError(
                f"base branch {ref!r} does not exist in {self.repo}",
                hint="create it or fix the plan's base branch",
            )
        return sha

    async def _create(
        self, task: str, branch: str, base_tip: str, *, fresh: bool, prune: bool
    ) -> str:
        """`fresh`: the branch does not exist yet (it is made at `base_tip`); `prune`: the
        repository lists a worktree whose directory is gone."""
        if prune:
            # A worktree whose directory was deleted by hand still holds the branch.
            await git("worktree", "prune", cwd=self.repo)
        path = os.path.join(self.root, task)
        if os.path.exists(path) and os.listdir(path):
            raise GitError(
                f"{path} exists and is not the worktree of branch {branch}",
                hint="move that directory away; plait creates task worktrees there",
            )
        os.makedirs(self.root, exist_ok=True)
        if not fresh:
            await git("worktree", "add", "--", path, branch, cwd=self.repo)
        else:
            await git(
                "worktree", "add", "--no-track", "-b", branch, "--", path, base_tip, cwd=self.repo
            )
        await self._set_up(task, branch, path)
        return path

    async def _set_up(self, task: str, branch: str, path: str) -> None:
        """A new worktree's committer identity, then the project's worktree hook."""
        await self._ensure_identity(path)
        if self.hook:
            try:
                await run_hook(
                    self._hook_path(),
                    task=task,
                    branch=branch,
                    worktree=path,
                    timeout=self.hook_timeout,
                )
            except (GitError, asyncio.CancelledError):
                # Drop the worktree (keep the branch) so a retry creates it and runs the hook.
                await self._remove_worktree(path)
                raise

    def _hook_path(self) -> str:
        assert self.hook is not None
        return self.hook if os.path.isabs(self.hook) else os.path.join(self.repo, self.hook)

    async def _ensure_identity(self, worktree: str) -> None:
        """Give agents a committer identity in this worktree only, if the repo has none."""
        # A new worktree sees the repository's configuration: known, no git (P3).
        if await repo_has_identity(self.repo) or await has_identity(worktree):
            return
        await git("config", "extensions.worktreeConfig", "true", cwd=self.repo)
        await git("config", "--worktree", "user.name", AGENT_NAME, cwd=worktree)
        await git("config", "--worktree", "user.email", AGENT_EMAIL, cwd=worktree)

    # ---- finish_turn ---------------------------------------------------------------------
    async def finish_turn(
        self, *, worktree: str, base_sha: str, task: str, message: str
    ) -> TurnCommit:
        check_task_id(task)
        self._check_worktree(worktree)
        message = message.strip() or f"plait: work on {task}"
        # The repository's hooks and the worktree's operation are apart: both at once (P3:
        # this runs while the turn holds its agent slot).
        changes, op = await side_by_side(self.git_hooks.restore(), op_in_progress(worktree))
        for change in changes:
            if self.report is not None:
                self.report(task, change)
        await self._conclude_operation(worktree, message, op)
        if await is_dirty(worktree):
            await git("add", "-A", cwd=worktree)
            await self._commit(worktree, message)
        # One git for both (P3: this runs while the turn holds its agent slot): in topo
        # order the tip comes first, since every other commit listed is its ancestor.
        ahead = await git("rev-list", "--topo-order", f"{base_sha}..HEAD", cwd=worktree)
        commits = ahead.out.split()
        if not commits:
            head = (await git("rev-parse", "HEAD", cwd=worktree)).out.strip()
            return TurnCommit(head_sha=head, commits_ahead=0)
        return TurnCommit(head_sha=commits[0], commits_ahead=len(commits))

    async def work_state(self, *, worktree: str, since: str = "") -> WorkState:
        self._check_worktree(worktree)
        head = (await git("rev-parse", "HEAD", cwd=worktree)).out.strip()
        if not since:
            return WorkState(head_sha=head)
        await check_rev(since)
        log = await git("log", "--format=%h %s", f"{since}..{head}", cwd=worktree, check=False)
        status = await git("status", "--porcelain", "-z", cwd=worktree)
        # -z entries are "XY path"; a rename's source path follows as its own entry.
        entries = [e for e in status.out.split("\0") if len(e) > 3 and e[2] == " "]
        return WorkState(
            head_sha=head,
            commits=tuple(log.out.splitlines()) if log.code == 0 else (),
            dirty=tuple(e[3:] for e in entries),
        )

    async def _commit(self, worktree: str, message: str, *extra: str) -> None:
        # --no-verify: this commit only saves the agent's work; CI and review judge it.
        await git(
            "commit",
            "-q",
            "--no-verify",
            *extra,
            "-m",
            commit_message(message),
            cwd=worktree,
            env_extra=await commit_env(worktree),
        )

    async def _conclude_operation(self, worktree: str, message: str, op: str | None) -> None:
        """Finish the merge/rebase/cherry-pick `op` an agent left with its conflicts
        resolved."""
        if op is None:
            return
        await self._refuse_unresolved(worktree, op)
        await git("add", "-A", cwd=worktree)
        if op == "rebase":
            await self._continue_rebase(worktree)
            return
        await self._commit(worktree, message, "--allow-empty")
        if op in ("cherry-pick", "revert"):
            # Drop sequencer state of a multi-commit pick; its remaining picks are abandoned.
            await git(op, "--quit", cwd=worktree, check=False)

    async def _refuse_unresolved(self, worktree: str, op: str) -> None:
        paths = await still_conflicted(worktree)
        if paths:
            raise GitError(
                f"a {op} in {worktree} has unresolved conflicts in {', '.join(paths)}",
                hint=f"resolve them and commit, or run `git {op} --abort` there",
            )

    async def _continue_rebase(self, worktree: str) -> None:
        env = await commit_env(worktree)
        for _ in range(_MAX_CONTINUES):
            if await op_in_progress(worktree) != "rebase":
                return
            await self._refuse_unresolved(worktree, "rebase")
            await git("add", "-A", cwd=worktree)
            staged = await git("diff", "--cached", "--quiet", cwd=worktree, check=False)
            step = "--continue" if staged.code != 0 else "--skip"
            await git("rebase", step, cwd=worktree, check=False, env_extra=env)
        raise GitError(f"could not finish the rebase in {worktree}", hint="finish it by hand")

    def _check_worktree(self, worktree: str) -> None:
        if not os.path.isdir(worktree):
            raise GitError(f"worktree {worktree} does not exist", hint="plait recreates it")
        if same_path(worktree, self.repo):
            raise GitError("refusing to work in the main checkout", hint="this is a plait bug")

    # ---- rebase --------------------------------------------------------------------------
    async def rebase(
        self, *, worktree: str, branch: str, onto: str, upstream: str
    ) -> RebaseOutcome:
        await check_branch(branch)
        await check_rev(onto)
        await check_rev(upstream)
        self._check_worktree(worktree)
        onto_sha = await self._resolve(onto)
        if await op_in_progress(worktree) == "rebase":
            # A rebase interrupted by a crash: start over from the original branch.
            await git("rebase", "--abort", cwd=worktree)
        if await is_dirty(worktree, untracked=False):
            raise GitError(
                f"worktree {worktree} has uncommitted changes; cannot rebase",
                hint="plait commits an agent's leftovers after each turn; commit or drop them",
            )
        if await self._already_on(branch, onto_sha, upstream):
            head = await branch_sha(self.repo, branch)
            return RebaseOutcome(ok=True, head_sha=head or "", base_sha=onto_sha)
        result = await git(
            "rebase",
            "--no-update-refs",
            "--no-autosquash",
            "--onto",
            onto_sha,
            upstream,
            branch,
            cwd=worktree,
            check=False,
            env_extra=await commit_env(worktree),
        )
        command = f"git rebase --onto {onto} {upstream} {branch}"
        return await self._outcome(worktree, "rebase", command, result, onto_sha)

    async def _outcome(
        self, worktree: str, op: str, command: str, result: GitResult, onto_sha: str
    ) -> RebaseOutcome:
        """What a rebase or merge onto `onto_sha` came to; a conflict is undone."""
        if result.code == 0:
            head = (await git("rev-parse", "HEAD", cwd=worktree)).out.strip()
            return RebaseOutcome(ok=True, head_sha=head, base_sha=onto_sha)
        if await op_in_progress(worktree) != op:
            raise GitError(
                f"`{command}` failed: {result.err.strip()}",
                hint="look at the worktree " + worktree,
            )
        paths = await unresolved_paths(worktree)
        await git(op, "--abort", cwd=worktree)
        return RebaseOutcome(ok=False, base_sha=onto_sha, conflict_paths=paths)

    async def _already_on(self, branch: str, onto_sha: str, upstream: str) -> bool:
        """True when the rebase has nothing left to do (e.g. it ran before a crash).

        The branch must contain `onto`, and its old base must be gone from it (dropped by a
        previous rebase) or be part of `onto` (nothing of it to drop).
        """
        if not await is_ancestor(self.repo, onto_sha, branch):
            return False
        if not await is_ancestor(self.repo, upstream, branch):
            return True
        return await is_ancestor(self.repo, upstream, onto_sha)

    # ---- merge landing: sync by merge, what diverged, what changed ----------------------
    async def merge_in(self, *, worktree: str, branch: str, onto: str) -> RebaseOutcome:
        """`git merge onto` into the branch; on conflict, abort and report the paths."""
        await check_branch(branch)
        await check_rev(onto)
        self._check_worktree(worktree)
        onto_sha = await self._resolve(onto)
        if await op_in_progress(worktree) == "merge":
            await git("merge", "--abort", cwd=worktree)  # a merge cut off by a crash
        if await is_dirty(worktree, untracked=False):
            raise GitError(
                f"worktree {worktree} has uncommitted changes; cannot merge {onto}",
                hint="plait commits an agent's leftovers after each turn; commit or drop them",
            )
        if await is_ancestor(self.repo, onto_sha, branch):
            head = (await git("rev-parse", "HEAD", cwd=worktree)).out.strip()
            return RebaseOutcome(ok=True, head_sha=head, base_sha=onto_sha)  # done before
        result = await git(
            "merge", "--no-edit", "--no-verify", "-q", onto_sha,
            cwd=worktree, check=False, env_extra=await commit_env(worktree),
        )  # fmt: skip
        return await self._outcome(worktree, "merge", f"git merge {onto}", result, onto_sha)

    async def divergence(self, *, worktree: str, onto: str, limit: int = 50) -> str:
        """Both sides' logs since they parted and the diff stat of the branch, for the
        agent that resolves what git could not."""
        await check_rev(onto)
        self._check_worktree(worktree)
        onto = await self.agent_ref(onto)

        async def out(*args: str) -> str:
            result = await git(*args, cwd=worktree, check=False)
            return result.out.strip() or "(none)"

        ours = await out("log", "--oneline", f"-{limit}", f"{onto}..HEAD")
        theirs = await out("log", "--oneline", f"-{limit}", f"HEAD..{onto}")
        stat = await out("diff", "--stat", f"{onto}...HEAD")
        return (
            f"Your branch's commits (not on {onto}):\n{ours}\n\n"
            f"Commits on {onto} since your branch left it:\n{theirs}\n\n"
            f"What your branch changes:\n{stat}"
        )

    async def changed_paths(
        self, *, worktree: str, base_sha: str, limit: int = 1000
    ) -> tuple[str, ...]:
        """Paths the branch changes against `base_sha` (at most `limit`, then one more
        marker entry: the list is not complete)."""
        await check_rev(base_sha)
        self._check_worktree(worktree)
        result = await git("diff", "--name-only", "-z", base_sha, "HEAD", cwd=worktree)
        paths = [p for p in result.out.split("\0") if p]
        return tuple(paths[:limit]) + (("…",) if len(paths) > limit else ())

    async def diff(
        self, *, worktree: str, base_sha: str, head_sha: str, limit: int
    ) -> tuple[str, str]:
        """The stat and the patch of `base_sha..head_sha` (the patch cut at `limit` chars)."""
        await check_rev(base_sha)
        await check_rev(head_sha)
        self._check_worktree(worktree)
        stat = await git("diff", "--stat", base_sha, head_sha, cwd=worktree, check=False)
        patch = await git("diff", base_sha, head_sha, cwd=worktree, check=False)
        text = patch.out
        if len(text) > limit:
            text = text[:limit] + f"\n… [diff cut at {limit} characters; read the files]\n"
        return stat.out.strip(), text

    async def agent_ref(self, ref: str) -> str:
        """The name an agent (or a look at the divergence) should use for `ref`. When a
        forge merges, the local main is the user's and stays behind: main as the forge
        has it is its remote-tracking ref, fetched now."""
        if not (self.remote and ref == self.main_branch):
            return ref
        await self._resolve(ref)
        return f"{self.remote}/{ref}"

    async def main_mark(self) -> str:
        """main's tip, and with a forge, `tip#n`: n names the forge's refs noted now
        (in memory: after a restart a turn's pushes go unjudged, its main not)."""
        tip = await main_tip(self.repo, self.main_branch)
        seen = await remote_refs(self.repo, self.remote) if self.remote else None
        if seen is None:
            return tip
        self._marks += 1
        mark = f"{tip}#{self._marks}"
        self._forge_marks[mark] = seen
        while len(self._forge_marks) > _MAX_MARKS:  # turns that never came back
            del self._forge_marks[next(iter(self._forge_marks))]
        return mark

    async def guard_main(self, *, before: str, worktree: str, head: str = "") -> str:
        tip = before.partition("#")[0]
        forge = self._forge_marks.pop(before, None)
        said = await check_main(
            repo=self.repo, main=self.main_branch, before=tip, worktree=worktree, head=head
        )
        if forge is not None and self.remote:
            pushed = await check_pushes(
                repo=self.repo, remote=self.remote, main=self.main_branch, before=forge,
                worktree=worktree,
            )  # fmt: skip
            said = "; ".join(s for s in (said, pushed) if s)
        return said

    async def restore(self, *, worktree: str, head_sha: str) -> bool:
        """Put the worktree back at `head_sha`, clean (after a reviewer, who must not change
        it). True when there was something to put back."""
        await check_rev(head_sha)
        self._check_worktree(worktree)
        head = (await git("rev-parse", "HEAD", cwd=worktree)).out.strip()
        if head == head_sha and not await is_dirty(worktree):
            return False
        if await op_in_progress(worktree) is not None:
            for op in ("merge", "rebase", "cherry-pick", "revert"):
                await git(op, "--abort", cwd=worktree, check=False)
        await git("reset", "-q", "--hard", head_sha, cwd=worktree)
        await git("clean", "-q", "-fd", cwd=worktree)
        return True

    # ---- remove --------------------------------------------------------------------------
    async def remove(self, *, task: str, worktree: str, branch: str, keep: bool) -> None:
        check_task_id(task)
        await check_branch(branch)
        candidates = {os.path.realpath(p) for p in (worktree, os.path.join(self.root, task)) if p}
        if not keep and await self._remove_quickly(candidates, branch):
            return
        for entry in await list_worktrees(self.repo):
            if entry.branch == branch or os.path.realpath(entry.path) in candidates:
                await self._remove_worktree(entry.path)
        await git("worktree", "prune", cwd=self.repo)
        if not keep and await branch_sha(self.repo, branch) is not None:
            await git("branch", "-D", "--", branch, cwd=self.repo)

    async def _remove_quickly(self, candidates: set[str], branch: str) -> bool:
        """The usual cleanup in two gits (P3): remove the task's worktree, delete its
        branch. git refuses to delete a branch any worktree (one whose folder is gone too)
        has checked out, so a deleted branch proves no other worktree was left holding
        it; anything unusual (False) goes the careful way, which lists the worktrees."""
        for path in sorted(candidates):
            if same_path(path, self.repo):
                return False
            if not os.path.isdir(path):
                continue
            removed = await git(
                "worktree", "remove", "--force", "--force", "--", path, cwd=self.repo, check=False
            )  # fmt: skip
            if removed.code != 0:
                return False
        deleted = await git("branch", "-D", "--", branch, cwd=self.repo, check=False)
        return deleted.code == 0

    async def _remove_worktree(self, path: str) -> None:
        if same_path(path, self.repo):
            return  # the main checkout is the user's, never ours to remove
        result = await git(
            "worktree", "remove", "--force", "--force", "--", path, cwd=self.repo, check=False
        )
        if result.code != 0 and os.path.isdir(path) and _inside(path, self.root):
            # git refused (e.g. a broken .git file): the directory is ours, so delete it.
            await asyncio.to_thread(shutil.rmtree, path, True)


def _inside(path: str, root: str) -> bool:
    real, base = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath([real, base]) == base and real != base
