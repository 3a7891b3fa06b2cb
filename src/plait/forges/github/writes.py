"""Idempotent writes to GitHub: each one looks before it acts, because the engine runs
effects at-least-once and a crash can fall between GitHub acting and plait recording it.

- labels: `replace_label` is the one place that swaps a label family (risk tier, issue status).
- open: reuse the open PR of the head branch; a 422 "already exists" also means reuse.
- replies and comments: carry `<!-- plait:<effect id> -->`; skipped when a comment with
  that marker is already there. After an unknown outcome (5xx, timeout) the client does not
  retry the POST; the effect is retried whole and looks again.
- merge: an already merged PR returns its merge commit; the expected head SHA is passed, so
  a head that moved is refused by GitHub instead of merging unseen commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from plait.forges.base import MergeBlocked
from plait.forges.github import queries
from plait.forges.github.client import GitHubClient, GitHubError, Json
from plait.forges.github.mapping import marker
from plait.workspaces.git import commit_subject

METHOD_PREFERENCE = (("squash", "allow_squash_merge"), ("merge", "allow_merge_commit"),
                     ("rebase", "allow_rebase_merge"))  # fmt: skip


def effect_key(key: str, text: str) -> str:
    """The marker key: the effect id, or (without one) a digest of the text."""
    return key or "h" + hashlib.sha256(text.encode()).hexdigest()[:16]


def with_marker(body: str, key: str) -> str:
    return f"{body.rstrip()}\n\n{marker(key)}"


async def replace_label(
    client: GitHubClient, repo: str, number: int, want: str, stale: Callable[[str], bool]
) -> None:
    """Put label `want` (none when empty) on issue or PR `number` of `repo` ("owner/name")
    and take off every other label `stale` picks, leaving the rest alone (a `plait:risk-`
    tier and a status label live side by side, and the pick-up label is nobody's to take).
    Looks first, so doing it again changes nothing."""
    base = f"/repos/{repo}/issues/{number}/labels"
    reply = await client.rest("GET", base)
    have = [str(label.get("name")) for label in reply.data or []]
    if want and want not in have:
        # Adding a label twice leaves one label.
        await client.rest("POST", base, body={"labels": [want]}, idempotent=True)
    for name in have:
        if name != want and stale(name):
            await client.rest("DELETE", f"{base}/{name}", ok=(404,), idempotent=True)


class Writer:
    def __init__(self, client: GitHubClient, owner: str, name: str) -> None:
        self.client = client
        self.owner = owner
        self.name = name
        self._repo_info: dict[str, Any] | None = None
        self._queues: dict[str, bool] = {}

    @property
    def base(self) -> str:
        return f"/repos/{self.owner}/{self.name}"

    # ---- PRs ---------------------------------------------------------------------------------
    async def pr(self, number: int) -> dict[str, Any]:
        reply = await self.client.rest("GET", f"{self.base}/pulls/{number}")
        data: dict[str, Any] = reply.data
        return data

    async def open_pr_of(self, branch: str) -> dict[str, Any] | None:
        reply = await self.client.rest(
            "GET",
            f"{self.base}/pulls",
            params={"head": f"{self.owner}:{branch}", "state": "open", "per_page": 10},
        )
        found = [p for p in reply.data or [] if (p.get("head") or {}).get("ref") == branch]
        return found[0] if found else None

    async def open_pr(self, *, branch: str, base: str, title: str, body: str) -> dict[str, Any]:
        existing = await self.open_pr_of(branch)
        if existing is not None:
            return existing
        reply = await self.client.rest(
            "POST",
            f"{self.base}/pulls",
            body={"title": title, "head": branch, "base": base, "body": body, "draft": True},
            idempotent=True,  # a repeat is answered "already exists" and reused below
            ok=(422,),
        )
        if reply.status == 422:
            existing = await self.open_pr_of(branch)
            if existing is None:
                why = reply.data or {}
                raise GitHubError(
                    f"GitHub refused to open a PR for {branch} into {base}: "
                    f"{why.get('message', '')} {why.get('errors', '')}",
                    status=422,
                    hint="check that the branch was pushed and differs from its base",
                    data=reply.data,
                )
            return existing
        created: dict[str, Any] = reply.data
        return created

    async def mark_ready(self, number: int) -> None:
        pr = await self.pr(number)
        if pr.get("draft") and pr.get("state") == "open":
            await self.client.graphql(queries.MARK_READY, {"pr": pr["node_id"]}, mutation=True)

    async def retarget(self, number: int, base: str) -> None:
        pr = await self.pr(number)
        if pr.get("state") == "open" and (pr.get("base") or {}).get("ref") != base:
            await self.client.rest(
                "PATCH", f"{self.base}/pulls/{number}", body={"base": base}, idempotent=True
            )

    async def add_labels(self, number: int, labels: Iterable[str]) -> None:
        await self.client.rest(
            "POST",
            f"{self.base}/issues/{number}/labels",
            body={"labels": list(labels)},
            idempotent=True,  # adding a label twice leaves one label
        )

    async def replace_label(self, number: int, want: str, stale: Callable[[str], bool]) -> None:
        """Put label `want` on the issue or PR and take off the others `stale` picks."""
        await replace_label(self.client, f"{self.owner}/{self.name}", number, want, stale)

    async def request_reviewers(
        self, number: int, users: Iterable[str] = (), teams: Iterable[str] = ()
    ) -> None:
        await self.client.rest(
            "POST",
            f"{self.base}/pulls/{number}/requested_reviewers",
            body={"reviewers": list(users), "team_reviewers": list(teams)},
            idempotent=True,
        )

    # ---- threads and comments ----------------------------------------------------------------
    async def reply_and_resolve(
        self, number: int, thread_ids: tuple[str, ...], reply: str, key: str
    ) -> None:
        key = effect_key(key, reply)
        review_ids = [t for t in thread_ids if t.startswith("review:")]
        ids = [t for t in thread_ids if not t.startswith("review:")]
        if ids:
            data = await self.client.graphql(queries.THREADS_STATE, {"ids": ids})
            for node in data.get("nodes") or []:
                if isinstance(node, dict) and "id" in node:
                    await self.answer_thread(node, reply, key)
        if review_ids:
            # A review that requests changes has no thread to resolve: answer it once in
            # the conversation; the reviewer dismisses or re-reviews.
            await self.comment(number, reply, f"{key}:reviews")

    async def answer_thread(self, node: dict[str, Any], reply: str, key: str) -> None:
        """Reply (unless a reply with this key's marker is there already), then resolve.
        `node` is a THREADS_STATE thread: its id, isResolved and latest comment bodies."""
        bodies = [str(c.get("body") or "") for c in (node.get("comments") or {}).get("nodes") or []]
        if not any(marker(key) in b for b in bodies):
            await self.client.graphql(
                queries.ADD_THREAD_REPLY,
                {"thread": node["id"], "body": with_marker(reply, key)},
                mutation=True,
            )
        if not node.get("isResolved"):
            await self.client.graphql(queries.RESOLVE_THREAD, {"thread": node["id"]}, mutation=True)

    async def comment(self, number: int, body: str, key: str = "") -> None:
        """A conversation comment, posted once per key."""
        key = effect_key(key, body)
        data = await self.client.graphql(
            queries.PR_COMMENTS, {"owner": self.owner, "name": self.name, "number": number}
        )
        pr = (data.get("repository") or {}).get("pullRequest") or {}
        bodies = [str(c.get("body") or "") for c in (pr.get("comments") or {}).get("nodes") or []]
        if any(marker(key) in b for b in bodies):
            return
        await self.client.rest(
            "POST", f"{self.base}/issues/{number}/comments", body={"body": with_marker(body, key)}
        )

    # ---- merging -----------------------------------------------------------------------------
    async def repo_info(self) -> dict[str, Any]:
        if self._repo_info is None:
            self._repo_info = (await self.client.rest("GET", self.base)).data or {}
        return self._repo_info

    async def merge_method(self) -> str:
        info = await self.repo_info()
        for method, flag in METHOD_PREFERENCE:
            if info.get(flag, True):
                return method
        raise MergeBlocked("the repository allows no merge method", retryable=False)

    async def uses_merge_queue(self, base: str) -> bool:
        if base not in self._queues:
            try:
                data = await self.client.graphql(
                    queries.MERGE_QUEUE, {"owner": self.owner, "name": self.name, "branch": base}
                )
                self._queues[base] = bool((data.get("repository") or {}).get("mergeQueue"))
            except GitHubError:  # no merge queue support (older Enterprise): merge directly
                self._queues[base] = False
        return self._queues[base]

    async def merge(self, number: int, *, title: str, expected_head: str = "") -> str:
        pr = await self.pr(number)
        if pr.get("merged"):
            return str(pr.get("merge_commit_sha") or "")
        if pr.get("state") != "open":
            raise MergeBlocked(f"PR #{number} is closed", retryable=False)
        if pr.get("draft"):
            raise MergeBlocked(f"PR #{number} is still a draft")
        head = expected_head or str((pr.get("head") or {}).get("sha") or "")
        if (pr.get("head") or {}).get("sha") != head:
            raise MergeBlocked(f"PR #{number}'s head moved on GitHub (expected {head[:7]})")
        if await self.uses_merge_queue(str((pr.get("base") or {}).get("ref"))):
            await self._enqueue(pr, head)
            raise MergeBlocked(f"PR #{number} is waiting in the merge queue")
        return await self._merge_now(number, title, head)

    async def _merge_now(self, number: int, title: str, head: str) -> str:
        reply = await self.client.rest(
            "PUT",
            f"{self.base}/pulls/{number}/merge",
            body={
                "sha": head,
                "merge_method": await self.merge_method(),
                "commit_title": commit_subject(title, suffix=f" (#{number})"),
            },
            ok=(405, 409, 422),
        )
        if reply.status == 200:
            return str((reply.data or {}).get("sha") or "")
        message = str((reply.data or {}).get("message") or "not mergeable")
        if reply.status == 409:
            raise MergeBlocked(f"PR #{number}'s head moved: {message}")
        raise MergeBlocked(f"GitHub will not merge PR #{number}: {message}")

    async def _enqueue(self, pr: dict[str, Any], head: str) -> None:
        try:
            await self.client.graphql(
                queries.ENQUEUE, {"pr": pr["node_id"], "head": head}, mutation=True
            )
        except GitHubError as exc:
            if "already" not in exc.message.lower():  # already queued: fine
                raise

    # ---- housekeeping ------------------------------------------------------------------------
    async def rerun_failed_jobs(self, run_id: int) -> None:
        await self.client.rest(
            "POST", f"{self.base}/actions/runs/{run_id}/rerun-failed-jobs", idempotent=True
        )

    async def close_pr(self, number: int) -> None:
        pr = await self.pr(number)
        if pr.get("state") == "open":
            await self.client.rest(
                "PATCH", f"{self.base}/pulls/{number}", body={"state": "closed"}, idempotent=True
            )

    async def delete_branch(self, branch: str) -> bool:
        """Delete a merged branch, unless an open PR still targets it (children first)."""
        reply = await self.client.rest(
            "GET", f"{self.base}/pulls", params={"base": branch, "state": "open", "per_page": 1}
        )
        if reply.data:
            return False
        await self.client.rest(
            "DELETE", f"{self.base}/git/refs/heads/{branch}", idempotent=True, ok=(404, 422)
        )
        return True


def rest_view_fields(pr: Json) -> dict[str, Any]:
    """PRView fields from a REST pull-request object."""
    state = "merged" if pr.get("merged_at") else str(pr.get("state") or "open")
    return {
        "number": int(pr["number"]),
        "state": state,
        "draft": bool(pr.get("draft")),
        "base": str((pr.get("base") or {}).get("ref") or ""),
        "head_sha": str((pr.get("head") or {}).get("sha") or ""),
        "mergeable": pr.get("mergeable"),
        "merge_sha": str(pr.get("merge_commit_sha") or "") if pr.get("merged_at") else "",
        "url": str(pr.get("html_url") or ""),
    }
