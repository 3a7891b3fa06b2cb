"""CI evidence for the agent: what failed, why, where, and the tail of the log.

Each distinct failure — a check run on one head SHA — is fetched once: details
(title, summary, annotations) in one GraphQL query for all new failures of a poll cycle,
then the Actions job log tail over REST. The rendered text is cached, so every later poll
repeats the same evidence for free and the `PRView` stays equal (no spurious change event).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from plait.forges.github import queries
from plait.forges.github.client import GitHubClient, GitHubError
from plait.forges.github.mapping import Node

log = logging.getLogger(__name__)

LOG_LINES = 40
LOG_CHARS = 3000
SUMMARY_CHARS = 1500
MAX_ANNOTATIONS = 20


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


def log_tail(text: str) -> str:
    """The last lines of a job log, without the timestamps Actions puts on each line."""
    lines = [_untimestamp(line) for line in text.rstrip().splitlines()][-LOG_LINES:]
    tail = "\n".join(lines)
    return tail if len(tail) <= LOG_CHARS else "…" + tail[-LOG_CHARS:]


def _untimestamp(line: str) -> str:
    # Actions prefixes each line with an ISO timestamp ("2024-01-01T00:00:00.0000000Z ").
    head, sep, rest = line.partition(" ")
    return rest if sep and len(head) >= 20 and head[:4].isdecimal() and head.endswith("Z") else line


def render_check(check: Node, log_text: str = "") -> str:
    """One failing CheckRun (with details) as text for the agent."""
    name = check.get("name") or "check"
    conclusion = str(check.get("conclusion") or "FAILURE").lower()
    lines = [f"✗ {name}: {conclusion}"]
    if check.get("title"):
        lines.append(f"  {check['title']}")
    for key in ("summary", "text"):
        if check.get(key):
            lines.append(_clip(str(check[key]), SUMMARY_CHARS))
    notes = ((check.get("annotations") or {}).get("nodes") or [])[:MAX_ANNOTATIONS]
    if notes:
        lines.append("annotations:")
        for note in notes:
            line = ((note.get("location") or {}).get("start") or {}).get("line")
            where = f"{note.get('path')}:{line}" if line else str(note.get("path"))
            lines.append(f"  {where} {note.get('message', '').strip()}")
    if log_text:
        lines.append("log (tail):")
        lines.append(log_tail(log_text))
    return "\n".join(lines)


def render_status(ctx: Node) -> str:
    """A failing commit status (the older Statuses API) as text."""
    text = f"✗ {ctx.get('context')}: {str(ctx.get('state', '')).lower()}"
    if ctx.get("description"):
        text += f" — {ctx['description']}"
    if ctx.get("targetUrl"):
        text += f" ({ctx['targetUrl']})"
    return text


class EvidenceCache:
    def __init__(self, client: GitHubClient, owner: str, name: str) -> None:
        self.client = client
        self.owner = owner
        self.name = name
        self._done: dict[tuple[str, str], str] = {}  # (check node id, head sha) → text

    def cached(self, check_id: str, head: str) -> str | None:
        return self._done.get((check_id, head))

    async def fetch(self, failures: Iterable[tuple[Node, str]]) -> None:
        """Fetch details and logs for every (check run, head SHA) not seen before."""
        todo: dict[str, str] = {}
        for check, head in failures:
            if check.get("__typename") == "CheckRun" and (str(check["id"]), head) not in self._done:
                todo[str(check["id"])] = head
        if not todo:
            return
        data = await self.client.graphql(queries.CHECK_DETAILS, {"ids": list(todo)})
        for node in data.get("nodes") or []:
            if not isinstance(node, Mapping) or "id" not in node:
                continue
            text = render_check(node, await self._log(node))
            self._done[(str(node["id"]), todo[str(node["id"])])] = text

    async def _log(self, check: Mapping[str, Any]) -> str:
        app = ((check.get("checkSuite") or {}).get("app") or {}).get("slug")
        job = check.get("databaseId")
        if app != "github-actions" or not job:
            return ""
        try:
            path = f"/repos/{self.owner}/{self.name}/actions/jobs/{job}/logs"
            return await self.client.text(path)
        except GitHubError as exc:  # logs expire or are not ours to read: evidence without
            log.info("github: no log for job %s: %s", job, exc.message)
            return ""

    def evidence(self, contexts: Iterable[Node], head: str) -> str:
        """The evidence text of a PR's failing contexts (those fetched so far)."""
        blocks = []
        for ctx in contexts:
            if ctx.get("__typename") == "StatusContext":
                blocks.append(render_status(ctx))
            else:
                blocks.append(self.cached(str(ctx.get("id")), head) or render_check(ctx))
        return "\n\n".join(blocks)
