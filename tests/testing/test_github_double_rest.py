"""GitHubDouble's REST v3 over real HTTP, with real pushes into its bare repos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from plait.testing.github_double import Annotation, Check, GitHubDouble
from plait.testing.gitrepo import GitRepo, run_git

OWNER, NAME = "acme", "app"
R = f"/repos/{OWNER}/{NAME}"


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[GitHubDouble]:
    with GitHubDouble(root=tmp_path / "gh") as double:
        double.create_repo(OWNER, NAME, {"a.txt": "one\ntwo\nthree\n"})
        yield double


def push_branch(wc: GitRepo, branch: str, files: dict[str, str], base: str = "main") -> str:
    wc.git("checkout", "-q", "-B", branch, f"origin/{base}")
    sha = wc.commit(files, f"work on {branch}")
    wc.git("push", "-q", "-f", "origin", f"HEAD:refs/heads/{branch}")
    return sha


def open_pr(api: httpx.Client, head: str, *, base: str = "main", draft: bool = False) -> int:
    body = {"head": head, "base": base, "title": f"PR {head}", "body": "b", "draft": draft}
    resp = api.post(f"{R}/pulls", json=body)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["number"])


def bare(gh: GitHubDouble, *args: str) -> str:
    return run_git(*args, cwd=gh.repo_path(OWNER, NAME))


def test_requests_without_a_token_get_401(gh: GitHubDouble) -> None:
    resp = httpx.get(f"{gh.api_url}{R}")
    assert (resp.status_code, resp.json()["message"]) == (401, "Requires authentication")


def test_every_answer_carries_rate_limit_headers(api: httpx.Client) -> None:
    resp = api.get(R)
    assert {k: resp.headers[k] for k in ("x-ratelimit-limit", "x-ratelimit-resource")} == {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-resource": "core",
    }
    assert int(resp.headers["x-ratelimit-remaining"]) == 4999


def test_get_repo_names_default_branch_and_merge_methods(api: httpx.Client) -> None:
    body = api.get(R).json()
    assert (body["full_name"], body["default_branch"], body["allow_squash_merge"]) == (
        "acme/app",
        "main",
        True,
    )


def test_unknown_repo_is_404(api: httpx.Client) -> None:
    assert api.get("/repos/acme/nope").status_code == 404


def test_create_draft_pr_reads_head_from_the_pushed_branch(api: httpx.Client, wc: GitRepo) -> None:
    sha = push_branch(wc, "feat", {"b.txt": "b\n"})
    resp = api.post(
        f"{R}/pulls", json={"head": "feat", "base": "main", "title": "T", "draft": True}
    )
    pr = resp.json()
    assert (resp.status_code, pr["draft"], pr["head"]["sha"], pr["state"]) == (
        201,
        True,
        sha,
        "open",
    )


def test_second_pr_for_the_same_head_is_refused_like_github(api: httpx.Client, wc: GitRepo) -> None:
    push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat")
    resp = api.post(f"{R}/pulls", json={"head": "acme:feat", "base": "main", "title": "again"})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["message"] == "A pull request already exists for acme:feat."


def test_pr_without_new_commits_is_refused(api: httpx.Client, wc: GitRepo) -> None:
    wc.git("push", "-q", "origin", "main:refs/heads/same")
    resp = api.post(f"{R}/pulls", json={"head": "same", "base": "main", "title": "T"})
    assert resp.status_code == 422


def test_list_pulls_filters_by_head_and_state(api: httpx.Client, wc: GitRepo) -> None:
    for branch in ("a", "b"):
        push_branch(wc, branch, {f"{branch}.txt": "x\n"})
        open_pr(api, branch)
    api.patch(f"{R}/pulls/2", json={"state": "closed"})
    assert [p["head"]["ref"] for p in api.get(f"{R}/pulls").json()] == ["a"]
    assert [
        p["number"] for p in api.get(f"{R}/pulls", params={"head": "acme:b", "state": "all"}).json()
    ] == [2]


def test_list_pulls_pages_with_link_headers(api: httpx.Client, wc: GitRepo) -> None:
    for n in range(5):
        push_branch(wc, f"b{n}", {f"f{n}.txt": "x\n"})
        open_pr(api, f"b{n}")
    seen: list[int] = []
    url: str | None = f"{R}/pulls?per_page=2"
    while url:
        resp = api.get(url)
        seen += [p["number"] for p in resp.json()]
        url = resp.links.get("next", {}).get("url")
    assert seen == [5, 4, 3, 2, 1]


def test_sort_updated_desc_puts_the_last_touched_pr_first(api: httpx.Client, wc: GitRepo) -> None:
    for branch in ("a", "b"):
        push_branch(wc, branch, {f"{branch}.txt": "x\n"})
        open_pr(api, branch)
    api.patch(f"{R}/pulls/1", json={"title": "touched"})
    params = {"state": "open", "sort": "updated", "direction": "desc"}
    assert [p["number"] for p in api.get(f"{R}/pulls", params=params).json()] == [1, 2]


def test_etag_304_costs_no_rate_limit(api: httpx.Client, wc: GitRepo) -> None:
    push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat")
    first = api.get(f"{R}/pulls")
    again = api.get(f"{R}/pulls", headers={"If-None-Match": first.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]


def test_etag_changes_when_a_pr_changes(api: httpx.Client, wc: GitRepo) -> None:
    push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat")
    etag = api.get(f"{R}/pulls").headers["etag"]
    api.patch(f"{R}/pulls/1", json={"body": "new body"})
    assert api.get(f"{R}/pulls", headers={"If-None-Match": etag}).status_code == 200


def test_304_is_recorded_as_not_modified(gh: GitHubDouble, api: httpx.Client) -> None:
    etag = api.get(f"{R}/events").headers["etag"]
    api.get(f"{R}/events", headers={"If-None-Match": etag})
    assert [r.not_modified for r in gh.requests_where(path=f"{R}/events")] == [False, True]


def test_events_show_pushes(api: httpx.Client, wc: GitRepo) -> None:
    push_branch(wc, "feat", {"b.txt": "b\n"})
    resp = api.get(f"{R}/events")
    assert resp.json()[0]["type"] == "PushEvent"
    assert resp.headers["x-poll-interval"] == "60"


def test_patch_pr_retargets_base_and_retitles(api: httpx.Client, wc: GitRepo) -> None:
    push_branch(wc, "base2", {"c.txt": "c\n"})
    push_branch(wc, "feat", {"b.txt": "b\n"}, base="base2")
    open_pr(api, "feat", base="base2")
    resp = api.patch(f"{R}/pulls/1", json={"base": "main", "title": "New"})
    assert (resp.json()["base"]["ref"], resp.json()["title"]) == ("main", "New")


def test_squash_merge_is_a_real_commit_in_the_bare_repo(
    gh: GitHubDouble, api: httpx.Client, wc: GitRepo
) -> None:
    sha = push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat")
    resp = api.put(f"{R}/pulls/1/merge", json={"merge_method": "squash", "sha": sha})
    merged = resp.json()["sha"]
    assert bare(gh, "rev-parse", "main").strip() == merged
    assert bare(gh, "show", f"{merged}:b.txt") == "b\n"
    assert bare(gh, "log", "-1", "--format=%P %s", merged).split()[1:] == ["PR", "feat", "(#1)"]
    assert len(bare(gh, "log", "-1", "--format=%P", merged).split()) == 1


def test_merged_pr_reports_merge_commit(api: httpx.Client, wc: GitRepo) -> None:
    push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat")
    merged = api.put(f"{R}/pulls/1/merge", json={"merge_method": "merge"}).json()["sha"]
    pr = api.get(f"{R}/pulls/1").json()
    assert (pr["merged"], pr["state"], pr["merge_commit_sha"]) == (True, "closed", merged)


def test_merge_commit_has_two_parents(gh: GitHubDouble, api: httpx.Client, wc: GitRepo) -> None:
    sha = push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat")
    merged = api.put(f"{R}/pulls/1/merge", json={"merge_method": "merge"}).json()["sha"]
    assert bare(gh, "log", "-1", "--format=%P", merged).split()[1] == sha


def test_rebase_merge_replays_commits_on_the_base(
    gh: GitHubDouble, api: httpx.Client, wc: GitRepo
) -> None:
    push_branch(wc, "feat", {"b.txt": "b\n"})
    wc.commit({"c.txt": "c\n"}, "second")
    wc.git("push", "-q", "origin", "HEAD:refs/heads/feat")
    open_pr(api, "feat")
    merged = api.put(f"{R}/pulls/1/merge", json={"merge_method": "rebase"}).json()["sha"]
    subjects = bare(gh, "log", "--format=%s", "main").splitlines()
    assert (subjects, bare(gh, "rev-parse", "main").strip()) == (
        ["second", "work on feat", "Initial commit"],
        merged,
    )


def test_merge_with_stale_sha_is_409(api: httpx.Client, wc: GitRepo) -> None:
    push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat")
    resp = api.put(f"{R}/pulls/1/merge", json={"sha": "0" * 40})
    assert resp.status_code == 409


def test_merging_a_draft_is_405(api: httpx.Client, wc: GitRepo) -> None:
    push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat", draft=True)
    assert api.put(f"{R}/pulls/1/merge", json={}).status_code == 405


def test_disallowed_merge_method_is_405(gh: GitHubDouble, api: httpx.Client, wc: GitRepo) -> None:
    gh.allow_merge_methods(OWNER, NAME, "squash")
    push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat")
    resp = api.put(f"{R}/pulls/1/merge", json={"merge_method": "merge"})
    assert (resp.status_code, resp.json()["message"]) == (
        405,
        "Merge commits are not allowed on this repository.",
    )


def test_conflicting_pr_is_not_mergeable(gh: GitHubDouble, api: httpx.Client, wc: GitRepo) -> None:
    push_branch(wc, "x", {"a.txt": "X\n"})
    push_branch(wc, "y", {"a.txt": "Y\n"})
    open_pr(api, "x")
    open_pr(api, "y")
    api.put(f"{R}/pulls/1/merge", json={"merge_method": "squash"})
    pr = api.get(f"{R}/pulls/2").json()
    assert (pr["mergeable"], pr["mergeable_state"]) == (False, "dirty")
    assert api.put(f"{R}/pulls/2/merge", json={"merge_method": "squash"}).status_code == 405


def test_pr_whose_head_lands_by_push_turns_merged(api: httpx.Client, wc: GitRepo) -> None:
    sha = push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat")
    wc.git("push", "-q", "origin", f"{sha}:refs/heads/main")
    assert api.get(f"{R}/pulls/1").json()["merged"] is True


def test_issue_comments_round_trip(api: httpx.Client, wc: GitRepo) -> None:
    push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat")
    made = api.post(f"{R}/issues/1/comments", json={"body": "hello <!-- plait:e1 -->"})
    listed = api.get(f"{R}/issues/1/comments").json()
    assert (made.status_code, [c["body"] for c in listed]) == (201, ["hello <!-- plait:e1 -->"])


def test_labels_and_reviewer_requests(api: httpx.Client, wc: GitRepo) -> None:
    push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat")
    labels = api.post(f"{R}/issues/1/labels", json={"labels": ["plait", "stacked"]}).json()
    asked = api.post(f"{R}/pulls/1/requested_reviewers", json={"reviewers": ["alice"]})
    assert [label["name"] for label in labels] == ["plait", "stacked"]
    assert [u["login"] for u in asked.json()["requested_reviewers"]] == ["alice"]


def test_review_comment_replies_land_in_the_thread(
    gh: GitHubDouble, api: httpx.Client, wc: GitRepo
) -> None:
    push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat")
    thread = gh.add_review_thread(OWNER, NAME, 1, path="b.txt", line=1, body="why?")
    first = thread.comments[0].id
    resp = api.post(f"{R}/pulls/1/comments/{first}/replies", json={"body": "because"})
    listed = api.get(f"{R}/pulls/1/comments").json()
    assert resp.status_code == 201
    assert [(c["body"], c["in_reply_to_id"]) for c in listed] == [
        ("why?", None),
        ("because", first),
    ]


def test_reviews_list_shows_state_and_body(
    gh: GitHubDouble, api: httpx.Client, wc: GitRepo
) -> None:
    push_branch(wc, "feat", {"b.txt": "b\n"})
    open_pr(api, "feat")
    gh.submit_review(OWNER, NAME, 1, "CHANGES_REQUESTED", "please rename")
    reviews = api.get(f"{R}/pulls/1/reviews").json()
    assert [(r["state"], r["body"]) for r in reviews] == [("CHANGES_REQUESTED", "please rename")]


def test_delete_branch_ref(gh: GitHubDouble, api: httpx.Client, wc: GitRepo) -> None:
    push_branch(wc, "feat", {"b.txt": "b\n"})
    assert api.delete(f"{R}/git/refs/heads/feat").status_code == 204
    assert gh.branch_sha(OWNER, NAME, "feat") is None
    assert api.delete(f"{R}/git/refs/heads/feat").status_code == 422


def test_deleting_a_base_branch_closes_prs_on_it(api: httpx.Client, wc: GitRepo) -> None:
    push_branch(wc, "parent", {"p.txt": "p\n"})
    push_branch(wc, "child", {"c.txt": "c\n"}, base="parent")
    open_pr(api, "child", base="parent")
    api.delete(f"{R}/git/refs/heads/parent")
    assert api.get(f"{R}/pulls/1").json()["state"] == "closed"


def _failed_ci(gh: GitHubDouble, sha: str) -> int:
    note = Annotation(path="b.txt", line=1, message="boom")
    runs = gh.set_check_runs(
        OWNER, NAME, sha,
        [Check(name="test", conclusion="failure", summary="1 failed", annotations=(note,),
               log="step 1\nAssertionError\n"),
         Check(name="lint")],
    )  # fmt: skip
    return runs[0].id


def test_check_runs_for_a_commit(gh: GitHubDouble, api: httpx.Client, wc: GitRepo) -> None:
    sha = push_branch(wc, "feat", {"b.txt": "b\n"})
    _failed_ci(gh, sha)
    body = api.get(f"{R}/commits/{sha}/check-runs").json()
    runs = {r["name"]: (r["status"], r["conclusion"]) for r in body["check_runs"]}
    assert (body["total_count"], runs) == (
        2,
        {"test": ("completed", "failure"), "lint": ("completed", "success")},
    )


def test_check_runs_by_branch_name(gh: GitHubDouble, api: httpx.Client, wc: GitRepo) -> None:
    sha = push_branch(wc, "feat", {"b.txt": "b\n"})
    _failed_ci(gh, sha)
    assert api.get(f"{R}/commits/feat/check-runs").json()["total_count"] == 2


def test_annotations_of_a_check_run(gh: GitHubDouble, api: httpx.Client, wc: GitRepo) -> None:
    job = _failed_ci(gh, push_branch(wc, "feat", {"b.txt": "b\n"}))
    notes = api.get(f"{R}/check-runs/{job}/annotations").json()
    assert [(n["path"], n["start_line"], n["message"]) for n in notes] == [("b.txt", 1, "boom")]


def test_job_logs_redirect_to_plain_text(gh: GitHubDouble, api: httpx.Client, wc: GitRepo) -> None:
    job = _failed_ci(gh, push_branch(wc, "feat", {"b.txt": "b\n"}))
    first = api.get(f"{R}/actions/jobs/{job}/logs")
    logs = api.get(f"{R}/actions/jobs/{job}/logs", follow_redirects=True)
    assert (first.status_code, logs.text) == (302, "step 1\nAssertionError\n")


def test_rerun_failed_jobs_queues_only_the_failed_ones(
    gh: GitHubDouble, api: httpx.Client, wc: GitRepo
) -> None:
    sha = push_branch(wc, "feat", {"b.txt": "b\n"})
    job = _failed_ci(gh, sha)
    run_id = api.get(f"{R}/actions/jobs/{job}").json()["run_id"]
    assert api.post(f"{R}/actions/runs/{run_id}/rerun-failed-jobs").status_code == 201
    states = {r.name: r.status for r in gh.check_runs(OWNER, NAME, sha)}
    assert states == {"lint": "completed", "test": "queued"}


def test_rate_limit_endpoint_is_free(api: httpx.Client) -> None:
    api.get("/rate_limit")
    body = api.get("/rate_limit").json()
    assert (body["resources"]["core"]["used"], body["resources"]["graphql"]["limit"]) == (0, 5000)


def test_empty_core_bucket_refuses_with_403(gh: GitHubDouble, api: httpx.Client) -> None:
    gh.set_rate_limit("core", remaining=0, reset_in=120)
    resp = api.get(R)
    assert (resp.status_code, resp.headers["x-ratelimit-remaining"]) == (403, "0")
    assert int(resp.headers["x-ratelimit-reset"]) > 0


def test_enterprise_prefix_serves_the_same_api(gh: GitHubDouble) -> None:
    resp = httpx.get(f"{gh.ghe_api_url}{R}", headers={"Authorization": "token t"})
    assert resp.json()["name"] == NAME


def test_only_listed_tokens_are_accepted(tmp_path: Path) -> None:
    with GitHubDouble(root=tmp_path / "g", tokens={"good": "bob"}) as gh:
        gh.create_repo(OWNER, NAME)
        bad = httpx.get(f"{gh.api_url}{R}", headers={"Authorization": "Bearer bad"})
        good = httpx.get(f"{gh.api_url}{R}", headers={"Authorization": "Bearer good"})
        assert (bad.status_code, good.status_code) == (401, 200)
