"""GitHubDouble's GraphQL endpoint: GitHub's published schema, its rules and cost, the data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from plait.forges.github import queries
from plait.testing.github_double import Check, GitHubDouble
from plait.testing.gitrepo import GitRepo, run_git

OWNER, NAME = "acme", "app"

PR_QUERY = """
query($n: Int!) { repository(owner: "acme", name: "app") { pullRequest(number: $n) {
  id number state isDraft mergeable mergeStateStatus reviewDecision headRefName headRefOid
  baseRefName mergeCommit { oid } url title updatedAt
  commits(last: 1) { nodes { commit { oid statusCheckRollup { state
    contexts(first: 10) { pageInfo { hasNextPage } totalCount nodes {
      ... on CheckRun { name conclusion status detailsUrl databaseId title summary text }
      ... on StatusContext { context state description targetUrl } } } } } } }
  reviewThreads(first: 10) { totalCount pageInfo { hasNextPage endCursor } nodes {
    id isResolved isOutdated path line originalLine
    comments(first: 10) { nodes { id databaseId body author { login } createdAt } } } }
  comments(first: 10) { nodes { body author { login } } }
  reviews(first: 10, states: [CHANGES_REQUESTED]) { nodes { id state body author { login } } }
} } rateLimit { cost limit remaining used resetAt } }
"""


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[GitHubDouble]:
    with GitHubDouble(root=tmp_path / "gh") as double:
        double.create_repo(OWNER, NAME, {"a.txt": "one\ntwo\nthree\n"})
        yield double


def push(wc: GitRepo, branch: str, files: dict[str, str], base: str = "main") -> str:
    wc.git("checkout", "-q", "-B", branch, f"origin/{base}")
    sha = wc.commit(files, f"work on {branch}")
    wc.git("push", "-q", "-f", "origin", f"HEAD:refs/heads/{branch}")
    return sha


def gql(api: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    resp = api.post("/graphql", json={"query": query, "variables": variables})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def data(api: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    body = gql(api, query, **variables)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def pr_view(api: httpx.Client, number: int = 1) -> dict[str, Any]:
    view: dict[str, Any] = data(api, PR_QUERY, n=number)["repository"]["pullRequest"]
    return view


@pytest.fixture
def one_pr(gh: GitHubDouble, wc: GitRepo) -> str:
    sha = push(wc, "feat", {"b.txt": "b1\nb2\n"})
    gh.open_pr(OWNER, NAME, head="feat", draft=True, author="plait-user")
    return sha


def test_pull_request_fields(api: httpx.Client, one_pr: str) -> None:
    view = pr_view(api)
    assert {k: view[k] for k in ("state", "isDraft", "mergeable", "mergeStateStatus")} == {
        "state": "OPEN",
        "isDraft": True,
        "mergeable": "MERGEABLE",
        "mergeStateStatus": "DRAFT",
    }
    assert (view["headRefOid"], view["baseRefName"], view["mergeCommit"]) == (one_pr, "main", None)


def test_status_check_rollup_and_contexts(gh: GitHubDouble, api: httpx.Client, one_pr: str) -> None:
    gh.set_check_runs(OWNER, NAME, one_pr, [Check(name="t", conclusion="failure", summary="s")])
    commit = pr_view(api)["commits"]["nodes"][0]["commit"]
    rollup = commit["statusCheckRollup"]
    assert (rollup["state"], rollup["contexts"]["nodes"][0]["conclusion"]) == ("FAILURE", "FAILURE")


def test_no_checks_means_null_rollup(api: httpx.Client, one_pr: str) -> None:
    assert pr_view(api)["commits"]["nodes"][0]["commit"]["statusCheckRollup"] is None


def test_review_threads_comments_and_reviews(
    gh: GitHubDouble, api: httpx.Client, one_pr: str
) -> None:
    gh.add_review_thread(OWNER, NAME, 1, path="b.txt", line=2, body="why?", author="rev")
    gh.add_issue_comment(OWNER, NAME, 1, "looks fine")
    gh.submit_review(OWNER, NAME, 1, "CHANGES_REQUESTED", "rename it")
    gh.submit_review(OWNER, NAME, 1, "COMMENTED", "nit")
    view = pr_view(api)
    thread = view["reviewThreads"]["nodes"][0]
    assert (thread["path"], thread["line"], thread["comments"]["nodes"][0]["author"]) == (
        "b.txt",
        2,
        {"login": "rev"},
    )
    assert [c["body"] for c in view["comments"]["nodes"]] == ["looks fine"]
    assert [r["body"] for r in view["reviews"]["nodes"]] == ["rename it"]


def test_push_changing_a_commented_line_outdates_the_thread(
    gh: GitHubDouble, api: httpx.Client, wc: GitRepo, one_pr: str
) -> None:
    gh.add_review_thread(OWNER, NAME, 1, path="b.txt", line=2, body="why?")
    gh.add_review_thread(OWNER, NAME, 1, path="b.txt", line=1, body="ok?")
    wc.commit({"b.txt": "b1\nB2\n"}, "fix")
    wc.git("push", "-q", "origin", "HEAD:refs/heads/feat")
    threads = pr_view(api)["reviewThreads"]["nodes"]
    assert [(t["isOutdated"], t["line"], t["originalLine"]) for t in threads] == [
        (True, None, 2),
        (False, 1, 1),
    ]


def test_review_threads_page_with_cursors(gh: GitHubDouble, api: httpx.Client, one_pr: str) -> None:
    for n in range(5):
        gh.add_review_thread(OWNER, NAME, 1, path="b.txt", line=1, body=f"t{n}")
    query = """query($after: String) { repository(owner: "acme", name: "app") {
      pullRequest(number: 1) { reviewThreads(first: 2, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { comments(first: 1) { nodes { body } } } } } } }"""
    bodies: list[str] = []
    after = None
    while True:
        page = data(api, query, after=after)["repository"]["pullRequest"]["reviewThreads"]
        bodies += [n["comments"]["nodes"][0]["body"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert bodies == ["t0", "t1", "t2", "t3", "t4"]


def test_unknown_field_is_rejected_like_github(api: httpx.Client) -> None:
    body = gql(api, '{ repository(owner: "acme", name: "app") { nosuchfield } }')
    assert ("data" in body, "nosuchfield" in body["errors"][0]["message"]) == (False, True)


def test_wrong_argument_is_rejected(api: httpx.Client) -> None:
    body = gql(api, '{ repository(owner: "acme", name: "app", color: 1) { id } }')
    assert "color" in body["errors"][0]["message"]


def test_missing_required_argument_is_rejected(api: httpx.Client) -> None:
    body = gql(api, '{ repository(owner: "acme") { id } }')
    assert "name" in body["errors"][0]["message"]


def test_rejected_queries_cost_nothing(gh: GitHubDouble, api: httpx.Client) -> None:
    gql(api, "{ nope }")
    assert gh.world.graphql.used == 0


def test_connection_without_first_or_last_is_rejected(api: httpx.Client, one_pr: str) -> None:
    body = gql(api, '{ repository(owner: "acme", name: "app") { pullRequests { totalCount } } }')
    assert body["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES"


def test_first_above_100_is_rejected(api: httpx.Client) -> None:
    q = '{ repository(owner: "acme", name: "app") { pullRequests(first: 101) { totalCount } } }'
    assert gql(api, q)["errors"][0]["type"] == "EXCESSIVE_PAGINATION"


def test_unknown_repository_is_not_found(api: httpx.Client) -> None:
    body = gql(api, '{ repository(owner: "acme", name: "nope") { id } }')
    assert (body["data"]["repository"], body["errors"][0]["type"]) == (None, "NOT_FOUND")


def test_cost_follows_githubs_formula(api: httpx.Client, one_pr: str) -> None:
    # 1 (pullRequests) + 100 (reviewThreads per PR) + 100*50 (comments) = 5101 → 51 points
    query = """{ repository(owner: "acme", name: "app") { pullRequests(first: 100) { nodes {
      reviewThreads(first: 50) { nodes { comments(first: 10) { totalCount } } } } } }
      rateLimit { cost } }"""
    assert data(api, query)["rateLimit"]["cost"] == 51


def test_cost_is_charged_to_the_graphql_bucket(gh: GitHubDouble, api: httpx.Client) -> None:
    resp = api.post("/graphql", json={"query": "{ rateLimit { cost remaining used } }"})
    assert resp.json()["data"]["rateLimit"] == {"cost": 1, "remaining": 4999, "used": 1}
    assert (resp.headers["x-ratelimit-resource"], gh.world.core.used) == ("graphql", 0)


def test_aliases_read_fifty_prs_in_one_query(
    gh: GitHubDouble, api: httpx.Client, wc: GitRepo
) -> None:
    for n in range(50):
        wc.git("checkout", "-q", "-B", f"b{n}", "origin/main")
        wc.commit({f"f{n}.txt": "x\n"}, f"work {n}")
    wc.git("push", "-q", "origin", *(f"b{n}" for n in range(50)))
    for n in range(50):
        gh.open_pr(OWNER, NAME, head=f"b{n}", title=f"t{n}")
    fields = " ".join(f"p{n}: pullRequest(number: {n + 1}) {{ title }}" for n in range(50))
    result = data(api, f'{{ repository(owner: "acme", name: "app") {{ {fields} }} }}')
    assert [result["repository"][f"p{n}"]["title"] for n in range(50)] == [
        f"t{n}" for n in range(50)
    ]
    assert gh.requests_where(path="/graphql")[-1].graphql_cost == 1


def test_the_clients_poll_query_runs(gh: GitHubDouble, api: httpx.Client, one_pr: str) -> None:
    result = data(api, queries.poll_query(1), owner=OWNER, name=NAME, n0=1)
    assert result["repository"]["pr0"]["headRefOid"] == one_pr


def test_node_lookup_and_not_found(gh: GitHubDouble, api: httpx.Client, one_pr: str) -> None:
    pr_id = gh.pr(OWNER, NAME, 1).node_id
    q = "query($id: ID!) { node(id: $id) { ... on PullRequest { number } } }"
    assert data(api, q, id=pr_id)["node"] == {"number": 1}
    assert gql(api, q, id="PR_nope")["errors"][0]["type"] == "NOT_FOUND"


MARK_READY = """mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) {
  pullRequest { isDraft } } }"""


def test_mark_ready_for_review(gh: GitHubDouble, api: httpx.Client, one_pr: str) -> None:
    result = data(api, MARK_READY, id=gh.pr(OWNER, NAME, 1).node_id)
    assert result["markPullRequestReadyForReview"]["pullRequest"]["isDraft"] is False


def test_reply_then_resolve_a_thread(gh: GitHubDouble, api: httpx.Client, one_pr: str) -> None:
    thread = gh.add_review_thread(OWNER, NAME, 1, path="b.txt", line=1, body="why?")
    reply = """mutation($t: ID!) { addPullRequestReviewThreadReply(input:
      {pullRequestReviewThreadId: $t, body: "done"}) { comment { body } } }"""
    resolve = (
        "mutation($t: ID!) { resolveReviewThread(input: {threadId: $t}) { thread { isResolved } } }"
    )
    assert data(api, reply, t=thread.node_id)["addPullRequestReviewThreadReply"]["comment"] == {
        "body": "done"
    }
    assert data(api, resolve, t=thread.node_id)["resolveReviewThread"]["thread"]["isResolved"]
    assert [c.body for c in gh.thread(thread.node_id).comments] == ["why?", "done"]


AUTO = """mutation($id: ID!) { enablePullRequestAutoMerge(input: {pullRequestId: $id,
  mergeMethod: SQUASH}) { pullRequest { autoMergeRequest { mergeMethod } } } }"""


def test_auto_merge_on_a_clean_pr_is_refused(
    gh: GitHubDouble, api: httpx.Client, one_pr: str
) -> None:
    pr_id = gh.pr(OWNER, NAME, 1).node_id
    data(api, MARK_READY, id=pr_id)
    assert gql(api, AUTO, id=pr_id)["errors"][0]["message"] == "Pull request is in clean status"


def test_auto_merge_merges_once_checks_pass(
    gh: GitHubDouble, api: httpx.Client, one_pr: str
) -> None:
    pr_id = gh.pr(OWNER, NAME, 1).node_id
    data(api, MARK_READY, id=pr_id)
    gh.set_check_runs(OWNER, NAME, one_pr, [Check(name="ci", conclusion=None)])
    data(api, AUTO, id=pr_id)
    gh.set_check_runs(OWNER, NAME, one_pr, [Check(name="ci", conclusion="success")])
    assert pr_view(api)["state"] == "MERGED"


def test_merge_queue_merges_an_enqueued_pr(
    gh: GitHubDouble, api: httpx.Client, one_pr: str
) -> None:
    gh.enable_merge_queue(OWNER, NAME)
    pr_id = gh.pr(OWNER, NAME, 1).node_id
    data(api, MARK_READY, id=pr_id)
    enqueue = """mutation($id: ID!, $head: GitObjectID!) { enqueuePullRequest(input:
      {pullRequestId: $id, expectedHeadOid: $head}) { mergeQueueEntry { id position } } }"""
    entry = data(api, enqueue, id=pr_id, head=one_pr)["enqueuePullRequest"]["mergeQueueEntry"]
    view = pr_view(api)
    assert (entry["position"], view["state"], view["mergeCommit"]["oid"]) == (
        1,
        "MERGED",
        gh.branch_sha(OWNER, NAME, "main"),
    )


def test_update_branch_merges_the_base_into_the_head(
    gh: GitHubDouble, api: httpx.Client, wc: GitRepo, one_pr: str
) -> None:
    main = push(wc, "main", {"m.txt": "m\n"})
    q = """mutation($id: ID!) { updatePullRequestBranch(input: {pullRequestId: $id}) {
      pullRequest { headRefOid } } }"""
    head = data(api, q, id=gh.pr(OWNER, NAME, 1).node_id)["updatePullRequestBranch"]
    parents = run_git("log", "-1", "--format=%P", head["pullRequest"]["headRefOid"],
                      cwd=gh.repo_path(OWNER, NAME)).split()  # fmt: skip
    assert parents == [one_pr, main]


def test_create_pull_request_mutation(gh: GitHubDouble, api: httpx.Client, wc: GitRepo) -> None:
    push(wc, "feat", {"b.txt": "b\n"})
    q = """mutation($repo: ID!) { createPullRequest(input: {repositoryId: $repo,
      baseRefName: "main", headRefName: "feat", title: "T", draft: true}) {
      pullRequest { number isDraft } } }"""
    made = data(api, q, repo=gh.repo(OWNER, NAME).node_id)["createPullRequest"]["pullRequest"]
    assert made == {"number": 1, "isDraft": True}
