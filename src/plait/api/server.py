"""The local API, served by whichever process runs a project's engine.

How this works. A Starlette app answers JSON under `/api/`: the project, its tasks (list,
detail, result, transcript pages), a live stream of decided events (server-sent events)
and the commands (add, plan, kill, retry, reset, send, shutdown). A command is checked
against the engine's state (`plait.api.commands`), then decided in the engine's own loop
(`Engine.submit`), and answered once its decision is committed. uvicorn serves the app
inside the engine's TaskGroup, on a Unix socket in the project folder (mode 0600, for the
CLI and TUI) and, when asked, on 127.0.0.1 with a bearer token (for the browser).

Starlette and uvicorn rather than a hand-written server: a well-kept ASGI stack with
streaming responses, HTTP/1.1 keep-alive and Unix sockets, run in our own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from plait.api import commands as cmd
from plait.api.missions import add_mission, add_team
from plait.api.resources import ResourceSampler
from plait.api.spending import budget_view, set_budget
from plait.api.swarm_view import PROBLEMS_META, reported_problems, swarm_status
from plait.api.transcript import transcript_page
from plait.api.views import (
    dependency_graph,
    project_summary,
    status_of,
    task_detail,
    task_result,
    task_row,
    workers_view,
)
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.codec import decode_typed
from plait.core.model import RunState, Usage
from plait.core.plan import Plan, TaskSpec
from plait.core.progress import tasks_settled
from plait.engine.loop import Engine
from plait.errors import ExecutorError, PlaitError
from plait.notify import Channels
from plait.ui.headless import event_messages, status_word
from plait.ui.web import dashboard_routes

Json = dict[str, Any]
SUBSCRIBER_BACKLOG = 10_000  # messages a slow event-stream reader may fall behind by
HEARTBEAT = 15.0  # seconds between keep-alive comments on an idle event stream


@dataclass
class ApiContext:
    """What the API serves: the running engine and facts about its process."""

    engine: Engine
    project: str
    mode: str  # foreground | background
    agents: tuple[str, ...] = ()
    started_at: float = field(default_factory=time.time)
    token: str = ""  # required on the loopback HTTP listener
    resources: ResourceSampler = field(default_factory=ResourceSampler)
    on_shutdown: Callable[[], None] | None = None
    http: str | None = None  # the loopback listener's URL, once it is open
    make_token: Callable[[], str] | None = None  # the token for a listener opened later
    on_http: Callable[[str], None] | None = None  # told the URL when a listener opens
    open_http: Callable[[int], str] | None = None  # set by `serve_api`
    notify: Channels = field(default_factory=Channels)  # where notifications go

    def live_usage(self) -> dict[str, Usage]:
        """Tokens and cost the turns under way have reported, beyond what the task counts
        (a session's running total counts only what it adds to the last one)."""
        state = self.engine.state
        out: dict[str, Usage] = {}
        for task, (usage, cumulative) in self.engine.executors.live_usage().items():
            if cumulative and state is not None and task in state.tasks:
                usage = usage.since(state.tasks[task].session_usage)
            out[task] = usage
        return out

    @property
    def state(self) -> RunState:
        state = self.engine.state
        if state is None:
            raise cmd.CommandError("the project has not started", hint="run `plait init`")
        return state


class EventHub:
    """Fans each committed decision out to the event-stream readers as JSON messages.

    Each message carries the decision's sequence number in the store (`seq`, given by
    `seq()`), the one the timeline keeps too: a face loads the timeline, then takes from
    the stream only what is newer."""

    def __init__(self, seq: Callable[[], int] | None = None) -> None:
        self.readers: set[asyncio.Queue[Json | None]] = set()
        self.seq = 0
        self._seq = seq

    def __call__(
        self,
        event: ev.Event,
        old: RunState | None,
        new: RunState,
        effects: tuple[fx.Effect, ...],
    ) -> None:
        self.seq = self._seq() if self._seq is not None else self.seq + 1
        if not self.readers:
            return
        for message in event_json(event, old, new, effects, seq=self.seq):
            self._send(message)

    def _send(self, message: Json) -> None:
        for queue in list(self.readers):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                # Too far behind: end its stream; the client reloads and reconnects.
                self.readers.discard(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.get_nowait()
                    queue.put_nowait(None)

    @contextlib.contextmanager
    def reader(self) -> Iterator[asyncio.Queue[Json | None]]:
        queue: asyncio.Queue[Json | None] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self.readers.add(queue)
        try:
            yield queue
        finally:
            self.readers.discard(queue)

    def close(self) -> None:
        for queue in list(self.readers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)


def event_json(
    event: ev.Event,
    old: RunState | None,
    new: RunState,
    effects: tuple[fx.Effect, ...],
    *,
    seq: int,
) -> list[Json]:
    """The messages one decision gives on the event stream (the headless JSON lines)."""
    base: Json = {"type": "event", "seq": seq, "event": type(event).__name__, "at": event.at}
    lines = event_messages(event, old, new, effects)
    task = getattr(event, "task", None)
    if not lines:
        lines = [(task if isinstance(task, str) and task in new.tasks else None, "")]
    out = []
    for about, line in lines:
        message = {**base, "task": about, "message": line or None}
        if about is not None:
            message["status"] = status_word(new, about)
        out.append(message)
    notices = [_notice_json(e) for e in effects if isinstance(e, fx.Notify)]
    if notices:
        # What a face rings the bell for (`/api/project` says whether the bell is on).
        out[0]["notify"] = notices
    return out


def _notice_json(e: fx.Notify) -> Json:
    return {"id": e.id, "kind": e.kind, "task": e.task or None, "title": e.title, "text": e.text}


# ---- the app ----------------------------------------------------------------------------
def make_app(ctx: ApiContext, hub: EventHub, *, local: bool = True) -> Starlette:
    """The API's routes; `local` (the Unix socket) adds the ones only the owner's own
    commands may call, never reachable over HTTP."""
    routes = [
        Route("/api/project", _handler(ctx, _project), methods=["GET"]),
        Route("/api/tasks", _handler(ctx, _tasks), methods=["GET"]),
        Route("/api/tasks", _handler(ctx, _add), methods=["POST"]),
        Route("/api/plans", _handler(ctx, _add_plan), methods=["POST"]),
        Route("/api/missions", _handler(ctx, _add_mission), methods=["POST"]),
        Route("/api/teams", _handler(ctx, _add_team), methods=["POST"]),
        Route("/api/tasks/{ref}", _handler(ctx, _task), methods=["GET"]),
        Route("/api/tasks/{ref}/result", _handler(ctx, _result), methods=["GET"]),
        Route("/api/tasks/{ref}/transcript", _handler(ctx, _transcript), methods=["GET"]),
        Route("/api/tasks/{ref}/{verb}", _handler(ctx, _command), methods=["POST"]),
        Route("/api/settled", _handler(ctx, _settled), methods=["GET"]),
        Route("/api/timeline", _handler(ctx, _timeline), methods=["GET"]),
        Route("/api/graph", _handler(ctx, _graph), methods=["GET"]),
        Route("/api/broadcast", _handler(ctx, _broadcast), methods=["POST"]),
        Route("/api/swarm", _handler(ctx, _swarm), methods=["GET"]),
        Route("/api/workers", _handler(ctx, _workers), methods=["GET"]),
        Route("/api/adopt", _handler(ctx, _adopt), methods=["POST"]),
        Route("/api/budget", _handler(ctx, _budget), methods=["GET"]),
        Route("/api/budget", _handler(ctx, _set_budget), methods=["POST"]),
        Route("/api/shutdown", _handler(ctx, _shutdown), methods=["POST"]),
        Route("/api/events", _events(ctx, hub), methods=["GET"]),
        *dashboard_routes(),
    ]
    if local:
        routes.append(Route("/api/http", _handler(ctx, _open_http), methods=["POST"]))
    misses = {404: _no_route, 405: _no_route}
    return Starlette(routes=routes, exception_handlers=misses)  # type: ignore[arg-type]


async def _no_route(request: Request, exc: HTTPException) -> Response:
    """An API caller gets the API's JSON error, not Starlette's bare "Not Found"."""
    if not request.url.path.startswith("/api/"):
        return PlainTextResponse(exc.detail, status_code=exc.status_code)
    what = "no such API endpoint" if exc.status_code == 404 else "not a method of this endpoint"
    return JSONResponse(
        {"error": f"{what}: {request.method} {request.url.path}",
         "hint": "the endpoints are listed in the README, under The local API"},
        status_code=exc.status_code,
    )  # fmt: skip


Endpoint = Callable[[ApiContext, Request], Any]


def _handler(ctx: ApiContext, fn: Endpoint) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        try:
            result = fn(ctx, request)
            if asyncio.iscoroutine(result):
                result = await result
        except cmd.CommandError as exc:
            return _error(exc.status, exc)
        except PlaitError as exc:
            return _error(400, exc)
        return JSONResponse(result)

    return endpoint


def _error(status: int, exc: PlaitError) -> JSONResponse:
    return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=status)


async def _body(request: Request) -> Json:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise cmd.BadRequest("the request body is not JSON", hint="send a JSON object") from None
    if not isinstance(data, dict):
        raise cmd.BadRequest("the request body must be a JSON object", hint="send {...}")
    return data


def _project(ctx: ApiContext, request: Request) -> Json:
    n = ctx.notify
    return {
        **project_summary(ctx.state, engine=True, live=ctx.live_usage()),
        "mode": ctx.mode,
        "pid": os.getpid(),
        "started_at": ctx.started_at,
        "running_effects": len(ctx.engine.running_effects()),
        # The URL may hold a secret: say only whether there is one.
        "notify": {
            "on": list(n.on),
            "bell": n.enabled and n.bell,
            "desktop": n.desktop,
            "webhook": bool(n.webhook),
        },
    }


def _budget(ctx: ApiContext, request: Request) -> Json:
    state = ctx.state
    ref = request.query_params.get("task")
    tid = cmd.resolve_task(state, ref) if ref else None
    return budget_view(state, ctx.live_usage(), tid)


async def _set_budget(ctx: ApiContext, request: Request) -> Json:
    body = await _body(request)
    ref = body.get("task")
    command = set_budget(
        ctx.state,
        str(ref) if ref else None,
        tokens=body.get("tokens"),
        dollars=body.get("dollars"),
        now=time.time(),
    )
    reply = await _submit(ctx, command)
    return {**reply, "budget": budget_view(ctx.state, ctx.live_usage(), command.task or None)}


def _swarm(ctx: ApiContext, request: Request) -> Json:
    problems = reported_problems(ctx.engine.store.get_meta(PROBLEMS_META))
    return swarm_status(ctx.state, problems=problems, last=_int(request.query_params, "last", 50))


def _tasks(ctx: ApiContext, request: Request) -> Json:
    """The task list in plan order, paged: `?limit=N` rows from `?after=<task id>` (the
    page's `next` is the cursor for the one after it; null at the end) or from
    `?offset=N`; `?status=a,b` keeps those statuses. Rows are built only for the page
    (P8 in bench/README.md: a page costs the same at 10,000 tasks as at 100)."""
    state = ctx.state
    q = request.query_params
    wanted = set(filter(None, q.get("status", "").split(",")))
    order: list[str] | tuple[str, ...] = state.order
    if wanted:
        order = [t for t in order if status_of(state, state.tasks[t]) in wanted]
    total = len(order)
    offset = _int(q, "offset", 0, least=0)
    after = q.get("after")
    if after:
        if after not in state.tasks:
            raise cmd.BadRequest(f"no task {after!r} to page after", hint="?after=<task id>")
        offset = _position_after(state, order, after) if wanted else order.index(after) + 1
    limit = _int(q, "limit", total)
    page = order[offset : offset + limit]
    usage = ctx.resources.by_task(ctx.engine)
    live, now = ctx.live_usage(), time.time()
    where = ctx.engine.executors.placement()
    rows = []
    for tid in page:
        row = task_row(state, state.tasks[tid], now=now, live=live.get(tid), runs_on=where.get(tid))
        if tid in usage:
            row["cpu_percent"], row["rss_bytes"] = usage[tid]
        rows.append(row)
    more = offset + len(page) < total
    return {
        "tasks": rows,
        "total": total,
        "offset": offset,
        "next": page[-1] if page and more else None,
    }


def _position_after(state: RunState, order: list[str] | tuple[str, ...], after: str) -> int:
    """Where the rows after task `after` begin in a filtered `order` (`after` itself may
    have left the filter since the last page)."""
    place = {tid: i for i, tid in enumerate(state.order)}
    cut = place[after]
    return next((i for i, tid in enumerate(order) if place[tid] > cut), len(order))


def _int(params: Mapping[str, str], name: str, default: int, *, least: int = 1) -> int:
    """The query parameter `name` as a whole number of at least `least` (a count, 1; a
    position, 0), else `default`; anything else is refused, naming the parameter."""
    text = params.get(name)
    if text is None:
        return default
    hint = f"{name} is a whole number of at least {least}, e.g. ?{name}=50"
    try:
        value = int(text)
    except ValueError:
        raise cmd.BadRequest(f"{name}={text!r} is not a whole number", hint=hint) from None
    if value < least:
        raise cmd.BadRequest(f"{name}={value} is less than {least}", hint=hint)
    return value


def _task(ctx: ApiContext, request: Request) -> Json:
    state = ctx.state
    tid = cmd.resolve_task(state, request.path_params["ref"])
    detail = task_detail(
        state,
        state.tasks[tid],
        now=time.time(),
        live=ctx.live_usage().get(tid),
        runs_on=ctx.engine.executors.placement().get(tid),
    )
    usage = ctx.resources.by_task(ctx.engine).get(tid)
    if usage is not None:
        detail["cpu_percent"], detail["rss_bytes"] = usage
    return detail


def _result(ctx: ApiContext, request: Request) -> Json:
    state = ctx.state
    tid = cmd.resolve_task(state, request.path_params["ref"])
    return task_result(state, state.tasks[tid])


def _transcript(ctx: ApiContext, request: Request) -> Json:
    tid = cmd.resolve_task(ctx.state, request.path_params["ref"])
    q = request.query_params
    return transcript_page(
        ctx.engine.store, tid, after=_int(q, "after", 0, least=0), limit=_int(q, "limit", 500)
    )


async def _submit(ctx: ApiContext, command: cmd.Command) -> Json:
    await ctx.engine.submit(command.event)
    reply: Json = {"ok": True, "message": command.done, "queued": False}
    state = ctx.state
    if command.task:
        reply["task"] = command.task
        reply["status"] = status_word(state, command.task)
    if command.tasks:
        reply["tasks"] = [
            task_row(state, state.tasks[t]) for t in command.tasks if t in state.tasks
        ]
    return reply


async def _add(ctx: ApiContext, request: Request) -> Json:
    body = await _body(request)
    return await _submit(ctx, cmd.add_task(ctx.state, body, now=time.time(), agents=ctx.agents))


async def _add_mission(ctx: ApiContext, request: Request) -> Json:
    body = await _body(request)
    command = add_mission(ctx.state, body, now=time.time(), agents=ctx.agents)
    return await _submit(ctx, command)


async def _add_team(ctx: ApiContext, request: Request) -> Json:
    body = await _body(request)
    return await _submit(ctx, add_team(ctx.state, body, now=time.time(), agents=ctx.agents))


async def _add_plan(ctx: ApiContext, request: Request) -> Json:
    return await _submit(
        ctx, cmd.add_plan(ctx.state, plan_from_json(await _body(request)), now=time.time())
    )


async def _command(ctx: ApiContext, request: Request) -> Json:
    verb, ref = request.path_params["verb"], request.path_params["ref"]
    body = await _body(request)
    state, now = ctx.state, time.time()
    if verb == "kill":
        reason, cascade = str(body.get("reason") or ""), bool(body.get("cascade"))
        command = cmd.kill(state, ref, now=now, reason=reason, cascade=cascade)
    elif verb == "retry":
        command = cmd.retry(state, ref, now=now, cascade=bool(body.get("cascade")))
    elif verb == "reset":
        command = cmd.reset(state, ref, now=now, hard=bool(body.get("hard")))
    elif verb == "send":
        command = cmd.send(state, ref, str(body.get("text") or ""), now=now)
    else:
        raise cmd.TaskNotFound(f"no command {verb!r}", hint="kill, retry, reset or send")
    return await _submit(ctx, command)


async def _adopt(ctx: ApiContext, request: Request) -> Json:
    body = await _body(request)
    number = body.get("pr")
    if not isinstance(number, int) or number < 1:
        raise cmd.BadRequest("`pr` must be a PR number", hint='{"pr": 123}')
    info = await ctx.engine.forge.pr_info(number)
    return await _submit(
        ctx, cmd.adopt(ctx.state, info, merge=bool(body.get("merge")), now=time.time())
    )


def _timeline(ctx: ApiContext, request: Request) -> Json:
    q = request.query_params
    ref = q.get("task")
    return ctx.engine.store.timeline(
        after=_int(q, "after", 0, least=0),
        limit=_int(q, "limit", 500),
        task=cmd.resolve_task(ctx.state, ref) if ref else None,
        last=_int(q, "last", 0) or None,
    )


def _graph(ctx: ApiContext, request: Request) -> Json:
    return dependency_graph(ctx.state)


async def _broadcast(ctx: ApiContext, request: Request) -> Json:
    body = await _body(request)
    cast = cmd.broadcast(ctx.state, str(body.get("text") or ""), now=time.time())
    # Together, so the engine decides them in one batch.
    await asyncio.gather(*(ctx.engine.submit(c.event) for c in cast.commands))
    state = ctx.state
    return {
        "ok": True,
        "queued": False,
        "message": cast.done(),
        "tasks": [task_row(state, state.tasks[t]) for t in cast.tasks],
        "skipped": cast.skipped_json(),
    }


def _settled(ctx: ApiContext, request: Request) -> Json:
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    return {"settled": tasks_settled(ctx.state, ids)}


async def _open_http(ctx: ApiContext, request: Request) -> Json:
    """Open the loopback listener (for the dashboard) if it is not open yet."""
    port = (await _body(request)).get("port", 0)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise cmd.BadRequest("`port` must be a port number", hint='{"port": 0} picks a free one')
    if ctx.open_http is None:
        raise cmd.CommandError("this engine cannot open a loopback listener", hint="")
    opened = ctx.http is None
    return {"http": ctx.open_http(port), "opened": opened}


async def _workers(ctx: ApiContext, request: Request) -> Json:
    executors = ctx.engine.executors
    try:
        found = await executors.workers()
    except ExecutorError as exc:  # said in the answer: `plait workers` exits 8 with it
        return workers_view(executors.describe, (), now=time.time(), problem=exc)
    return workers_view(executors.describe, found, now=time.time())


def _shutdown(ctx: ApiContext, request: Request) -> Json:
    ctx.engine.stop()
    return {"ok": True, "message": f"the engine of {ctx.project} is stopping"}


def _events(ctx: ApiContext, hub: EventHub) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        return StreamingResponse(_stream(ctx, hub), media_type="text/event-stream")

    return endpoint


async def _stream(ctx: ApiContext, hub: EventHub) -> AsyncIterator[str]:
    with hub.reader() as queue:
        yield f": plait {ctx.project}\n\n"
        while not ctx.engine.stopping:
            try:
                async with asyncio.timeout(HEARTBEAT):
                    message = await queue.get()
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if message is None:
                return
            yield f"data: {json.dumps(message)}\n\n"


def plan_from_json(data: Json) -> Plan:
    """A plan sent by a client (`plait run` parses and validates the file itself)."""
    try:
        tasks = tuple(decode_typed(TaskSpec, t) for t in data["tasks"])
        return Plan(
            name=str(data["name"]),
            title=str(data.get("title", "")),
            tasks=tasks,
            source=str(data.get("source", "")),
            context=str(data.get("context", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        why = f"it has no {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
        raise cmd.BadRequest(f"not a plan: {why}", hint=PLAN_HINT) from None


PLAN_HINT = (
    'send the plan itself, e.g. {"name": "tiny", "tasks": [{"id": "one", "title": "Add one", '
    '"description": "…", "depends_on": []}]}; `plait run PLAN -p PROJECT` sends a plan file'
)


# ---- serving ----------------------------------------------------------------------------
class TokenGate:
    """Loopback HTTP: every request must carry the token (header, or the cookie that a
    first `?token=` visit sets). The token in a URL is moved to a cookie at once."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        name = cookie_name(scope)
        cookie = request.cookies.get(name, "")
        if bearer and hmac.compare_digest(bearer, self.token):
            await self.app(scope, receive, send)
            return
        if cookie and hmac.compare_digest(cookie, self.token):
            # A browser sends the cookie on any request to this origin, even one another
            # site makes it send: a command must also carry a header no form can set.
            if request.method in ("GET", "HEAD") or request.headers.get("x-plait") == "1":
                await self.app(scope, receive, send)
                return
            refused = JSONResponse(
                {"error": "a command needs the X-Plait: 1 header", "hint": "use the dashboard"},
                status_code=403,
            )
            await refused(scope, receive, send)
            return
        in_url = request.query_params.get("token", "")
        if in_url and hmac.compare_digest(in_url, self.token):
            query = urlencode([kv for kv in request.query_params.multi_items() if kv[0] != "token"])
            # One leading slash: "//host" would send the browser to another site.
            target = "/" + request.url.path.lstrip("/") + (f"?{query}" if query else "")
            response: Response = Response(status_code=303, headers={"location": target})
            response.set_cookie(name, self.token, httponly=True, samesite="strict", path="/")
            await response(scope, receive, send)
            return
        await _denied(request)(scope, receive, send)


def cookie_name(scope: Scope) -> str:
    """The token's cookie, one per port: a browser sends a cookie of 127.0.0.1 to every
    port, so two projects' dashboards open at once must not overwrite each other's."""
    server = scope.get("server") or ("", 0)
    return f"plait_token_{server[1]}"


def _denied(request: Request) -> Response:
    hint = "use the URL `plait web` printed"
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": "missing or wrong token", "hint": hint}, status_code=401)
    page = (
        "<!doctype html><meta charset=utf-8><title>plait: token needed</title>"
        "<p>This plait dashboard needs its token: open the URL that <code>plait web</code> "
        "printed (run it again to see it).</p>"
    )
    return HTMLResponse(page, status_code=401)


class _Server(uvicorn.Server):
    """uvicorn inside the engine's loop: the engine, not uvicorn, owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _config(app: ASGIApp, **where: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        ws="none",
        **where,
    )


def unix_listener(path: str) -> socket.socket:
    """A listening Unix socket at `path`, mode 0600 from the start: only its owner (and
    only through the 0700 project folder) may talk to the engine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


def loopback_listener(port: int) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (port 0: a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise cmd.CommandError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror}",
            hint="pick another port, or 0 for any free one",
        ) from None
    sock.listen(128)
    return sock


class _Listeners:
    """The API's servers, one per listening socket: the Unix socket's from the start, the
    loopback one from the start or once `POST /api/http` asks for it."""

    def __init__(self, ctx: ApiContext, hub: EventHub) -> None:
        self.ctx = ctx
        self.hub = hub
        self.running: list[tuple[_Server, socket.socket, asyncio.Task[None]]] = []

    def add(self, sock: socket.socket, *, local: bool) -> None:
        app: ASGIApp = make_app(self.ctx, self.hub, local=local)
        if not local:
            app = TokenGate(app, self.ctx.token)
        server = _Server(_config(app))
        # Not a child of the caller: when the engine stops, uvicorn is asked to exit and
        # closes its connections itself, rather than being cut off mid-response.
        task = asyncio.create_task(server.serve(sockets=[sock]))
        self.running.append((server, sock, task))

    def open_http(self, port: int) -> str:
        ctx = self.ctx
        if ctx.http is not None:
            return ctx.http
        if not ctx.token:
            if ctx.make_token is None:
                raise cmd.CommandError("this engine has no token for a loopback listener")
            ctx.token = ctx.make_token()
        sock = loopback_listener(port)
        self.add(sock, local=False)
        ctx.http = f"http://127.0.0.1:{sock.getsockname()[1]}"
        if ctx.on_http is not None:
            ctx.on_http(ctx.http)
        return ctx.http

    async def close(self) -> None:
        self.hub.close()
        for server, _, _ in self.running:
            server.should_exit = True
        tasks = [task for _, _, task in self.running]
        if tasks:
            await asyncio.wait(tasks, timeout=3.0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _, sock, _ in self.running:
            sock.close()


async def serve_api(
    ctx: ApiContext,
    hub: EventHub,
    *,
    unix: socket.socket,
    http: socket.socket | None = None,
) -> None:
    """Serve on the given listeners until cancelled (the engine stopping)."""
    listeners = _Listeners(ctx, hub)
    listeners.add(unix, local=True)
    if http is not None:
        listeners.add(http, local=False)
        ctx.http = f"http://127.0.0.1:{http.getsockname()[1]}"
    ctx.open_http = listeners.open_http
    try:
        # Until the engine stops and cancels this service (or the socket's server ends).
        await asyncio.shield(listeners.running[0][2])
    finally:
        ctx.open_http = None
        await listeners.close()
