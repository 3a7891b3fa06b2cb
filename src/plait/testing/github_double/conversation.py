"""Conversation on PRs in the GitHub double: issue comments, review threads, reviews.

Every record gets a database id and a node id (registered for `node(id:)`), touches the PR's
`updated_at` and leaves an event in the repo's feed, as on GitHub.
"""

from __future__ import annotations

from typing import Any

from plait.testing.github_double.parts import WorldPart
from plait.testing.github_double.state import (
    ApiError,
    Issue,
    IssueComment,
    PullRequest,
    Review,
    ReviewComment,
    Thread,
    iso,
    node_id,
)


class ConversationMixin(WorldPart):
    def add_comment(self, pr: PullRequest | Issue, body: str, author: str) -> IssueComment:
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

    def commentable(self, pr: PullRequest) -> dict[str, set[int]]:
        """Path → the lines of the PR's diff a review comment may sit on."""
        raise NotImplementedError

    def create_review(
        self,
        pr: PullRequest,
        *,
        event: str,
        body: str,
        comments: list[dict[str, Any]],
        author: str,
        commit_id: str | None = None,
    ) -> Review:
        """POST /pulls/N/reviews with an event: GitHub's rules, then the review and one
        thread per line comment (the comments carry the review's id)."""
        states = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED",
                  "COMMENT": "COMMENTED"}  # fmt: skip
        if event not in states:
            raise ApiError(422, "Validation Failed", [{"field": "event", "code": "invalid"}])
        if author == pr.author and event != "COMMENT":
            verb = "approve" if event == "APPROVE" else "request changes on"
            raise ApiError(422, "Unprocessable Entity", [f"Can not {verb} your own pull request"])
        if event != "APPROVE" and not body.strip() and not comments:
            raise ApiError(422, "Unprocessable Entity", ["Review body is required"])
        if commit_id and commit_id != pr.head_sha:
            raise ApiError(
                422, "Unprocessable Entity", ["commit_id is not part of the pull request"]
            )
        with self.lock:
            allowed = self.commentable(pr) if comments else {}
            for c in comments:
                path, line = c.get("path"), c.get("line")
                if not isinstance(path, str) or not isinstance(line, int) or not c.get("body"):
                    raise ApiError(
                        422, "Validation Failed", [{"field": "comments", "code": "invalid"}]
                    )
                if line not in allowed.get(path, set()):
                    why = "Pull request review thread line must be part of the diff"
                    raise ApiError(422, "Unprocessable Entity", [why])
            review = self.submit_review(pr, state=states[event], body=body, author=author)
            for c in comments:
                thread = self.add_thread(
                    pr, path=c["path"], line=c["line"], body=str(c["body"]), author=author
                )
                thread.comments[0].review_id = review.id
            return review

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
