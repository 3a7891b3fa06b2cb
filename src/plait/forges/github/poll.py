"""Batched, change-driven reads of many PRs.

How this works, per cycle:
1. Cheap change detection with conditional REST requests (a 304 costs no rate point): the
   repository's PR list sorted by update time (a push, a review, a comment, a retarget all
   bump a PR's `updated_at`), the check runs of each head whose CI is still pending, and
   the repository's events (a push to a base branch can make a PR conflict untouched).
   A PR is re-read only if one of these changed, if plait wrote to it, if GitHub had not
   yet computed its mergeability, or if it was never read. An idle cycle spends 0 points.
2. One GraphQL query per up-to-50 changed PRs (aliases), then follow-up queries only for
   connections with more pages (check contexts past 100, threads past 25, comments past 20).
3. New CI failures (check run × head SHA) get their details and log once (`evidence`).
When the GraphQL budget is down to the reserve, the last views are returned unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from plait.core.model import CIStatus, PRView
from plait.forges.github import mapping, queries
from plait.forges.github.client import GitHubClient
from plait.forges.github.evidence import EvidenceCache
from plait.forges.github.mapping import Node

PULLS_PAGE = 100
# GitHub's `updated_at` has one-second granularity: a second change within the same
# second as the one we saw leaves the PR list (and its ETag) as it was. So after a PR
# changed, its own REST view (which counts comments and review comments) is asked for
# conditionally on every cycle until one cycle has looked after that second was surely
# over (its end plus a margin for clock skew): a 304 costs nothing, a 200 means re-read.
SETTLE_SECONDS = 2.0


@dataclass(slots=True)
class Gathered:
    """One PR's JSON with every page of its connections merged in."""

    pr: Node
    contexts: list[Node] = field(default_factory=list)
    rollup_state: str | None = None
    threads: list[tuple[Node, list[Node]]] = field(default_factory=list)


class Poller:
    def __init__(self, client: GitHubClient, owner: str, name: str) -> None:
        self.client = client
        self.owner = owner
        self.name = name
        self.evidence = EvidenceCache(client, owner, name)
        self.views: dict[int, PRView] = {}
        self._dirty: set[int] = set()
        self._signature: dict[int, tuple[str, ...]] = {}
        self._heads: dict[int, str] = {}  # head SHA per PR, from the PR list
        self._last_event = 0  # newest repository event id seen
        self._unsettled: set[int] = set()  # PRs with checks still running (or none yet)
        # PR → the time after which one more look settles it (see SETTLE_SECONDS)
        self._recent: dict[int, float] = {}
        self._updated: dict[int, float] = {}  # PR → its updated_at, epoch seconds

    @property
    def repo_path(self) -> str:
        return f"/repos/{self.owner}/{self.name}"

    def mark_dirty(self, number: int) -> None:
        """Re-read this PR next cycle (plait just wrote to it)."""
        self._dirty.add(number)

    async def poll(self, prs: Mapping[str, int]) -> dict[str, PRView]:
        before = self.client.budget.spend.points
        numbers = set(prs.values())
        changed = await self._changed(numbers)
        if changed and not self.client.budget.exhausted("graphql"):
            await self._read(sorted(changed))
        self.client.budget.last_cycle_points = self.client.budget.spend.points - before
        return {task: self.views[n] for task, n in prs.items() if n in self.views}

    # ---- 1. change detection -----------------------------------------------------------------
    async def _changed(self, numbers: set[int]) -> set[int]:
        changed = {n for n in numbers if n not in self.views} | (self._dirty & numbers)
        now = self.client.clock()
        settling = sorted(n for n in self._recent if n in numbers)
        listed = await self._changed_pulls(numbers)
        for n in settling:
            if n not in listed and await self._pr_moved(n):
                changed.add(n)
        # Looked at after the changed second was over: nothing more can hide in it.
        self._recent = {n: until for n, until in self._recent.items() if until > now}
        for n in sorted(listed):
            await self._pr_moved(n)  # primes its ETag for the settling check
            self._recent[n] = max(now, self._updated.get(n, now)) + SETTLE_SECONDS
        changed |= listed
        for n in sorted(numbers):
            view = self.views.get(n)
            if view is not None and view.state != "open":
                continue
            if view is not None and view.mergeable is None:
                changed.add(n)  # GitHub computes mergeability lazily: ask again
            head = self._heads.get(n) or (view.head_sha if view else "")
            # Checks do not bump the PR; watch them while they can still change. For a new
            # head this first request primes its ETag, so the next idle cycle is free.
            if head and (view is None or n in self._unsettled) and await self._checks_moved(head):
                changed.add(n)
        changed |= await self._bases_moved(numbers)
        return changed

    async def _changed_pulls(self, numbers: set[int]) -> set[int]:
        reply = await self.client.rest(
            "GET",
            f"{self.repo_path}/pulls",
            params={
                "state": "all",
                "sort": "updated",
                "direction": "desc",
                "per_page": PULLS_PAGE,
            },
            conditional=True,
        )
        if reply.not_modified or not isinstance(reply.data, list):
            return set()
        changed: set[int] = set()
        fresh = 0
        for item in reply.data:
            number = int(item["number"])
            sig = (
                str(item.get("updated_at")),
                str((item.get("head") or {}).get("sha")),
                str((item.get("base") or {}).get("ref")),
                str(item.get("state")),
            )
            if self._signature.get(number) != sig:
                fresh += 1
                if number in numbers:
                    changed.add(number)
            self._signature[number] = sig
            self._updated[number] = _epoch(sig[0])
            self._heads[number] = sig[1]
        if fresh >= PULLS_PAGE:
            # More PRs changed than one page shows: the rest could be anywhere.
            return set(numbers)
        return changed

    async def _pr_moved(self, number: int) -> bool:
        reply = await self.client.rest("GET", f"{self.repo_path}/pulls/{number}", conditional=True)
        return not reply.not_modified

    async def _checks_moved(self, head: str) -> bool:
        """Did the check runs of this head change since we last asked?"""
        reply = await self.client.rest(
            "GET",
            f"{self.repo_path}/commits/{head}/check-runs",
            params={"per_page": 100},
            conditional=True,
        )
        return not reply.not_modified

    async def _bases_moved(self, numbers: set[int]) -> set[int]:
        """PRs whose base branch moved since the last cycle, from the repository's events
        (one conditional request for every base: a moved base can make a PR conflict)."""
        reply = await self.client.rest(
            "GET", f"{self.repo_path}/events", params={"per_page": 100}, conditional=True
        )
        if reply.not_modified or not isinstance(reply.data, list):
            return set()
        seen, moved = self._last_event, set()
        for event in reply.data:
            ident = int(event.get("id") or 0)
            self._last_event = max(self._last_event, ident)
            if ident > seen and event.get("type") in ("PushEvent", "DeleteEvent"):
                ref = str((event.get("payload") or {}).get("ref") or "")
                moved.add(ref.removeprefix("refs/heads/"))
        return {
            n
            for n in numbers
            if (view := self.views.get(n)) is not None
            and view.state == "open"
            and view.base in moved
        }

    # ---- 2. batched reads --------------------------------------------------------------------
    async def _read(self, numbers: list[int]) -> None:
        gathered: list[Gathered] = []
        for start in range(0, len(numbers), queries.MAX_BATCH):
            gathered.extend(await self._batch(numbers[start : start + queries.MAX_BATCH]))
        failures = [
            (ctx, str(g.pr.get("headRefOid")))
            for g in gathered
            for ctx in mapping.failing_checks(g.contexts)
        ]
        await self.evidence.fetch(failures)
        for g in gathered:
            view = self._view(g)
            self.views[view.number] = view
            self._dirty.discard(view.number)
            statuses = [mapping.check_status(c) for c in g.contexts]
            if not statuses or CIStatus.PENDING in statuses:
                self._unsettled.add(view.number)
            else:
                self._unsettled.discard(view.number)

    async def _batch(self, numbers: list[int]) -> list[Gathered]:
        variables: dict[str, Any] = {"owner": self.owner, "name": self.name}
        variables.update({f"n{i}": n for i, n in enumerate(numbers)})
        data = await self.client.graphql(queries.poll_query(len(numbers)), variables)
        repo = data.get("repository") or {}
        out = []
        for i in range(len(numbers)):
            node = repo.get(f"pr{i}")
            if isinstance(node, Mapping):
                out.append(await self._complete(node))
        return out

    async def _complete(self, pr: Node) -> Gathered:
        g = Gathered(pr=pr)
        commits = ((pr.get("commits") or {}).get("nodes") or [None])[-1] or {}
        rollup = (commits.get("commit") or {}).get("statusCheckRollup")
        if isinstance(rollup, Mapping):
            g.rollup_state = rollup.get("state")
            g.contexts = await self._all_contexts(pr, rollup["contexts"])
        for thread in await self._all_threads(pr):
            comments = list(thread["comments"]["nodes"])
            if not thread.get("isResolved"):
                comments += await self._more_comments(thread)
            g.threads.append((thread, comments))
        return g

    async def _all_contexts(self, pr: Node, conn: Node) -> list[Node]:
        nodes = list(conn["nodes"] or [])
        page = conn["pageInfo"]
        while page["hasNextPage"]:
            data = await self.client.graphql(
                queries.ROLLUP_PAGE, self._pr_vars(pr, page["endCursor"])
            )
            commit = data["repository"]["pullRequest"]["commits"]["nodes"][-1]["commit"]
            conn = commit["statusCheckRollup"]["contexts"]
            nodes += conn["nodes"] or []
            page = conn["pageInfo"]
        return nodes

    async def _all_threads(self, pr: Node) -> list[Node]:
        conn = pr["reviewThreads"]
        nodes = list(conn["nodes"] or [])
        page = conn["pageInfo"]
        while page["hasNextPage"]:
            data = await self.client.graphql(
                queries.THREADS_PAGE, self._pr_vars(pr, page["endCursor"])
            )
            conn = data["repository"]["pullRequest"]["reviewThreads"]
            nodes += conn["nodes"] or []
            page = conn["pageInfo"]
        return nodes

    async def _more_comments(self, thread: Node) -> list[Node]:
        page = thread["comments"]["pageInfo"]
        more: list[Node] = []
        while page["hasNextPage"]:
            data = await self.client.graphql(
                queries.THREAD_COMMENTS_PAGE, {"id": thread["id"], "after": page["endCursor"]}
            )
            conn = data["node"]["comments"]
            more += conn["nodes"] or []
            page = conn["pageInfo"]
        return more

    def _pr_vars(self, pr: Node, after: str) -> dict[str, Any]:
        return {"owner": self.owner, "name": self.name, "number": pr["number"], "after": after}

    # ---- 3. mapping --------------------------------------------------------------------------
    def _view(self, g: Gathered) -> PRView:
        pr = g.pr
        head = str(pr.get("headRefOid") or "")
        ci = mapping.ci_status(g.contexts, g.rollup_state)
        threads = [t for t in (mapping.thread_view(n, c) for n, c in g.threads) if t]
        reviews = (pr.get("latestOpinionatedReviews") or {}).get("nodes") or []
        threads += mapping.review_views(reviews, head)
        failing = mapping.failing_checks(g.contexts)
        return PRView(
            number=int(pr["number"]),
            state=mapping.pr_state(str(pr.get("state"))),
            draft=bool(pr.get("isDraft")),
            base=str(pr.get("baseRefName") or ""),
            head_sha=head,
            ci=ci,
            ci_evidence=self.evidence.evidence(failing, head) if ci is CIStatus.FAILED else "",
            mergeable=mapping.mergeable(pr.get("mergeable")),
            threads=tuple(threads),
            merge_sha=str((pr.get("mergeCommit") or {}).get("oid") or ""),
            url=str(pr.get("url") or ""),
        )


def _epoch(stamp: str) -> float:
    """GitHub's ISO `updated_at` in epoch seconds (0.0 when missing or unreadable)."""
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
