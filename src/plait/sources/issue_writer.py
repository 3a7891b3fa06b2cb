"""Performing the writes the issue source asks for (`WriteIssue` effects), once each.

How this works. The engine hands each `WriteIssue` effect from the outbox to
`IssueWriter.perform` — the ones just decided and, after a restart, the ones a crash left
pending. Each looks before it acts, so doing it again is harmless: a status write reads
the issue's labels, adds the one it wants and removes stale `plait:` status labels, then
edits the status comment found by its hidden marker (posting it only when none is
there); a report posts its comment unless one carries its marker; a follow-up opens its
issue unless a recent issue carries its marker. So a kill -9 between GitHub doing it and
the outbox recording it (`IssueWritten`) repeats nothing.

Writes wait for the rate reserve: while the core bucket has fewer points above the
reserve than a write may take, it sleeps until GitHub's reset (the effect stays pending,
across restarts too). A refusal that trying again cannot fix (the issue is gone, GitHub
says the write is invalid) ends the effect with its error; anything else is tried again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import IssueWrite
from plait.forges.github.client import GitHubClient, GitHubError
from plait.forges.github.mapping import marker
from plait.forges.github.writes import replace_label
from plait.sources import SourceContext

log = logging.getLogger(__name__)

NAME = "issues"  # the source whose memory keeps the status comments' ids
STATUS_KEY = "issue-status"  # the hidden marker of the one status comment
PREFIX = "plait:"
STATUSES = ("queued", "running", "pr-open", "blocked", "needs-human", "done")
# Core points a write may take at most: labels read, added, one removed; comment found, edited.
COST = {"status": 5, "report": 2, "follow-up": 2}
RETRY_EVERY = 30.0  # seconds before a write that failed for a passing reason is tried again
_FOR_GOOD = (404, 410, 422)  # refusals that trying again does not change

Json = Any


class IssueWriter:
    def __init__(
        self,
        client: GitHubClient,
        ctx: SourceContext,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.ctx = ctx
        self.sleep = sleep
        # One write at a time: checking the reserve and spending it is one step (two
        # issues' writes side by side could both pass the check and dip under it), and
        # GitHub asks for a client's writes to be made one after another anyway.
        self._one = asyncio.Lock()

    async def perform(self, effect: fx.Effect) -> ev.Event:
        assert isinstance(effect, fx.WriteIssue)
        write = effect.write
        while True:
            try:
                async with self._one:
                    await self.client.budget.wait_until_affords(COST.get(write.kind, 2), self.sleep)
                    number = await self._write(write)
            except GitHubError as exc:
                if exc.status not in _FOR_GOOD:
                    log.warning("issues: writing on #%d failed, trying again: %s",
                                write.number, exc)  # fmt: skip
                    await self.sleep(RETRY_EVERY)
                    continue
                return self._written(effect, ok=False, error=f"#{write.number}: {exc.message}")
            except OSError as exc:
                log.warning("issues: writing on #%d failed, trying again: %s", write.number, exc)
                await self.sleep(RETRY_EVERY)
                continue
            return self._written(effect, number=number)

    def _written(
        self, effect: fx.WriteIssue, *, ok: bool = True, error: str = "", number: int = 0
    ) -> ev.IssueWritten:
        return ev.IssueWritten(at=self.ctx.clock(), effect_id=effect.id, task=effect.task,
                               ok=ok, error=error, number=number)  # fmt: skip

    async def _write(self, write: IssueWrite) -> int:
        if write.kind == "status":
            await replace_label(self.client, write.repo, write.number, write.label,
                                is_status_label)  # fmt: skip
            return await self._set_status_comment(write)
        if write.kind == "report":
            return await self._post_once(write)
        if write.kind == "follow-up":
            return await self._open_once(write)
        raise GitHubError(f"unknown issue write {write.kind!r}", status=422)

    # ---- status: one label, one comment edited in place -------------------------------------
    async def _set_status_comment(self, write: IssueWrite) -> int:
        text = signed(write)
        memo = f"{write.number}:comment"
        known = self.ctx.recall(NAME, memo)
        if not known:
            found = await self._signed_comment(write)
            if found is not None:
                known = str(found["id"])
                self.ctx.remember(NAME, memo, known)
        if known:
            reply = await self.client.rest(
                "PATCH", f"/repos/{write.repo}/issues/comments/{known}", body={"body": text},
                idempotent=True, ok=(404,),
            )  # fmt: skip
            if reply.status != 404:
                return int(known)
        made = await self.client.rest(
            "POST", f"/repos/{write.repo}/issues/{write.number}/comments", body={"body": text}
        )
        self.ctx.remember(NAME, memo, str(made.data["id"]))
        return int(made.data["id"])

    # ---- once: a report comment, a follow-up issue ------------------------------------------
    async def _post_once(self, write: IssueWrite) -> int:
        found = await self._signed_comment(write)
        if found is not None:
            return int(found["id"])
        made = await self.client.rest(
            "POST", f"/repos/{write.repo}/issues/{write.number}/comments",
            body={"body": signed(write)},
        )  # fmt: skip
        return int(made.data["id"])

    async def _open_once(self, write: IssueWrite) -> int:
        sign = marker(write.key)
        recent = await self.client.rest(
            "GET", f"/repos/{write.repo}/issues",
            params={"state": "all", "sort": "created", "direction": "desc", "per_page": 100},
        )  # fmt: skip
        for issue in recent.data or []:
            if isinstance(issue, dict) and sign in str(issue.get("body") or ""):
                return int(issue["number"])
        issue = {"title": write.title, "body": signed(write), "labels": list(write.labels)}
        made = await self.client.rest("POST", f"/repos/{write.repo}/issues", body=issue)
        return int(made.data["number"])

    async def _signed_comment(self, write: IssueWrite) -> Json | None:
        sign = marker(write.key)
        for page in range(1, 11):
            reply = await self.client.rest(
                "GET", f"/repos/{write.repo}/issues/{write.number}/comments",
                params={"per_page": 100, "page": page},
            )  # fmt: skip
            batch = [c for c in reply.data or [] if isinstance(c, dict)]
            found = next((c for c in batch if sign in str(c.get("body") or "")), None)
            if found is not None or len(batch) < 100:
                return found
        return None


def signed(write: IssueWrite) -> str:
    """The write's text with its hidden marker (once)."""
    sign = marker(write.key)
    body = write.body.strip()
    return body if sign in body else f"{body}\n\n{sign}".strip()


def is_status_label(name: str) -> bool:
    return name.startswith(PREFIX) and name.removeprefix(PREFIX) in STATUSES
