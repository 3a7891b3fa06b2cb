"""Conversation on PRs in the GitHub double: issue comments, review threads, reviews.

Every record gets a database id and a node id (registered for `node(id:)`), touches the PR's
`updated_at` and leaves an event in the repo's feed, as on GitHub.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from plait.testing.github_double.state import (
    ApiError,
    IssueComment,
    PullRequest,
    Repo,
    Review,
    ReviewComment,
    Thread,
    iso,
    node_id,
)


class ConversationMixin:
    lock: AbstractContextManager[Any]
    prs: dict[str, dict[int, PullRequest]]

    def next_id(self) -> int:
        raise NotImplementedError

    def register(self, nid: str, obj: object) -> str:
        raise NotImplementedError

    def event(self, repo: Repo, kind: str, actor: str, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def add_comment(self, pr: PullRequest, body: str, author: str) -> IssueComment:
        with self.lock:
            cid, now = self.next_id(), iso()
            comment = IssueComment(
                id=cid, node_id=node_id("IC", cid), body=body, author=author,
                created_at=now, updated_at=now,
            )  # fmt: skip
            self.register(comment.node_id, comment)
            pr.comments.append(comment)
            pr.touch()
            payload = {"action": "created", "issue": {"number": pr.number}, "comment": {"id": cid}}
            self.event(pr.repo, "IssueCommentEvent", author, payload)
            return comment

    def add_thread(
        self, pr: PullRequest, *, path: str, line: int, body: str, author: str
    ) -> Thread:
        with self.lock:
            tid = self.next_id()
            thread = Thread(
                node_id=node_id("PRRT", tid), pr=pr.number, path=path, line=line,
                original_commit=pr.head_sha,
            )  # fmt: skip
            self.register(thread.node_id, thread)
            pr.threads.append(thread)
            self._comment_in(pr, thread, body, author, reply_to=None)
            return thread

    def reply(self, pr: PullRequest, thread: Thread, body: str, author: str) -> ReviewComment:
        with self.lock:
            return self._comment_in(pr, thread, body, author, reply_to=thread.comments[0].id)

    def _comment_in(
        self, pr: PullRequest, thread: Thread, body: str, author: str, reply_to: int | None
    ) -> ReviewComment:
        cid = self.next_id()
        comment = ReviewComment(
            id=cid, node_id=node_id("PRRC", cid), thread_id=thread.node_id, body=body,
            author=author, path=thread.path, line=None if thread.outdated else thread.line,
            original_line=thread.line, commit_id=pr.head_sha,
            original_commit_id=thread.original_commit, created_at=iso(), in_reply_to=reply_to,
        )  # fmt: skip
        self.register(comment.node_id, comment)
        thread.comments.append(comment)
        pr.touch()
        payload = {"action": "created", "pull_request": {"number": pr.number}}
        self.event(pr.repo, "PullRequestReviewCommentEvent", author, payload)
        return comment

    def thread_of(self, comment_id: int) -> tuple[PullRequest, Thread]:
        for prs in self.prs.values():
            for pr in prs.values():
                for thread in pr.threads:
                    if any(c.id == comment_id for c in thread.comments):
                        return pr, thread
        raise ApiError(404, "Not Found")

    def resolve(self, thread: Thread, actor: str, resolved: bool = True) -> None:
        with self.lock:
            thread.resolved = resolved
            thread.resolved_by = actor if resolved else None

    def submit_review(self, pr: PullRequest, *, state: str, body: str, author: str) -> Review:
        with self.lock:
            rid = self.next_id()
            review = Review(
                id=rid, node_id=node_id("PRR", rid), author=author, state=state, body=body,
                commit_id=pr.head_sha, submitted_at=iso(),
            )  # fmt: skip
            self.register(review.node_id, review)
            pr.reviews.append(review)
            pr.touch()
            payload = {"action": "created", "review": {"id": rid, "state": state.lower()}}
            self.event(pr.repo, "PullRequestReviewEvent", author, payload)
            return review
