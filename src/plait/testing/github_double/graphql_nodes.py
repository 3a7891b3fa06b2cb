"""GraphQL objects of the GitHub double: dicts that graphql-core's default resolver reads.

How this works: every object is a dict with `__typename` (which the default type resolver
uses for unions and interfaces such as `StatusCheckRollupContext` and `Node`). Plain fields
are values; fields with arguments or work behind them are callables `(info, **args)`, which
the default resolver calls, so nothing is computed unless the query asks for it.
Connections page like GitHub: opaque cursors, `first`/`last`/`after`/`before`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any

from plait.testing.github_double.state import (
    CheckRun,
    Issue,
    IssueComment,
    PullRequest,
    Repo,
    Review,
    ReviewComment,
    Thread,
)
from plait.testing.github_double.world import World

Obj = dict[str, Any]


class NotFound(Exception):
    """Rendered as a GraphQL error of type NOT_FOUND, the field as null."""


def cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _index(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(base64.b64decode(value).decode().rsplit(":", 1)[1])
    except (ValueError, IndexError) as exc:
        raise NotFound(f"`{value}` does not appear to be a valid cursor.") from exc


def connection(items: Sequence[Any], make: Callable[[Any], Obj], args: dict[str, Any]) -> Obj:
    start, end = 0, len(items)
    after, before = _index(args.get("after")), _index(args.get("before"))
    if after is not None:
        start = after + 1
    if before is not None:
        end = min(end, before)
    lo, hi = start, max(start, end)
    if args.get("first") is not None:
        hi = min(hi, lo + int(args["first"]))
    if args.get("last") is not None:
        lo = max(lo, hi - int(args["last"]))
    window = [(i, make(items[i])) for i in range(lo, hi)]
    return {
        "totalCount": len(items),
        "nodes": [node for _, node in window],
        "edges": [{"cursor": cursor(i), "node": node} for i, node in window],
        "pageInfo": {
            "hasNextPage": hi < end,
            "hasPreviousPage": lo > start,
            "startCursor": cursor(lo) if window else None,
            "endCursor": cursor(hi - 1) if window else None,
        },
    }


def _user(login: str) -> Obj:
    return actor(login) or {}


def actor(login: str | None) -> Obj | None:
    if login is None:
        return None
    kind = "Bot" if login.endswith("[bot]") else "User"
    return {"__typename": kind, "login": login.removesuffix("[bot]"), "url": ""}


class Nodes:
    """Builds GraphQL objects for one request (`base` is the double's web root for URLs)."""

    def __init__(self, world: World, base: str) -> None:
        self.world = world
        self.base = base

    def repo(self, repo: Repo) -> Obj:
        def pull_request(info: Any, number: int) -> Obj:
            pr = self.world.prs[repo.full_name].get(number)
            if pr is None:
                raise NotFound(f"Could not resolve to a PullRequest with the number of {number}.")
            return self.pr(pr)

        def issue(info: Any, number: int) -> Obj:
            found = self.world.issues[repo.full_name].get(number)
            if found is None:
                raise NotFound(f"Could not resolve to an Issue with the number of {number}.")
            return self.issue(found)

        def pull_requests(info: Any, **args: Any) -> Obj:
            states = set(args.get("states") or ())
            prs = [
                pr
                for pr in self.world.pulls(repo)
                if (not states or pr.gql_state in states)
                and args.get("headRefName") in (None, pr.head)
                and args.get("baseRefName") in (None, pr.base)
            ]
            order = args.get("orderBy") or {}
            if order.get("field") == "UPDATED_AT":
                prs.sort(key=lambda p: (p.updated_at, p.updated_seq))
            if order.get("direction") == "DESC":
                prs.reverse()
            return connection(prs, self.pr, args)

        def merge_queue(info: Any, branch: str | None = None) -> Obj | None:
            if not repo.merge_queue:
                return None
            branch = branch or repo.default_branch
            queued = [
                p for p in self.world.pulls(repo) if p.queued_at is not None and p.base == branch
            ]
            return {
                "__typename": "MergeQueue",
                "id": f"MQ_{repo.id}_{branch}",
                "entries": lambda info, **a: connection(queued, self.queue_entry, a),
            }

        tip = repo.tips.get(repo.default_branch, "")
        return {
            "__typename": "Repository",
            "id": repo.node_id,
            "databaseId": repo.id,
            "name": repo.name,
            "nameWithOwner": repo.full_name,
            "owner": {"__typename": "User", "login": repo.owner},
            "url": f"{self.base}/{repo.full_name}",
            "defaultBranchRef": {"name": repo.default_branch, "target": self.commit(repo, tip)},
            "mergeCommitAllowed": repo.allow_merge_commit,
            "squashMergeAllowed": repo.allow_squash_merge,
            "rebaseMergeAllowed": repo.allow_rebase_merge,
            "autoMergeAllowed": repo.allow_auto_merge,
            "pullRequest": pull_request,
            "pullRequests": pull_requests,
            "issue": issue,
            "mergeQueue": merge_queue,
        }

    def pr(self, pr: PullRequest) -> Obj:
        world, repo = self.world, pr.repo

        def mergeable(info: Any) -> str:
            value = world.mergeable(pr) if pr.state == "open" else None
            return {True: "MERGEABLE", False: "CONFLICTING"}.get(value, "UNKNOWN")  # type: ignore[arg-type]

        def reviews(info: Any, **args: Any) -> Obj:
            states = set(args.get("states") or ())
            authors = set(args.get("author", "").split()) if args.get("author") else set()
            chosen = [
                r
                for r in pr.reviews
                if (not states or r.state in states) and (not authors or r.author in authors)
            ]
            return connection(chosen, self.review, args)

        def latest_opinionated(info: Any, **args: Any) -> Obj:
            return connection(list(world.latest_reviews(pr).values()), self.review, args)

        return {
            "__typename": "PullRequest",
            "id": pr.node_id,
            "databaseId": pr.id,
            "number": pr.number,
            "title": pr.title,
            "body": pr.body,
            "url": f"{self.base}/{repo.full_name}/pull/{pr.number}",
            "permalink": f"{self.base}/{repo.full_name}/pull/{pr.number}",
            "state": pr.gql_state,
            "closed": pr.state == "closed",
            "merged": pr.merged,
            "mergedAt": pr.merged_at,
            "closedAt": pr.closed_at,
            "createdAt": pr.created_at,
            "updatedAt": pr.updated_at,
            "isDraft": pr.draft,
            "author": actor(pr.author),
            "mergedBy": actor(pr.merged_by),
            "headRefName": pr.head,
            "headRefOid": pr.head_sha,
            "baseRefName": pr.base,
            "baseRefOid": repo.tips.get(pr.base, ""),
            "mergeCommit": self.commit(repo, pr.merge_commit_sha) if pr.merge_commit_sha else None,
            "mergeable": mergeable,
            "mergeStateStatus": lambda info: world.merge_state_status(pr),
            "reviewDecision": lambda info: world.review_decision(pr),
            "isInMergeQueue": pr.queued_at is not None,
            "autoMergeRequest": {"mergeMethod": pr.auto_merge.upper()} if pr.auto_merge else None,
            "repository": lambda info: self.repo(repo),
            "commits": lambda info, **a: connection([pr.head_sha], self._pr_commit(repo), a),
            "reviewThreads": lambda info, **a: connection(pr.threads, self.thread, a),
            "comments": lambda info, **a: connection(pr.comments, self.issue_comment, a),
            "reviews": reviews,
            "latestOpinionatedReviews": latest_opinionated,
            "latestReviews": latest_opinionated,
            "labels": lambda info, **a: connection(pr.labels, _label, a),
        }

    def issue(self, issue: Issue) -> Obj:
        repo = issue.repo

        def linked(info: Any, **args: Any) -> Obj:
            prs = self.world.linked_prs(issue, closed=bool(args.get("includeClosedPrs")))
            return connection(prs, self.pr, args)

        url = f"{self.base}/{repo.full_name}/issues/{issue.number}"
        return {
            "__typename": "Issue",
            "id": issue.node_id,
            "databaseId": issue.id,
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "bodyText": issue.body,
            "url": url,
            "resourcePath": f"/{repo.full_name}/issues/{issue.number}",
            "state": issue.state.upper(),
            "stateReason": issue.state_reason.upper() if issue.state_reason else None,
            "closed": issue.state == "closed",
            "closedAt": issue.closed_at,
            "createdAt": issue.created_at,
            "updatedAt": issue.updated_at,
            "author": actor(issue.author),
            "repository": lambda info: self.repo(repo),
            "labels": lambda info, **a: connection(issue.labels, _label, a),
            "assignees": lambda info, **a: connection(issue.assignees, _user, a),
            "comments": lambda info, **a: connection(issue.comments, self.issue_comment, a),
            "closedByPullRequestsReferences": linked,
        }

    def _pr_commit(self, repo: Repo) -> Callable[[str], Obj]:
        return lambda sha: {"__typename": "PullRequestCommit", "commit": self.commit(repo, sha)}

    def commit(self, repo: Repo, sha: str) -> Obj:
        def rollup(info: Any) -> Obj | None:
            state = self.world.rollup(repo, sha)
            if state is None:
                return None
            runs = self.world.checks_for(repo, sha)
            return {
                "__typename": "StatusCheckRollup",
                "id": f"SCR_{sha}",
                "state": state,
                "contexts": lambda info, **a: (
                    connection(runs, self.check_run, a)
                    | {"checkRunCount": len(runs), "statusContextCount": 0}
                ),
            }

        return {
            "__typename": "Commit",
            "id": f"C_{sha}",
            "oid": sha,
            "abbreviatedOid": sha[:7],
            "statusCheckRollup": rollup,
        }

    def check_run(self, run: CheckRun) -> Obj:
        url = f"{self.base}/{self._repo_of(run)}/actions/runs/{run.run_id}/job/{run.id}"
        return {
            "__typename": "CheckRun",
            "id": run.node_id,
            "databaseId": run.id,
            "name": run.name,
            "status": run.status.upper(),
            "conclusion": run.conclusion.upper() if run.conclusion else None,
            "title": run.title or None,
            "summary": run.summary or None,
            "text": run.text or None,
            "detailsUrl": url,
            "url": url,
            "permalink": url,
            "startedAt": run.started_at,
            "completedAt": run.completed_at,
            "checkSuite": {
                "__typename": "CheckSuite",
                "databaseId": run.suite_id,
                "app": {"slug": "github-actions", "name": "GitHub Actions"},
                "workflowRun": {"databaseId": run.run_id},
            },
            "annotations": lambda info, **a: connection(run.annotations, _annotation, a),
        }

    def _repo_of(self, run: CheckRun) -> str:
        for name, runs in self.world.checks.items():
            if run in runs:
                return name
        return ""

    def thread(self, thread: Thread) -> Obj:
        return {
            "__typename": "PullRequestReviewThread",
            "id": thread.node_id,
            "isResolved": thread.resolved,
            "isOutdated": thread.outdated,
            "isCollapsed": thread.resolved,
            "path": thread.path,
            "line": None if thread.outdated else thread.line,
            "originalLine": thread.line,
            "startLine": None,
            "originalStartLine": None,
            "diffSide": "RIGHT",
            "subjectType": "LINE",
            "resolvedBy": actor(thread.resolved_by),
            "viewerCanReply": True,
            "viewerCanResolve": not thread.resolved,
            "viewerCanUnresolve": thread.resolved,
            "comments": lambda info, **a: connection(thread.comments, self.review_comment, a),
        }

    def review_comment(self, comment: ReviewComment) -> Obj:
        return {
            "__typename": "PullRequestReviewComment",
            "id": comment.node_id,
            "databaseId": comment.id,
            "body": comment.body,
            "bodyText": comment.body,
            "author": actor(comment.author),
            "createdAt": comment.created_at,
            "updatedAt": comment.created_at,
            "path": comment.path,
            "line": comment.line,
            "originalLine": comment.original_line,
            "outdated": comment.line is None,
            "url": "",
        }

    def issue_comment(self, comment: IssueComment) -> Obj:
        return {
            "__typename": "IssueComment",
            "id": comment.node_id,
            "databaseId": comment.id,
            "body": comment.body,
            "bodyText": comment.body,
            "author": actor(comment.author),
            "createdAt": comment.created_at,
            "updatedAt": comment.updated_at,
            "url": "",
        }

    def review(self, review: Review) -> Obj:
        return {
            "__typename": "PullRequestReview",
            "id": review.node_id,
            "databaseId": review.id,
            "state": review.state,
            "body": review.body,
            "bodyText": review.body,
            "author": actor(review.author),
            "submittedAt": review.submitted_at,
            "createdAt": review.submitted_at,
            "url": "",
            "commit": lambda info: self._review_commit(review),
        }

    def _review_commit(self, review: Review) -> Obj | None:
        """The head the review was given on (GitHub: `PullRequestReview.commit`)."""
        for prs in self.world.prs.values():
            for pr in prs.values():
                if review in pr.reviews:
                    return self.commit(pr.repo, review.commit_id)
        return None

    def queue_entry(self, pr: PullRequest) -> Obj:
        queued = sorted(
            (p for p in self.world.pulls(pr.repo) if p.queued_at is not None),
            key=lambda p: p.queued_at or 0.0,
        )
        return {
            "__typename": "MergeQueueEntry",
            "id": f"MQE_{pr.node_id}",
            "position": queued.index(pr) + 1 if pr in queued else 0,
            "state": "QUEUED" if pr.queued_at is not None else "MERGEABLE",
            "pullRequest": lambda info: self.pr(pr),
        }

    def any(self, obj: object) -> Obj | None:
        """`node(id:)`: the GraphQL object for whatever record the id names."""
        makers: list[tuple[type[Any], Callable[[Any], Obj]]] = [
            (PullRequest, self.pr),
            (Issue, self.issue),
            (Thread, self.thread),
            (ReviewComment, self.review_comment),
            (IssueComment, self.issue_comment),
            (Review, self.review),
            (CheckRun, self.check_run),
            (Repo, self.repo),
        ]
        for kind, make in makers:
            if isinstance(obj, kind):
                return make(obj)
        return None


def _label(name: str) -> Obj:
    return {"__typename": "Label", "id": f"LA_{name}", "name": name, "color": "ededed"}


def _annotation(note: dict[str, Any]) -> Obj:
    return {
        "__typename": "CheckAnnotation",
        "path": note["path"],
        "message": note["message"],
        "title": note["title"],
        "annotationLevel": str(note["annotation_level"]).upper(),
        "location": {
            "start": {"line": note["start_line"], "column": None},
            "end": {"line": note["end_line"], "column": None},
        },
    }
