"""The GitHub double's issues: REST (issues, labels, comments, reviews with line comments)
and GraphQL (`repository.issue`, validated against GitHub's published schema)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from plait.testing.github_double import GitHubDouble
from plait.testing.gitrepo import GitRepo

OWNER, NAME = "acme", "app"
R = f"/repos/{OWNER}/{NAME}"


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[GitHubDouble]:
    with GitHubDouble(root=tmp_path / "gh", login="plait-bot") as double:
        double.create_repo(OWNER, NAME, {"a.txt": "one\ntwo\nthree\n"})
        yield double


def push(wc: GitRepo, branch: str, files: dict[str, str]) -> str:
    wc.git("checkout", "-q", "-B", branch, "origin/main")
    sha = wc.commit(files, f"work on {branch}")
    wc.git("push", "-q", "-f", "origin", f"HEAD:refs/heads/{branch}")
    return sha


def test_issues_and_prs_share_numbers_and_the_list_shows_both(
    gh: GitHubDouble, api: httpx.Client, wc: GitRepo
) -> None:
    gh.create_issue(OWNER, NAME, "first", labels=["plait"])
    push(wc, "feat", {"b.txt": "b\n"})
    gh.open_pr(OWNER, NAME, head="feat", author="someone")
    listed = api.get(f"{R}/issues", params={"state": "all"}).json()
    assert [(i["number"], "pull_request" in i) for i in listed] == [(2, True), (1, False)]
    only = api.get(f"{R}/issues", params={"labels": "plait"}).json()
    assert [(i["title"], i["state_reason"], i["labels"][0]["name"]) for i in only] == [
        ("first", None, "plait")
    ]


def test_label_filters_need_every_label_and_assignee_filters(
    gh: GitHubDouble, api: httpx.Client
) -> None:
    gh.create_issue(OWNER, NAME, "a", labels=["plait", "bug"], assignees=["ann"])
    gh.create_issue(OWNER, NAME, "b", labels=["plait"])
    both = api.get(f"{R}/issues", params={"labels": "plait,bug"}).json()
    ann = api.get(f"{R}/issues", params={"assignee": "ann"}).json()
    nobody = api.get(f"{R}/issues", params={"assignee": "none"}).json()
    assert [[i["title"] for i in x] for x in (both, ann, nobody)] == [["a"], ["a"], ["b"]]


def test_unchanged_issue_list_answers_304_for_free_and_changes_after_a_label(
    gh: GitHubDouble, api: httpx.Client
) -> None:
    gh.create_issue(OWNER, NAME, "a", labels=["plait"])
    first = api.get(f"{R}/issues", params={"labels": "plait"})
    etag = first.headers["etag"]
    again = api.get(f"{R}/issues", params={"labels": "plait"}, headers={"If-None-Match": etag})
    assert (again.status_code, again.headers["x-ratelimit-remaining"]) == (
        304,
        first.headers["x-ratelimit-remaining"],
    )
    gh.label(OWNER, NAME, 1, "plait:queued")
    moved = api.get(f"{R}/issues", params={"labels": "plait"}, headers={"If-None-Match": etag})
    assert moved.status_code == 200


def test_labels_add_and_remove_and_a_missing_label_is_404(
    gh: GitHubDouble, api: httpx.Client
) -> None:
    gh.create_issue(OWNER, NAME, "a", labels=["plait"])
    added = api.post(f"{R}/issues/1/labels", json={"labels": ["plait:running"]})
    removed = api.delete(f"{R}/issues/1/labels/plait%3Arunning")
    missing = api.delete(f"{R}/issues/1/labels/nope")
    assert [x["name"] for x in added.json()] == ["plait", "plait:running"]
    assert [x["name"] for x in removed.json()] == ["plait"]
    assert missing.status_code == 404


def test_a_comment_is_edited_in_place(gh: GitHubDouble, api: httpx.Client) -> None:
    gh.create_issue(OWNER, NAME, "a")
    made = api.post(f"{R}/issues/1/comments", json={"body": "queued"}).json()
    edited = api.patch(f"{R}/issues/comments/{made['id']}", json={"body": "running"})
    listed = api.get(f"{R}/issues/1/comments").json()
    assert edited.status_code == 200
    assert [(c["id"], c["body"]) for c in listed] == [(made["id"], "running")]


def test_closing_the_issue_by_patch_sets_state_reason(gh: GitHubDouble, api: httpx.Client) -> None:
    gh.create_issue(OWNER, NAME, "a")
    closed = api.patch(f"{R}/issues/1", json={"state": "closed", "state_reason": "not_planned"})
    assert (closed.json()["state"], closed.json()["state_reason"]) == ("closed", "not_planned")
    assert api.patch(f"{R}/issues/1", json={"state": "shut"}).status_code == 422


def test_merging_a_pr_that_says_closes_closes_the_issue(
    gh: GitHubDouble, api: httpx.Client, wc: GitRepo
) -> None:
    gh.create_issue(OWNER, NAME, "a")
    push(wc, "fix", {"b.txt": "b\n"})
    body = {"head": "fix", "base": "main", "title": "t", "body": "Closes #1"}
    number = api.post(f"{R}/pulls", json=body).json()["number"]
    sha = gh.pr(OWNER, NAME, number).head_sha
    api.put(f"{R}/pulls/{number}/merge", json={"sha": sha, "merge_method": "squash"})
    issue = api.get(f"{R}/issues/1").json()
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")


def test_a_review_with_line_comments_must_sit_on_the_diff(
    gh: GitHubDouble, api: httpx.Client, wc: GitRepo
) -> None:
    push(wc, "feat", {"b.txt": "b1\nb2\n"})
    gh.open_pr(OWNER, NAME, head="feat", author="someone")
    off = {"event": "REQUEST_CHANGES", "body": "x", "comments": [
        {"path": "b.txt", "line": 9, "body": "no"}]}  # fmt: skip
    on = {"event": "REQUEST_CHANGES", "body": "fix this", "comments": [
        {"path": "b.txt", "line": 2, "body": "rename"}]}  # fmt: skip
    refused = api.post(f"{R}/pulls/1/reviews", json=off)
    made = api.post(f"{R}/pulls/1/reviews", json=on)
    threads = api.get(f"{R}/pulls/1/comments").json()
    assert refused.status_code == 422
    assert made.json()["state"] == "CHANGES_REQUESTED"
    assert [(c["path"], c["line"], c["pull_request_review_id"]) for c in threads] == [
        ("b.txt", 2, made.json()["id"])
    ]
    files = api.get(f"{R}/pulls/1/files").json()
    assert [(f["filename"], f["status"], f["additions"]) for f in files] == [("b.txt", "added", 2)]


def test_nobody_approves_their_own_pr(gh: GitHubDouble, api: httpx.Client, wc: GitRepo) -> None:
    push(wc, "feat", {"b.txt": "b\n"})
    gh.open_pr(OWNER, NAME, head="feat", author="plait-bot")
    resp = api.post(f"{R}/pulls/1/reviews", json={"event": "APPROVE"})
    assert resp.status_code == 422


ISSUE_QUERY = """
query($n: Int!) { repository(owner: "acme", name: "app") { issue(number: $n) {
  number title body state stateReason
  labels(first: 10) { nodes { name } }
  assignees(first: 10) { nodes { login } }
  comments(first: 10) { nodes { body } }
  closedByPullRequestsReferences(first: 5, includeClosedPrs: true) { nodes { number } }
} } }
"""


def test_graphql_issue_with_its_labels_comments_and_linked_prs(
    gh: GitHubDouble, api: httpx.Client, wc: GitRepo
) -> None:
    gh.create_issue(OWNER, NAME, "a", "body", labels=["plait"], assignees=["ann"])
    gh.add_issue_comment(OWNER, NAME, 1, "more context")
    push(wc, "fix", {"b.txt": "b\n"})
    api.post(f"{R}/pulls", json={"head": "fix", "base": "main", "title": "t", "body": "Fixes #1"})
    resp = api.post("/graphql", json={"query": ISSUE_QUERY, "variables": {"n": 1}}).json()
    assert "errors" not in resp, resp
    issue: dict[str, Any] = resp["data"]["repository"]["issue"]
    assert (issue["state"], issue["stateReason"]) == ("OPEN", None)
    assert [n["name"] for n in issue["labels"]["nodes"]] == ["plait"]
    assert [n["login"] for n in issue["assignees"]["nodes"]] == ["ann"]
    assert [n["body"] for n in issue["comments"]["nodes"]] == ["more context"]
    assert [n["number"] for n in issue["closedByPullRequestsReferences"]["nodes"]] == [2]
