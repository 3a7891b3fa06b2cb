"""`GitHubForge`: the `Forge` Protocol on GitHub (or GitHub Enterprise, or the double).

Reads go through `Poller` (batched, change-driven), writes through `Writer` (idempotent),
pushes through git with `--force-with-lease`. GitHub runs CI, so `serve()` returns at once.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping

import httpx

from plait.core.model import PRView
from plait.errors import ForgeError
from plait.forges.base import PRInfo
from plait.forges.github.budget import Clock
from plait.forges.github.client import GitHubClient, Sleep
from plait.forges.github.credentials import push_credentials
from plait.forges.github.poll import Poller
from plait.forges.github.reviews import ReviewPoster, resolve_own_threads
from plait.forges.github.token import RepoId, Token, infer_repo, parse_remote, remote_url
from plait.forges.github.writes import Writer, rest_view_fields
from plait.workspaces.git import git
from plait.workspaces.names import check_branch

DEFAULT_API = "https://api.github.com"


class GitHubForge:
    name = "github"

    def __init__(
        self,
        repo: str,
        *,
        token: Token,
        api_url: str | None = None,
        remote: str = "origin",
        slug: str | None = None,
        reserve: float = 0.2,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.time,
        review_token: Token | None = None,
    ) -> None:
        """`repo`: the local clone; `slug` ("owner/name") overrides what its remote says;
        `review_token`: the identity the reviewer agent's reviews are posted as."""
        self.repo = os.path.realpath(repo)
        self.remote = remote
        self.token = token
        self.id: RepoId = parse_remote(slug) if slug else infer_repo(self.repo, remote)
        self.api_url = api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API
        self.client = GitHubClient(
            token, api_url=self.api_url, reserve=reserve, timeout=timeout,
            transport=transport, sleep=sleep, clock=clock,
        )  # fmt: skip
        self.poller = Poller(self.client, self.id.owner, self.id.name)
        self.writer = Writer(self.client, self.id.owner, self.id.name)
        self.review_client = self.client
        if review_token is not None:
            self.review_client = GitHubClient(
                review_token, api_url=self.api_url, reserve=reserve, timeout=timeout,
                transport=transport, sleep=sleep, clock=clock,
            )  # fmt: skip
        self.reviews = ReviewPoster(self.review_client, self.id.owner, self.id.name)
        self._pr_of_branch: dict[str, int] = {}
        self._branch_of_pr: dict[int, str] = {}
        self._pushed: dict[str, str] = {}  # branch → head plait pushed this session
        self._remote_url: str | None = None

    def suggested_poll_interval(self, base: float = 30.0) -> float:
        """Seconds the engine should wait between polls so the rate budget lasts."""
        return self.client.budget.suggested_poll_interval(base)

    # ---- git ---------------------------------------------------------------------------------
    async def push(self, *, branch: str, worktree: str, force: bool) -> str:
        await check_branch(branch)
        head = (await git("rev-parse", f"refs/heads/{branch}", cwd=worktree)).out.strip()
        args = ["push", "--porcelain"]
        if force:
            # Lease on what we last saw of the remote branch: a push by anyone else since
            # then makes git refuse instead of overwriting their work.
            seen = await git(
                "rev-parse", "-q", "--verify", f"refs/remotes/{self.remote}/{branch}",
                cwd=worktree, check=False,
            )  # fmt: skip
            args.append(f"--force-with-lease={branch}:{seen.out.strip()}")
        args += [self.remote, f"refs/heads/{branch}:refs/heads/{branch}"]
        with push_credentials(self._url(), self.token) as auth:
            result = await git(*auth.options, *args, cwd=worktree, check=False, pass_fds=auth.fds)
        if result.code != 0:
            why = "stale info" if "stale info" in result.out + result.err else "rejected"
            raise ForgeError(
                f"push of {branch} to {self.remote} was {why}: "
                f"{(result.err or result.out).strip()[-500:]}",
                hint="someone else pushed to the branch; fetch and look, then retry",
            )
        self._pushed[branch] = head
        if branch in self._pr_of_branch:
            self.poller.mark_dirty(self._pr_of_branch[branch])
        return head

    def _url(self) -> str:
        if self._remote_url is None:
            self._remote_url = remote_url(self.repo, self.remote)
        return self._remote_url

    # ---- PRs ---------------------------------------------------------------------------------
    async def open_pr(self, *, task: str, branch: str, base: str, title: str, body: str) -> PRView:
        pr = await self.writer.open_pr(branch=branch, base=base, title=title, body=body)
        view = PRView(**rest_view_fields(pr))
        self._remember(view.number, branch)
        return view

    def _remember(self, number: int, branch: str) -> None:
        self._pr_of_branch[branch] = number
        self._branch_of_pr[number] = branch
        self.poller.mark_dirty(number)

    async def mark_ready(self, pr: int) -> None:
        await self.writer.mark_ready(pr)
        self.poller.mark_dirty(pr)

    async def retarget(self, pr: int, base: str) -> None:
        await check_branch(base)
        await self.writer.retarget(pr, base)
        self.poller.mark_dirty(pr)

    async def resolve_threads(
        self, pr: int, thread_ids: tuple[str, ...], reply: str, *, key: str = ""
    ) -> None:
        await self.writer.reply_and_resolve(pr, thread_ids, reply, key)
        self.poller.mark_dirty(pr)

    async def comment(self, pr: int, body: str, *, key: str = "") -> None:
        await self.writer.comment(pr, body, key)

    async def post_review(
        self, pr: int, *, approved: bool, body: str, issues: tuple[str, ...], key: str
    ) -> bool:
        """The verdict as a GitHub review by the reviewer's identity (see
        `forges.github.reviews`). When GitHub would not take a change request from that
        identity (the PR's own author), the verdict also goes in the conversation — for
        people: nothing of it comes back by the poll (False), the core feeds it."""
        state = await self.reviews.post(pr, approved=approved, body=body, issues=issues, key=key)
        if not approved and state != "CHANGES_REQUESTED":
            await self.writer.comment(pr, body, key)
        if approved:
            await self._resolve_own_threads(pr)
        self.poller.mark_dirty(pr)
        return approved or state == "CHANGES_REQUESTED"

    async def _resolve_own_threads(self, pr: int) -> None:
        """The threads of verdicts plait posted for people (see `forges.github.reviews`)."""
        await resolve_own_threads(self.client, self.id.owner, self.id.name, pr)

    async def add_labels(self, pr: int, labels: tuple[str, ...]) -> None:
        await self.writer.add_labels(pr, labels)

    async def replace_label(self, pr: int, label: str, stale: Callable[[str], bool]) -> None:
        await self.writer.replace_label(pr, label, stale)

    async def request_reviewers(
        self, pr: int, users: tuple[str, ...] = (), teams: tuple[str, ...] = ()
    ) -> None:
        await self.writer.request_reviewers(pr, users, teams)

    async def rerun_failed_jobs(self, run_id: int) -> None:
        await self.writer.rerun_failed_jobs(run_id)

    async def pr_info(self, number: int) -> PRInfo:
        reply = await self.client.rest("GET", f"/repos/{self.id.slug}/pulls/{number}")
        info = pr_info_from(number, reply.data)
        self._pr_of_branch[info.branch] = number
        self._branch_of_pr[number] = info.branch
        return info

    async def close_pr(self, pr: int) -> None:
        await self.writer.close_pr(pr)
        self.poller.mark_dirty(pr)

    async def delete_branch(self, branch: str) -> bool:
        """Delete a landed branch once no open PR targets it; False if one still does."""
        return await self.writer.delete_branch(branch)

    async def merge(self, pr: int, *, title: str) -> str:
        expected = self._pushed.get(self._branch_of_pr.get(pr, ""), "")
        try:
            # Else "require conversation resolution" would refuse the merge.
            await self._resolve_own_threads(pr)
            sha = await self.writer.merge(pr, title=title, expected_head=expected)
        finally:
            self.poller.mark_dirty(pr)
        return sha

    async def poll(self, prs: Mapping[str, int]) -> dict[str, PRView]:
        return await self.poller.poll(prs)

    async def serve(self) -> None:
        return None

    async def close(self) -> None:
        await self.client.aclose()
        if self.review_client is not self.client:
            await self.review_client.aclose()


def pr_info_from(number: int, data: object) -> PRInfo:
    """What `plait adopt` needs, from GitHub's REST pull-request object."""
    if not isinstance(data, dict):
        raise ForgeError(f"GitHub gave no PR #{number}", hint="check the PR number")
    head = data.get("head") or {}
    base = data.get("base") or {}
    assert isinstance(head, dict)
    assert isinstance(base, dict)
    state = "merged" if data.get("merged_at") else str(data.get("state", "open"))
    return PRInfo(
        number=number,
        title=str(data.get("title") or f"PR #{number}"),
        body=str(data.get("body") or ""),
        branch=str(head.get("ref", "")),
        base=str(base.get("ref", "")),
        head_sha=str(head.get("sha", "")),
        draft=bool(data.get("draft")),
        state=state,
    )
