"""A reviewer agent's verdict as a real GitHub review: APPROVE, or REQUEST_CHANGES with the
issues that name a `path:line` on the diff as line comments.

How this works. The review is posted by the reviewer's identity (`PLAIT_REVIEWER_TOKEN`,
a second account or app) when there is one: GitHub refuses an approval or a change request
from the PR's own author, which plait's token usually is. Without one, or when GitHub
refuses anyway, a change request becomes a COMMENT review and the verdict text a
conversation comment, both for people: nothing of them comes back by the poll (its line
comments carry plait's marker; a person's reply in one does come back), and the core
hands the verdict to the worker itself (`Reviewed.comes_back`). An approval posts
nothing. Each review is signed with `<!-- plait-review:<effect id> -->` and the poster
lists the PR's reviews first, so an effect retried after a crash posts nothing twice.
The poll reads a change request of plait's reviewer as feedback only while the PR's head
is the one it judged (`mapping.review_views`).

Those marked line comments stay open threads on GitHub, and a branch protection that
requires conversation resolution refuses the merge while one is open. So when plait's
reviewer approves, and again right before plait merges, plait resolves the threads it
opened for people and in which only plait wrote (`resolve_own_threads`); a thread a
person wrote in stays theirs to resolve.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from plait.forges.github import queries
from plait.forges.github.client import GitHubClient
from plait.forges.github.mapping import is_plait_comment, marker

# `path/to/file.py:12`, optionally in backticks, at the start of an issue.
_LOCATED = re.compile(r"^\s*`?(?P<path>[\w.@+-]+(?:/[\w.@+-]+)*):(?P<line>\d+)`?[\s:,.-]*")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,\d+)? @@")


# The marker of a line comment of a verdict posted for people (see `ReviewPoster.post`).
LINE_MARK = "review-line:"


def review_marker(key: str) -> str:
    return f"<!-- plait-review:{key} -->"


def commentable(patch: str) -> set[int]:
    """Lines of the new file a review comment may sit on: added and context lines of the
    patch's hunks (GitHub refuses a comment outside the diff)."""
    lines: set[int] = set()
    line = 0
    for text in patch.splitlines():
        hunk = _HUNK.match(text)
        if hunk:
            line = int(hunk["start"])
        elif text.startswith(("+", " ")) and line:
            lines.add(line)
            line += 1
    return lines


def line_comments(issues: Iterable[str], on_diff: dict[str, set[int]]) -> list[dict[str, Any]]:
    """The issues that name a line of the diff, as review comments on it."""
    out: list[dict[str, Any]] = []
    for issue in issues:
        found = _LOCATED.match(issue)
        if found is None:
            continue
        path, line = found["path"], int(found["line"])
        if line in on_diff.get(path, set()):
            out.append({"path": path, "line": line, "side": "RIGHT",
                        "body": issue[found.end():].strip() or issue})  # fmt: skip
    return out


class ReviewPoster:
    def __init__(self, client: GitHubClient, owner: str, name: str) -> None:
        self.client = client
        self.base = f"/repos/{owner}/{name}"

    async def post(
        self, pr: int, *, approved: bool, body: str, issues: tuple[str, ...], key: str
    ) -> str:
        """Post the verdict once per key; returns the review's state ("" when none)."""
        sign = review_marker(key)
        reviews = await self.client.rest(
            "GET", f"{self.base}/pulls/{pr}/reviews", params={"per_page": 100}
        )
        for review in reviews.data or []:
            if isinstance(review, dict) and sign in str(review.get("body") or ""):
                return str(review.get("state") or "")
        comments = [] if approved else line_comments(issues, await self._on_diff(pr))
        text = f"{body.rstrip()}\n\n{sign}"
        event = "APPROVE" if approved else "REQUEST_CHANGES"
        made = await self.client.rest(
            "POST", f"{self.base}/pulls/{pr}/reviews",
            body={"event": event, "body": text, "comments": comments}, ok=(422,),
        )  # fmt: skip
        if made.status != 422:
            return str(made.data.get("state") or "")
        if approved:
            return ""  # nothing to answer: the merge gate has the verdict already
        # For people only: the core hands this verdict to the worker itself, so its line
        # comments carry plait's marker and the poll does not serve them again (a
        # person's reply in such a thread still comes back).
        for comment in comments:
            comment["body"] = f"{comment['body']}\n\n{marker(LINE_MARK + key)}"
        made = await self.client.rest(
            "POST", f"{self.base}/pulls/{pr}/reviews",
            body={"event": "COMMENT", "body": text, "comments": comments}, ok=(422,),
        )  # fmt: skip
        return str(made.data.get("state") or "") if made.status != 422 else ""

    async def _on_diff(self, pr: int) -> dict[str, set[int]]:
        files = await self.client.rest(
            "GET", f"{self.base}/pulls/{pr}/files", params={"per_page": 100}
        )
        return {
            str(f["filename"]): commentable(str(f.get("patch") or ""))
            for f in files.data or []
            if isinstance(f, dict) and "filename" in f
        }


async def resolve_own_threads(client: GitHubClient, owner: str, name: str, number: int) -> int:
    """Resolve the open threads of verdicts plait posted for people, where only plait
    wrote; returns how many. Idempotent: a resolved thread is passed by."""
    resolved = 0
    after: str | None = None
    while True:
        data = await client.graphql(
            queries.THREADS_PAGE, {"owner": owner, "name": name, "number": number, "after": after}
        )
        conn = ((data.get("repository") or {}).get("pullRequest") or {}).get("reviewThreads")
        if not conn:
            return resolved
        for node in conn.get("nodes") or []:
            if _plaits_own_open_thread(node):
                await client.graphql(queries.RESOLVE_THREAD, {"thread": node["id"]}, mutation=True)
                resolved += 1
        page = conn.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return resolved
        after = str(page.get("endCursor"))


def _plaits_own_open_thread(node: Any) -> bool:
    if not isinstance(node, dict) or node.get("isResolved"):
        return False
    comments = node.get("comments") or {}
    if (comments.get("pageInfo") or {}).get("hasNextPage"):
        return False  # a long discussion: people's
    bodies = [str(c.get("body") or "") for c in comments.get("nodes") or []]
    opened = marker(LINE_MARK).removesuffix(" -->")
    return bool(bodies) and opened in bodies[0] and all(is_plait_comment(b) for b in bodies)
