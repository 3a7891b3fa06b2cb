"""JSON shapes of the REST API (GitHub's field names), built from the double's records.

Only the fields a forge client reads are filled, plus the ids and URLs every object has.
`base` is the double's API root, so `url` fields point back at the double.
"""

from __future__ import annotations

from typing import Any

from plait.testing.github_double.issues import Item
from plait.testing.github_double.state import (
    CheckRun,
    Issue,
    IssueComment,
    PullRequest,
    Repo,
    Review,
    ReviewComment,
)
from plait.testing.github_double.world import World

Json = dict[str, Any]


def user(login: str) -> Json:
    uid = sum(ord(c) for c in login)  # stable, good enough to tell users apart
    kind = "Bot" if login.endswith("[bot]") else "User"
    return {"login": login, "id": uid, "node_id": f"U_{uid}", "type": kind}


def repo_json(repo: Repo, base: str) -> Json:
    return {
        "id": repo.id,
        "node_id": repo.node_id,
        "name": repo.name,
        "full_name": repo.full_name,
        "owner": user(repo.owner),
        "private": False,
        "default_branch": repo.default_branch,
        "url": f"{base}/repos/{repo.full_name}",
        "html_url": f"{base}/{repo.full_name}",
        "clone_url": repo.path.as_uri(),
        "allow_merge_commit": repo.allow_merge_commit,
        "allow_squash_merge": repo.allow_squash_merge,
        "allow_rebase_merge": repo.allow_rebase_merge,
        "allow_auto_merge": repo.allow_auto_merge,
        "delete_branch_on_merge": False,
        "permissions": {
            "admin": True,
            "maintain": True,
            "push": True,
            "triage": True,
            "pull": True,
        },
        "created_at": repo.created_at,
    }


def _ref(repo: Repo, branch: str, sha: str, base: str) -> Json:
    return {
        "label": f"{repo.owner}:{branch}",
        "ref": branch,
        "sha": sha,
        "user": user(repo.owner),
        "repo": repo_json(repo, base),
    }


def pr_json(world: World, pr: PullRequest, base: str, *, full: bool) -> Json:
    """A PR as the list endpoint shows it; `full` adds what only `GET …/pulls/{n}` has."""
    repo = pr.repo
    url = f"{base}/repos/{repo.full_name}/pulls/{pr.number}"
    out: Json = {
        "url": url,
        "id": pr.id,
        "node_id": pr.node_id,
        "html_url": f"{base}/{repo.full_name}/pull/{pr.number}",
        "number": pr.number,
        "state": pr.state,
        "locked": False,
        "title": pr.title,
        "user": user(pr.author),
        "body": pr.body,
        "labels": [label(name) for name in pr.labels],
        "created_at": pr.created_at,
        "updated_at": pr.updated_at,
        "closed_at": pr.closed_at,
        "merged_at": pr.merged_at,
        "merge_commit_sha": pr.merge_commit_sha,
        "requested_reviewers": [user(login) for login in pr.requested_reviewers],
        "draft": pr.draft,
        "head": _ref(repo, pr.head, pr.head_sha, base),
        "base": _ref(repo, pr.base, repo.tips.get(pr.base, ""), base),
        "auto_merge": {"merge_method": pr.auto_merge} if pr.auto_merge else None,
    }
    if full:
        mergeable = world.mergeable(pr) if pr.state == "open" else None
        out |= {
            "merged": pr.merged,
            "mergeable": mergeable,
            "mergeable_state": world.merge_state_status(pr).lower(),
            "merged_by": user(pr.merged_by) if pr.merged_by else None,
            "comments": len(pr.comments),
            "review_comments": sum(len(t.comments) for t in pr.threads),
            "commits": 1,
        }
    return out


def label(name: str) -> Json:
    return {"id": sum(ord(c) for c in name), "name": name, "color": "ededed", "default": False}


def issue_json(world: World, item: Item, base: str) -> Json:
    """An issue as the issues API shows it; a PR shows up with a `pull_request` key."""
    repo = item.repo
    url = f"{base}/repos/{repo.full_name}/issues/{item.number}"
    out: Json = {
        "url": url,
        "id": item.id,
        "node_id": item.node_id,
        "number": item.number,
        "title": item.title,
        "body": item.body,
        "user": user(item.author),
        "labels": [label(name) for name in item.labels],
        "state": item.state,
        "locked": False,
        "comments": len(item.comments),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "closed_at": item.closed_at,
        "html_url": f"{base}/{repo.full_name}/issues/{item.number}",
        "comments_url": f"{url}/comments",
        "labels_url": f"{url}/labels{{/name}}",
    }
    if isinstance(item, Issue):
        out["assignees"] = [user(login) for login in item.assignees]
        out["assignee"] = user(item.assignees[0]) if item.assignees else None
        out["state_reason"] = item.state_reason
    else:
        out["assignees"], out["assignee"] = [], None
        out["html_url"] = f"{base}/{repo.full_name}/pull/{item.number}"
        out["pull_request"] = {
            "url": f"{base}/repos/{repo.full_name}/pulls/{item.number}",
            "html_url": out["html_url"],
            "merged_at": item.merged_at,
        }
    return out


def comment_json(comment: IssueComment, pr: Item, base: str) -> Json:
    return {
        "id": comment.id,
        "node_id": comment.node_id,
        "url": f"{base}/repos/{pr.repo.full_name}/issues/comments/{comment.id}",
        "issue_url": f"{base}/repos/{pr.repo.full_name}/issues/{pr.number}",
        "body": comment.body,
        "user": user(comment.author),
        "created_at": comment.created_at,
        "updated_at": comment.updated_at,
    }


def review_comment_json(comment: ReviewComment, pr: PullRequest, base: str) -> Json:
    return {
        "id": comment.id,
        "node_id": comment.node_id,
        "url": f"{base}/repos/{pr.repo.full_name}/pulls/comments/{comment.id}",
        "pull_request_review_id": comment.review_id,
        "path": comment.path,
        "line": comment.line,
        "original_line": comment.original_line,
        "side": "RIGHT",
        "commit_id": comment.commit_id,
        "original_commit_id": comment.original_commit_id,
        "in_reply_to_id": comment.in_reply_to,
        "body": comment.body,
        "user": user(comment.author),
        "created_at": comment.created_at,
        "updated_at": comment.created_at,
    }


def review_json(review: Review, pr: PullRequest, base: str) -> Json:
    return {
        "id": review.id,
        "node_id": review.node_id,
        "user": user(review.author),
        "body": review.body,
        "state": review.state,
        "commit_id": review.commit_id,
        "submitted_at": review.submitted_at,
        "pull_request_url": f"{base}/repos/{pr.repo.full_name}/pulls/{pr.number}",
    }


def check_run_json(run: CheckRun, repo: Repo, base: str) -> Json:
    job_url = f"{base}/{repo.full_name}/actions/runs/{run.run_id}/job/{run.id}"
    return {
        "id": run.id,
        "node_id": run.node_id,
        "head_sha": run.head_sha,
        "external_id": str(run.id),
        "url": f"{base}/repos/{repo.full_name}/check-runs/{run.id}",
        "html_url": job_url,
        "details_url": job_url,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "name": run.name,
        "output": {
            "title": run.title or None,
            "summary": run.summary or None,
            "text": run.text or None,
            "annotations_count": len(run.annotations),
            "annotations_url": f"{base}/repos/{repo.full_name}/check-runs/{run.id}/annotations",
        },
        "check_suite": {"id": run.suite_id},
        "app": {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
        "pull_requests": [],
    }


def job_json(run: CheckRun, repo: Repo, base: str) -> Json:
    return {
        "id": run.id,
        "run_id": run.run_id,
        "node_id": run.node_id,
        "head_sha": run.head_sha,
        "name": run.name,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "url": f"{base}/repos/{repo.full_name}/actions/jobs/{run.id}",
        "html_url": f"{base}/{repo.full_name}/actions/runs/{run.run_id}/job/{run.id}",
        "run_attempt": run.reruns + 1,
    }
