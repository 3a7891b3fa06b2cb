"""REST v3 routes of the GitHub double: a table of (method, path pattern, handler).

Handlers take a parsed `Request` and return a `Reply`; they raise `ApiError` for what GitHub
would refuse. List endpoints page like GitHub (`per_page` ≤ 100, default 30, `page`) and
send a `Link` header with `next`/`last`/`prev`/`first`. The server adds auth, rate limits,
ETags and faults around them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from plait.testing.github_double import rest_views as views
from plait.testing.github_double.checks import rerun_failed_jobs
from plait.testing.github_double.state import CheckRun, PullRequest, Repo
from plait.testing.github_double.world import ApiError, World


@dataclass(slots=True, kw_only=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    base: str  # the API root URL, for `url` fields and Link headers
    actor: str

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass(slots=True, kw_only=True)
class Reply:
    status: int = 200
    body: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[World, Request, re.Match[str]], Reply]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []
_REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def add(fn: Handler) -> Handler:
        ROUTES.append((method, re.compile(f"^{pattern.replace('{R}', _REPO)}$"), fn))
        return fn

    return add


def find(method: str, path: str) -> tuple[Handler, re.Match[str]] | None:
    """The handler for this request; raises 404/405 the way GitHub does for unknown paths."""
    for verb, pattern, fn in ROUTES:
        match = pattern.match(path)
        if match and verb == method:
            return fn, match
    return None


def _repo(world: World, m: re.Match[str]) -> Repo:
    repo = world.repo(m["owner"], m["repo"])
    world.sync(repo)
    return repo


def _pr(world: World, m: re.Match[str]) -> PullRequest:
    return world.pr(_repo(world, m), int(m["number"]))


def _body(req: Request) -> dict[str, Any]:
    if req.body is None:
        return {}
    if not isinstance(req.body, dict):
        raise ApiError(400, "Problems parsing JSON")
    return req.body


def paginate(req: Request, items: Sequence[Any]) -> Reply:
    try:
        per_page = min(100, max(1, int(req.arg("per_page", "30"))))
        page = max(1, int(req.arg("page", "1")))
    except ValueError as exc:
        raise ApiError(422, "Invalid pagination parameters") from exc
    last = max(1, -(-len(items) // per_page))
    chunk = list(items[(page - 1) * per_page : page * per_page])
    links = []
    rels = {"next": page + 1, "last": last} if page < last else {}
    if page > 1:
        rels |= {"first": 1, "prev": page - 1}
    for rel, number in rels.items():
        query = {k: v[-1] for k, v in req.query.items()} | {"page": str(number)}
        links.append(f'<{req.base}{req.path}?{urlencode(query)}>; rel="{rel}"')
    headers = {"link": ", ".join(links)} if links else {}
    return Reply(body=chunk, headers=headers)


# ---- repos and pulls ------------------------------------------------------------------------
@route("GET", "{R}")
def get_repo(world: World, req: Request, m: re.Match[str]) -> Reply:
    return Reply(body=views.repo_json(_repo(world, m), req.base))


@route("GET", "{R}/pulls")
def list_pulls(world: World, req: Request, m: re.Match[str]) -> Reply:
    repo = _repo(world, m)
    state, head, base = req.arg("state", "open"), req.arg("head"), req.arg("base")
    prs = [
        pr
        for pr in world.pulls(repo)
        if (state == "all" or pr.state == state)
        and (not head or f"{repo.owner}:{pr.head}" == head or pr.head == head)
        and (not base or pr.base == base)
    ]
    sort = req.arg("sort", "created")
    direction = req.arg("direction", "desc" if sort == "created" else "asc")
    if sort == "updated":
        prs.sort(key=lambda p: (p.updated_at, p.updated_seq), reverse=direction == "desc")
    else:
        prs.sort(key=lambda p: (p.created_at, p.number), reverse=direction == "desc")
    return paginate(req, [views.pr_json(world, pr, req.base, full=False) for pr in prs])


@route("POST", "{R}/pulls")
def create_pull(world: World, req: Request, m: re.Match[str]) -> Reply:
    repo, body = _repo(world, m), _body(req)
    for name in ("head", "base"):
        if not body.get(name):
            raise ApiError(422, "Validation Failed", [_missing(name)])
    if not body.get("title"):
        raise ApiError(422, "Validation Failed", [_missing("title")])
    pr = world.open_pr(
        repo,
        head=str(body["head"]),
        base=str(body["base"]),
        title=str(body["title"]),
        body=str(body.get("body") or ""),
        draft=bool(body.get("draft", False)),
        author=req.actor,
    )
    return Reply(status=201, body=views.pr_json(world, pr, req.base, full=True))


@route("GET", "{R}/pulls/(?P<number>[0-9]+)")
def get_pull(world: World, req: Request, m: re.Match[str]) -> Reply:
    return Reply(body=views.pr_json(world, _pr(world, m), req.base, full=True))


@route("PATCH", "{R}/pulls/(?P<number>[0-9]+)")
def update_pull(world: World, req: Request, m: re.Match[str]) -> Reply:
    pr, body = _pr(world, m), _body(req)
    fields = {k: v for k, v in body.items() if k in ("title", "body", "base", "state")}
    world.update_pr(pr, fields, req.actor)
    return Reply(body=views.pr_json(world, pr, req.base, full=True))


@route("PUT", "{R}/pulls/(?P<number>[0-9]+)/merge")
def merge_pull(world: World, req: Request, m: re.Match[str]) -> Reply:
    pr, body = _pr(world, m), _body(req)
    sha = world.merge_pr(
        pr,
        method=str(body.get("merge_method", "merge")),
        sha=body.get("sha"),
        title=body.get("commit_title"),
        message=body.get("commit_message"),
        actor=req.actor,
    )
    return Reply(body={"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


@route("POST", "{R}/pulls/(?P<number>[0-9]+)/requested_reviewers")
def request_reviewers(world: World, req: Request, m: re.Match[str]) -> Reply:
    pr, body = _pr(world, m), _body(req)
    for login in body.get("reviewers") or []:
        if login == pr.author:
            msg = "Review cannot be requested from pull request author."
            raise ApiError(422, msg)
        if login not in pr.requested_reviewers:
            pr.requested_reviewers.append(str(login))
    pr.touch()
    return Reply(status=201, body=views.pr_json(world, pr, req.base, full=False))


@route("GET", "{R}/pulls/(?P<number>[0-9]+)/comments")
def list_review_comments(world: World, req: Request, m: re.Match[str]) -> Reply:
    pr = _pr(world, m)
    comments = sorted((c for t in pr.threads for c in t.comments), key=lambda c: c.id)
    return paginate(req, [views.review_comment_json(c, pr, req.base) for c in comments])


@route("POST", "{R}/pulls/(?P<number>[0-9]+)/comments/(?P<cid>[0-9]+)/replies")
def reply_review_comment(world: World, req: Request, m: re.Match[str]) -> Reply:
    pr = _pr(world, m)
    owner, thread = world.thread_of(int(m["cid"]))
    if owner is not pr:
        raise ApiError(404, "Not Found")
    text = _body(req).get("body")
    if not text:
        raise ApiError(422, "Validation Failed", [_missing("body")])
    comment = world.reply(pr, thread, str(text), req.actor)
    return Reply(status=201, body=views.review_comment_json(comment, pr, req.base))


@route("GET", "{R}/pulls/(?P<number>[0-9]+)/reviews")
def list_reviews(world: World, req: Request, m: re.Match[str]) -> Reply:
    pr = _pr(world, m)
    return paginate(req, [views.review_json(r, pr, req.base) for r in pr.reviews])


@route("POST", "{R}/pulls/(?P<number>[0-9]+)/reviews")
def create_review(world: World, req: Request, m: re.Match[str]) -> Reply:
    pr, body = _pr(world, m), _body(req)
    comments = body.get("comments") or []
    if not isinstance(comments, list) or not all(isinstance(c, dict) for c in comments):
        raise ApiError(422, "Validation Failed", [_missing("comments")])
    review = world.create_review(
        pr,
        event=str(body.get("event") or ""),
        body=str(body.get("body") or ""),
        comments=comments,
        author=req.actor,
        commit_id=body.get("commit_id"),
    )
    return Reply(body=views.review_json(review, pr, req.base))


@route("GET", "{R}/pulls/(?P<number>[0-9]+)/files")
def list_files(world: World, req: Request, m: re.Match[str]) -> Reply:
    pr = _pr(world, m)
    files = [{"sha": "", "changes": int(f["additions"]) + int(f["deletions"]), **f}
             for f in world.files(pr)]  # fmt: skip
    return paginate(req, files)


# ---- refs, checks, actions -----------------------------------------------------------------
@route("DELETE", "{R}/git/refs/heads/(?P<branch>.+)")
def delete_ref(world: World, req: Request, m: re.Match[str]) -> Reply:
    world.delete_branch(_repo(world, m), m["branch"])
    return Reply(status=204)


@route("GET", "{R}/commits/(?P<ref>[^/]+)/check-runs")
def list_check_runs(world: World, req: Request, m: re.Match[str]) -> Reply:
    repo = _repo(world, m)
    sha = repo.tips.get(m["ref"], m["ref"])
    runs = world.checks_for(repo, sha)
    if req.arg("check_name"):
        runs = [r for r in runs if r.name == req.arg("check_name")]
    if req.arg("status"):
        runs = [r for r in runs if r.status == req.arg("status")]
    page = paginate(req, [views.check_run_json(r, repo, req.base) for r in runs])
    page.body = {"total_count": len(runs), "check_runs": page.body}
    return page


def _run(world: World, repo: Repo, run_id: int) -> CheckRun:
    for run in world.checks[repo.full_name]:
        if run.id == run_id:
            return run
    raise ApiError(404, "Not Found")


@route("GET", "{R}/check-runs/(?P<id>[0-9]+)")
def get_check_run(world: World, req: Request, m: re.Match[str]) -> Reply:
    repo = _repo(world, m)
    return Reply(body=views.check_run_json(_run(world, repo, int(m["id"])), repo, req.base))


@route("GET", "{R}/check-runs/(?P<id>[0-9]+)/annotations")
def list_annotations(world: World, req: Request, m: re.Match[str]) -> Reply:
    repo = _repo(world, m)
    return paginate(req, _run(world, repo, int(m["id"])).annotations)


@route("GET", "{R}/actions/jobs/(?P<id>[0-9]+)")
def get_job(world: World, req: Request, m: re.Match[str]) -> Reply:
    repo = _repo(world, m)
    return Reply(body=views.job_json(_run(world, repo, int(m["id"])), repo, req.base))


@route("GET", "{R}/actions/jobs/(?P<id>[0-9]+)/logs")
def job_logs(world: World, req: Request, m: re.Match[str]) -> Reply:
    """GitHub answers 302 to a short-lived download URL; so does the double."""
    repo = _repo(world, m)
    run = _run(world, repo, int(m["id"]))
    location = f"{req.base}/_download/{repo.full_name}/jobs/{run.id}/logs"
    return Reply(status=302, headers={"location": location})


@route("POST", "{R}/actions/runs/(?P<id>[0-9]+)/rerun-failed-jobs")
def rerun_failed(world: World, req: Request, m: re.Match[str]) -> Reply:
    rerun_failed_jobs(world, _repo(world, m), int(m["id"]))
    return Reply(status=201, body={})


@route("GET", "{R}/events")
def list_events(world: World, req: Request, m: re.Match[str]) -> Reply:
    repo = _repo(world, m)
    page = paginate(req, list(reversed(repo.events)))
    page.headers["x-poll-interval"] = "60"
    return page


def _missing(name: str) -> dict[str, str]:
    return {"resource": "PullRequest", "code": "missing_field", "field": name}


# The issues API's routes (issues, their labels and comments; a PR is an issue there).
from plait.testing.github_double import rest_issues as _issues  # noqa: E402, F401
