"""The GitHub double's HTTP side: auth, faults, rate limits, ETags and recording around the
REST routes and the GraphQL endpoint.

How this works, per request: strip a GitHub Enterprise prefix (`/api/v3`, `/api/graphql`)
→ serve a log download (no auth, like GitHub's signed URLs) → 401 without a token → take an
injected fault if one matches → a REST request with the `core` bucket empty gets 403 with
`x-ratelimit-remaining: 0` → run the route → a GET whose ETag matches `If-None-Match`
becomes 304 and costs nothing, anything else costs 1 from `core` (GraphQL charges its own
cost to `graphql`) → record it. Every answer carries the rate-limit headers of its bucket.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from plait.testing.github_double import graphql_api, rest
from plait.testing.github_double.faults import SECONDARY_MESSAGE, Fault
from plait.testing.github_double.state import Bucket, Recorded
from plait.testing.github_double.world import ApiError

if TYPE_CHECKING:
    from plait.testing.github_double.double import GitHubDouble

DOCS = "https://docs.github.com/rest"
FREE = frozenset({"/rate_limit"})  # GitHub does not charge for reading the rate limit


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    record: Recorded | None = None


def respond(
    double: GitHubDouble, method: str, target: str, headers: dict[str, str], raw: bytes
) -> Answer:
    url = urlsplit(target)
    path, prefix = _strip_prefix(url.path)
    query = parse_qs(url.query, keep_blank_values=True)
    base = double.url + prefix
    world = double.world
    resource = "graphql" if path == "/graphql" else "core"
    bucket = world.graphql if resource == "graphql" else world.core

    lost = False  # a "lost" fault: answer normally, then drop the answer
    late = 0.0  # a "late" fault: answer normally, this many seconds later

    def finish(answer: Answer, **rec: Any) -> Answer:
        if late:
            double._stopping.wait(late)
            rec.setdefault("fault", "late")
        if lost:
            answer.drop = True
            rec.setdefault("fault", "lost")
        with world.lock:
            bucket.roll()
            answer.headers = bucket.headers() | answer.headers
        answer.record = Recorded(
            method=method, path=path, query=query, status=answer.status,
            resource=rec.pop("resource", resource), at=time.time(), **rec,
        )  # fmt: skip
        return answer

    if method == "GET" and path.startswith("/_download/"):
        return finish(_download(double, path), resource="none")
    token = _token(headers.get("authorization", ""))
    if token is None or (double.tokens and token not in double.tokens):
        message = "Requires authentication" if token is None else "Bad credentials"
        return finish(_json(401, {"message": message, "documentation_url": DOCS}))
    fault = double._take_fault(method, path)
    if fault is not None:
        if fault.kind == "timeout":
            if double._stopping.wait(fault.seconds):
                return finish(Answer(0, drop=True), fault=fault.kind)  # shutting down
        elif fault.kind == "lost":
            lost = True
        elif fault.kind == "late":
            late = fault.seconds
        else:
            return finish(_fault_answer(fault, bucket, resource), fault=fault.kind)
    actor = double.tokens.get(token, double.login) if double.tokens else double.login
    try:
        payload = json.loads(raw) if raw.strip() else None
    except ValueError:
        return finish(_json(400, {"message": "Problems parsing JSON", "documentation_url": DOCS}))
    if resource == "graphql":
        if method != "POST":
            return finish(_json(404, {"message": "Not Found", "documentation_url": DOCS}))
        outcome = graphql_api.run(world, payload, actor=actor, base=base)
        status = 200 if "errors" in outcome.body or "data" in outcome.body else 400
        answer = _json(status, outcome.body)
        return finish(answer, graphql_cost=outcome.cost, graphql_document=_document(payload))
    answer = _rest(double, method, path, query, payload, base, actor, headers)
    free = path in FREE or answer.status == 304
    return finish(answer, not_modified=answer.status == 304, resource="none" if free else "core")


def _document(payload: Any) -> str | None:
    query = payload.get("query") if isinstance(payload, dict) else None
    return query if isinstance(query, str) else None


def _rest(
    double: GitHubDouble,
    method: str,
    path: str,
    query: dict[str, list[str]],
    payload: Any,
    base: str,
    actor: str,
    headers: dict[str, str],
) -> Answer:
    world = double.world
    if path == "/rate_limit":
        with world.lock:
            world.core.roll()
            world.graphql.roll()
            core, gql = world.core.as_json(), world.graphql.as_json()
        return _json(200, {"resources": {"core": core, "graphql": gql}, "rate": core})
    found = rest.find(method, path)
    if found is None:
        return _json(404, {"message": "Not Found", "documentation_url": DOCS})
    with world.lock:
        world.core.roll()
        if world.core.remaining <= 0:
            return _limited(world.core, 403)
        handler, match = found
        req = rest.Request(method=method, path=path, query=query, body=payload, base=base,
                           actor=actor)  # fmt: skip
        try:
            reply = handler(world, req, match)
        except ApiError as exc:
            body: dict[str, Any] = {"message": exc.message, "documentation_url": DOCS}
            if exc.errors:
                body["errors"] = exc.errors
            reply = rest.Reply(status=exc.status, body=body)
        answer = _reply(reply)
        if method == "GET" and answer.status == 200 and _etag_matches(headers, answer):
            return Answer(304, b"", {"etag": answer.headers["etag"]} | _keep(answer))
        world.core.used += 1
        return answer


def _reply(reply: rest.Reply) -> Answer:
    if reply.text is not None:
        return Answer(reply.status, reply.text.encode(), {"content-type": "text/plain"})
    if reply.body is None:
        return Answer(reply.status, b"", dict(reply.headers))
    answer = _json(reply.status, reply.body)
    answer.headers |= reply.headers
    if reply.status == 200:
        answer.headers["etag"] = 'W/"' + hashlib.sha256(answer.body).hexdigest()[:40] + '"'
    return answer


def _keep(answer: Answer) -> dict[str, str]:
    return {k: v for k, v in answer.headers.items() if k in ("link", "x-poll-interval")}


def _etag_matches(headers: dict[str, str], answer: Answer) -> bool:
    sent = headers.get("if-none-match", "")
    mine = answer.headers.get("etag", "").removeprefix("W/")
    return bool(sent) and any(t.strip().removeprefix("W/") == mine for t in sent.split(","))


def _json(status: int, body: Any) -> Answer:
    data = json.dumps(body).encode()
    return Answer(status, data, {"content-type": "application/json; charset=utf-8"})


def _limited(bucket: Bucket, status: int, reset_in: float | None = None) -> Answer:
    message = "API rate limit exceeded for user ID 1."
    answer = _json(status, {"message": message, "documentation_url": DOCS})
    reset = time.time() + reset_in if reset_in is not None else bucket.reset_at
    answer.headers |= bucket.headers() | {
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": str(bucket.limit),
        "x-ratelimit-reset": str(int(reset)),
    }
    return answer


def _fault_answer(fault: Fault, bucket: Bucket, resource: str) -> Answer:
    if fault.kind == "drop":
        return Answer(0, drop=True)
    if fault.kind == "primary":
        if resource == "graphql":  # GitHub answers 200 with a RATE_LIMITED error here
            body = {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]}
            answer = _json(200, body)
            answer.headers |= _limited(bucket, 200, fault.seconds).headers
            return answer
        return _limited(bucket, fault.status, fault.seconds)
    if fault.kind == "secondary":
        answer = _json(fault.status, {"message": SECONDARY_MESSAGE, "documentation_url": DOCS})
        answer.headers["retry-after"] = str(int(fault.seconds))
        return answer
    return _json(fault.status, {"message": "Server Error"})


def _download(double: GitHubDouble, path: str) -> Answer:
    parts = path.split("/")  # /_download/{owner}/{repo}/jobs/{id}/logs
    if len(parts) == 7 and parts[4] == "jobs" and parts[5].isdecimal():
        with double.world.lock:
            for run in double.world.checks.get(f"{parts[2]}/{parts[3]}", []):
                if run.id == int(parts[5]):
                    return Answer(200, run.log.encode(), {"content-type": "text/plain"})
    return _json(404, {"message": "Not Found"})


def _strip_prefix(path: str) -> tuple[str, str]:
    if path == "/api/graphql":
        return "/graphql", "/api/v3"
    if path.startswith("/api/v3/") or path == "/api/v3":
        return path.removeprefix("/api/v3") or "/", "/api/v3"
    return path, ""


def _token(header: str) -> str | None:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-request are expected here (faults); stay quiet."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log; requests are recorded instead."""

    def _serve(self) -> None:
        double: GitHubDouble = self.server.double  # type: ignore[attr-defined]
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            answer = respond(double, self.command, self.path, headers, raw)
        except Exception as exc:  # a bug in the double: answer 500 and keep the record
            answer = _json(500, {"message": f"double error: {exc!r}"})
            double.errors.append(exc)
        if answer.record is not None:
            double._record(answer.record)
        if answer.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(answer.body)))
            self.end_headers()
            if answer.body and self.command != "HEAD":
                self.wfile.write(answer.body)
        except OSError:  # the client gave up (a timeout fault outlived its patience)
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve
