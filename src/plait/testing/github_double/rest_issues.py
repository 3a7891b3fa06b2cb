"""REST routes of the issues API in the GitHub double: issues, their labels and comments.

As on GitHub, these see a PR as an issue: `GET /issues` lists PRs too (with a
`pull_request` key), and a PR's labels and conversation comments are read and written
here. Lists filter and sort the way GitHub documents (`state`, `labels` — every one
named —, `assignee`, `since`, `sort`, `direction`) and page with Link headers.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import unquote

from plait.testing.github_double import rest_views as views
from plait.testing.github_double.issues import Item
from plait.testing.github_double.rest import Reply, Request, _body, _repo, paginate, route
from plait.testing.github_double.state import ApiError, Issue
from plait.testing.github_double.world import World

_N = "(?P<number>[0-9]+)"


def _item(world: World, m: re.Match[str]) -> Item:
    return world.item(_repo(world, m), int(m["number"]))


def _wanted(item: Item, req: Request) -> bool:
    state = req.arg("state", "open")
    if state != "all" and item.state != state:
        return False
    labels = [n.strip() for n in req.arg("labels").split(",") if n.strip()]
    if any(name not in item.labels for name in labels):
        return False
    assignee = req.arg("assignee")
    assignees = item.assignees if isinstance(item, Issue) else []
    if assignee == "none" and assignees:
        return False
    if assignee == "*" and not assignees:
        return False
    if assignee not in ("", "none", "*") and assignee not in assignees:
        return False
    since = req.arg("since")
    return not since or _epoch(item.updated_at) >= _epoch(since)


def _epoch(stamp: str) -> float:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise ApiError(422, "Validation Failed", [{"field": "since", "code": "invalid"}]) from exc


@route("GET", "{R}/issues")
def list_issues(world: World, req: Request, m: re.Match[str]) -> Reply:
    items = [i for i in world.items(_repo(world, m)) if _wanted(i, req)]
    sort = req.arg("sort", "created")
    if sort == "updated":
        items.sort(key=lambda i: (i.updated_at, i.updated_seq))
    elif sort == "comments":
        items.sort(key=lambda i: (len(i.comments), i.number))
    else:
        items.sort(key=lambda i: (i.created_at, i.number))
    if req.arg("direction", "desc") == "desc":
        items.reverse()
    return paginate(req, [views.issue_json(world, i, req.base) for i in items])


@route("POST", "{R}/issues")
def create_issue(world: World, req: Request, m: re.Match[str]) -> Reply:
    body = _body(req)
    issue = world.create_issue(
        _repo(world, m),
        title=str(body.get("title") or ""),
        body=str(body.get("body") or ""),
        author=req.actor,
        labels=[str(n) for n in body.get("labels") or []],
        assignees=[str(n) for n in body.get("assignees") or []],
    )
    return Reply(status=201, body=views.issue_json(world, issue, req.base))


@route("GET", "{R}/issues/" + _N)
def get_issue(world: World, req: Request, m: re.Match[str]) -> Reply:
    return Reply(body=views.issue_json(world, _item(world, m), req.base))


@route("PATCH", "{R}/issues/" + _N)
def update_issue(world: World, req: Request, m: re.Match[str]) -> Reply:
    item = _item(world, m)
    keys = ("title", "body", "state", "state_reason", "labels", "assignees")
    world.update_issue(item, {k: v for k, v in _body(req).items() if k in keys}, req.actor)
    return Reply(body=views.issue_json(world, item, req.base))


# ---- labels ------------------------------------------------------------------------------
@route("GET", "{R}/issues/" + _N + "/labels")
def list_labels(world: World, req: Request, m: re.Match[str]) -> Reply:
    item = _item(world, m)
    return paginate(req, [views.label(name) for name in item.labels])


@route("POST", "{R}/issues/" + _N + "/labels")
def add_labels(world: World, req: Request, m: re.Match[str]) -> Reply:
    item = _item(world, m)
    raw = req.body.get("labels") if isinstance(req.body, dict) else req.body
    if not isinstance(raw, list):
        raise ApiError(422, "Validation Failed", [{"field": "labels", "code": "missing_field"}])
    world.add_labels(item, [str(name) for name in raw], req.actor)
    return Reply(body=[views.label(name) for name in item.labels])


@route("DELETE", "{R}/issues/" + _N + "/labels/(?P<name>[^/]+)")
def remove_label(world: World, req: Request, m: re.Match[str]) -> Reply:
    item = _item(world, m)
    world.remove_label(item, unquote(m["name"]), req.actor)
    return Reply(body=[views.label(name) for name in item.labels])


# ---- comments ----------------------------------------------------------------------------
@route("GET", "{R}/issues/" + _N + "/comments")
def list_comments(world: World, req: Request, m: re.Match[str]) -> Reply:
    item = _item(world, m)
    return paginate(req, [views.comment_json(c, item, req.base) for c in item.comments])


@route("POST", "{R}/issues/" + _N + "/comments")
def add_comment(world: World, req: Request, m: re.Match[str]) -> Reply:
    item, text = _item(world, m), _body(req).get("body")
    if not text:
        raise ApiError(422, "Validation Failed", [{"field": "body", "code": "missing_field"}])
    comment = world.add_comment(item, str(text), req.actor)
    return Reply(status=201, body=views.comment_json(comment, item, req.base))


@route("PATCH", "{R}/issues/comments/(?P<cid>[0-9]+)")
def edit_comment(world: World, req: Request, m: re.Match[str]) -> Reply:
    repo = _repo(world, m)
    comment = world.edit_comment(repo, int(m["cid"]), str(_body(req).get("body") or ""))
    item, _ = world.comment_by_id(repo, comment.id)
    return Reply(body=views.comment_json(comment, item, req.base))
