"""Pure mapping from GitHub's GraphQL PR objects to plait's `PRView` pieces.

No I/O: `poll` gathers the JSON (every page), `evidence` the failure details; this module
only decides what they mean — CI status from the check rollup, which threads are open
feedback, which reviews still request changes, and which comments are plait's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from plait.core.model import CIStatus, ReviewThread

Node = Mapping[str, Any]

MARKER_RE = re.compile(r"<!--\s*plait:[^>]*-->")

_FAILED_CONCLUSIONS = frozenset(
    {"FAILURE", "TIMED_OUT", "CANCELLED", "ACTION_REQUIRED", "STARTUP_FAILURE", "STALE"}
)
_FAILED_STATES = frozenset({"FAILURE", "ERROR"})
_PENDING_STATES = frozenset({"PENDING", "EXPECTED"})


def marker(key: str) -> str:
    """The hidden marker plait puts in every comment it writes, naming the effect."""
    return f"<!-- plait:{key} -->"


def is_plait_comment(body: str) -> bool:
    return MARKER_RE.search(body or "") is not None


def pr_state(value: str) -> str:
    return {"OPEN": "open", "MERGED": "merged", "CLOSED": "closed"}.get(value, value.lower())


def mergeable(value: str | None) -> bool | None:
    return {"MERGEABLE": True, "CONFLICTING": False}.get(value or "")


def check_status(ctx: Node) -> CIStatus:
    """One rollup context (CheckRun or StatusContext) as PASSED/FAILED/PENDING."""
    if ctx.get("__typename") == "StatusContext":
        state = str(ctx.get("state") or "")
        if state in _FAILED_STATES:
            return CIStatus.FAILED
        return CIStatus.PENDING if state in _PENDING_STATES else CIStatus.PASSED
    if ctx.get("status") != "COMPLETED":
        return CIStatus.PENDING
    conclusion = str(ctx.get("conclusion") or "")
    return CIStatus.FAILED if conclusion in _FAILED_CONCLUSIONS else CIStatus.PASSED


def ci_status(contexts: Iterable[Node], rollup_state: str | None) -> CIStatus:
    """Overall CI: any failure wins (the agent can start on it), then pending, then passed."""
    states = [check_status(c) for c in contexts]
    if not states:
        if rollup_state is None:
            return CIStatus.NONE
        return {
            "SUCCESS": CIStatus.PASSED,
            "FAILURE": CIStatus.FAILED,
            "ERROR": CIStatus.FAILED,
        }.get(rollup_state, CIStatus.PENDING)
    if CIStatus.FAILED in states:
        return CIStatus.FAILED
    return CIStatus.PENDING if CIStatus.PENDING in states else CIStatus.PASSED


def failing_checks(contexts: Iterable[Node]) -> list[Node]:
    return [c for c in contexts if check_status(c) is CIStatus.FAILED]


def _login(node: Node) -> str:
    author = node.get("author")
    return str(author.get("login", "")) if isinstance(author, Mapping) else "ghost"


def thread_view(thread: Node, comments: Iterable[Node]) -> ReviewThread | None:
    """An unresolved thread as feedback: every human comment, `author: text`."""
    if thread.get("isResolved"):
        return None
    human = [c for c in comments if not is_plait_comment(str(c.get("body") or ""))]
    if not human:
        return None
    line = thread.get("line") or thread.get("originalLine")
    return ReviewThread(
        id=str(thread["id"]),
        body="\n\n".join(f"{_login(c)}: {str(c.get('body') or '').strip()}" for c in human),
        author=_login(human[0]),
        path=thread.get("path"),
        line=int(line) if isinstance(line, int) else None,
        outdated=bool(thread.get("isOutdated")),
    )


# plait's reviewer agent signs its reviews with this marker: unlike plait's own comments
# (MARKER_RE) they are feedback for the task's agent, but only on the head they judged.
REVIEW_MARKER_RE = re.compile(r"<!--\s*plait-review:[^>]*-->")


def review_views(reviews: Iterable[Node], head: str = "") -> list[ReviewThread]:
    """Each reviewer's latest opinion that still requests changes, as a thread. plait's
    reviewer's verdict on an older head is not: the reviewer judges the new head itself
    (and approves it, which replaces its request on GitHub)."""
    out = []
    for review in reviews:
        if review.get("state") != "CHANGES_REQUESTED":
            continue
        body = str(review.get("body") or "")
        if is_plait_comment(body):
            continue
        judged = str((review.get("commit") or {}).get("oid") or "")
        if REVIEW_MARKER_RE.search(body) and head and judged and judged != head:
            continue
        ident = review.get("databaseId") or review.get("id")
        author = _login(review)
        text = body.strip() or "(requested changes; see the review threads)"
        out.append(ReviewThread(id=f"review:{ident}", body=f"{author}: {text}", author=author))
    return out
