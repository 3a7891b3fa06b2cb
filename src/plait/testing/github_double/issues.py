"""Issues in the GitHub double: their labels, assignees and comments, and how a merged PR
that says `Closes #N` closes its issue.

As on GitHub, issues and PRs share one sequence of numbers per repository, and the
issues API sees a PR as an issue too (its labels and conversation comments are the
issue's): `item(repo, n)` returns whichever holds the number. Adding a label the
repository does not have yet creates it. Every change touches the item's `updated_at`
and leaves an event in the repository's feed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from plait.testing.github_double.parts import WorldPart
from plait.testing.github_double.state import (
    ApiError,
    Issue,
    IssueComment,
    PullRequest,
    Repo,
    iso,
    node_id,
)

# GitHub's closing keywords, followed by `#N` (same repository) in a PR's body.
_CLOSING = re.compile(r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#(\d+)\b", re.IGNORECASE)
Item = Issue | PullRequest


def closing_references(text: str) -> set[int]:
    """The issue numbers a PR body closes (`Closes #12`, `fixes #3`…)."""
    return {int(n) for n in _CLOSING.findall(text or "")}


class IssuesMixin(WorldPart):
    issues: dict[str, dict[int, Issue]]

    # ---- reading ---------------------------------------------------------------------------
    def item(self, repo: Repo, number: int) -> Item:
        """The issue or PR with this number (404 like GitHub when there is none)."""
        found: Item | None = self.issues[repo.full_name].get(number) or self.prs[
            repo.full_name
        ].get(number)
        if found is None:
            raise ApiError(404, "Not Found")
        return found

    def items(self, repo: Repo) -> list[Item]:
        """Every issue and PR of the repository (the issues API lists both)."""
        return [*self.issues[repo.full_name].values(), *self.prs[repo.full_name].values()]

    def linked_prs(self, issue: Issue, *, closed: bool = False) -> list[PullRequest]:
        """PRs whose body closes this issue (GitHub's closedByPullRequestsReferences)."""
        return [
            pr
            for pr in self.prs[issue.repo.full_name].values()
            if issue.number in closing_references(pr.body) and (closed or pr.state == "open")
        ]

    # ---- writing ---------------------------------------------------------------------------
    def create_issue(
        self,
        repo: Repo,
        *,
        title: str,
        body: str,
        author: str,
        labels: Iterable[str] = (),
        assignees: Iterable[str] = (),
    ) -> Issue:
        with self.lock:
            if not title.strip():
                raise ApiError(422, "Validation Failed", [_missing("title")])
            iid, now = self.next_id(), iso()
            issue = Issue(
                id=iid, node_id=node_id("I", iid), number=repo.next_number, repo=repo,
                title=title, body=body, author=author, created_at=now, updated_at=now,
                assignees=list(dict.fromkeys(assignees)),
            )  # fmt: skip
            repo.next_number += 1
            self.register(issue.node_id, issue)
            self.issues[repo.full_name][issue.number] = issue
            self._label(issue, labels)
            self.event(repo, "IssuesEvent", author, {"action": "opened", "number": issue.number})
            return issue

    def update_issue(self, item: Item, fields: Mapping[str, Any], actor: str) -> None:
        """PATCH /issues/N: title, body, state (+ state_reason), labels, assignees."""
        with self.lock:
            if "title" in fields:
                item.title = str(fields["title"])
            if "body" in fields:
                item.body = str(fields["body"] or "")
            if "labels" in fields:
                item.labels.clear()
                self._label(item, _names(fields["labels"]))
            if "assignees" in fields and isinstance(item, Issue):
                item.assignees = list(dict.fromkeys(_names(fields["assignees"])))
            state = fields.get("state")
            if state is not None and isinstance(item, Issue):
                self._set_state(item, str(state), fields.get("state_reason"), actor)
            item.touch()

    def _set_state(self, issue: Issue, state: str, reason: object, actor: str) -> None:
        if state not in ("open", "closed"):
            raise ApiError(422, "Validation Failed", [_invalid("state")])
        if state == issue.state:
            return
        issue.state = state
        issue.closed_at = iso() if state == "closed" else None
        default = "completed" if state == "closed" else "reopened"
        issue.state_reason = str(reason) if reason else default
        action = "closed" if state == "closed" else "reopened"
        self.event(issue.repo, "IssuesEvent", actor, {"action": action, "number": issue.number})

    def close_issue(self, issue: Issue, actor: str, reason: str = "completed") -> None:
        with self.lock:
            self._set_state(issue, "closed", reason, actor)
            issue.touch()

    def add_labels(self, item: Item, names: Iterable[str], actor: str) -> None:
        with self.lock:
            self._label(item, names)
            item.touch()
            payload = {"action": "labeled", "number": item.number}
            self.event(item.repo, "IssuesEvent", actor, payload)

    def _label(self, item: Item, names: Iterable[str]) -> None:
        for name in names:
            if not name.strip():
                raise ApiError(422, "Validation Failed", [_invalid("labels")])
            item.repo.labels.setdefault(name, "ededed")
            if name not in item.labels:
                item.labels.append(name)

    def remove_label(self, item: Item, name: str, actor: str) -> None:
        with self.lock:
            if name not in item.labels:
                raise ApiError(404, "Label does not exist")
            item.labels.remove(name)
            item.touch()
            payload = {"action": "unlabeled", "number": item.number}
            self.event(item.repo, "IssuesEvent", actor, payload)

    def comment_by_id(self, repo: Repo, comment_id: int) -> tuple[Item, IssueComment]:
        for item in self.items(repo):
            for comment in item.comments:
                if comment.id == comment_id:
                    return item, comment
        raise ApiError(404, "Not Found")

    def edit_comment(self, repo: Repo, comment_id: int, body: str) -> IssueComment:
        with self.lock:
            if not body:
                raise ApiError(422, "Validation Failed", [_missing("body")])
            _, comment = self.comment_by_id(repo, comment_id)
            comment.body = body
            comment.updated_at = iso()
            return comment

    def close_linked(self, pr: PullRequest) -> None:
        """A PR merged into the default branch closes the issues its body names."""
        if pr.base != pr.repo.default_branch:
            return
        for number in sorted(closing_references(pr.body)):
            issue = self.issues[pr.repo.full_name].get(number)
            if issue is not None and issue.state == "open":
                self._set_state(issue, "closed", "completed", pr.merged_by or pr.author)
                issue.touch()


def _names(raw: object) -> list[str]:
    if not isinstance(raw, list):
        raise ApiError(422, "Validation Failed", [_invalid("labels")])
    return [str(n.get("name") if isinstance(n, dict) else n) for n in raw]


def _missing(name: str) -> dict[str, str]:
    return {"resource": "Issue", "code": "missing_field", "field": name}


def _invalid(name: str) -> dict[str, str]:
    return {"resource": "Issue", "code": "invalid", "field": name}
