"""How the CLI (and the TUI) talk to a project: its running engine, or its store.

`open_api(project)` gives a `LiveAPI` when the project's engine runs (HTTP over the Unix
socket it serves, `plait.api.unix_http`) and an `OfflineAPI` otherwise. Both answer the
same calls with the same JSON. Offline, reads come from the store, and a command is
checked against the state as the queued commands will leave it, then recorded in the
project's inbox: it applies when an engine runs, and the answer says so — no engine is
started behind the user's back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar
from urllib.parse import quote as urlquote

from plait.api import commands as cmd
from plait.api.missions import add_mission, add_team
from plait.api.spending import budget_view, set_budget
from plait.api.swarm_view import PROBLEMS_META, reported_problems, swarm_status
from plait.api.transcript import transcript_page
from plait.api.views import (
    dependency_graph,
    indexed,
    project_summary,
    task_detail,
    task_result,
    task_row,
)
from plait.core import codec
from plait.core.controller import decide
from plait.core.model import RunState
from plait.core.plan import Plan
from plait.core.progress import tasks_settled
from plait.engine.project import Project, engine_running
from plait.errors import ProjectError

Json = dict[str, Any]
_T = TypeVar("_T")


class ProjectAPI(Protocol):
    live: bool

    def project(self) -> Json: ...

    def tasks(self, *, status: str = "") -> list[Json]: ...

    def task(self, ref: str) -> Json: ...

    def result(self, ref: str) -> Json: ...

    def transcript(self, ref: str, *, after: int = 0, limit: int = 500) -> Json: ...

    def settled(self, ids: list[str]) -> bool: ...

    def command(self, verb: str, ref: str, **body: Any) -> Json: ...

    def add(self, fields: Json) -> Json: ...

    def add_plan(self, plan: Plan) -> Json: ...

    def timeline(
        self, *, after: int = 0, limit: int = 500, task: str = "", last: int = 0
    ) -> Json: ...

    def graph(self) -> Json: ...

    def broadcast(self, text: str) -> Json: ...

    def add_mission(self, fields: Json) -> Json: ...

    def add_team(self, blueprint: Json) -> Json: ...

    def budget(self, task: str | None = None) -> Json: ...

    def set_budget(
        self, task: str | None, *, tokens: int | None, dollars: float | None
    ) -> Json: ...

    def swarm(self, *, last: int = 50) -> Json: ...

    def close(self) -> None: ...


def timeline_params(*, after: int, limit: int, task: str, last: int) -> dict[str, str | int]:
    """The query of `GET /api/timeline` (shared by the clients)."""
    params: dict[str, str | int] = {"after": after, "limit": limit}
    if task:
        params["task"] = task
    if last:
        params["last"] = last
    return params


def plan_to_wire(plan: Plan) -> Json:
    return {
        "name": plan.name,
        "title": plan.title,
        "source": plan.source,
        "context": plan.context,
        "tasks": [codec.encode(t) for t in plan.tasks],
    }


def engine_address(project: Project, *, wait: float = 5.0) -> str | None:
    """The socket of the project's running engine, or None when none runs. An engine
    that has just started may not have written its address yet: wait a little."""
    deadline = time.monotonic() + wait
    while True:
        if not engine_running(project):
            return None
        try:
            info = json.loads(project.paths.engine_info.read_text())
            return str(info["socket"])
        except (OSError, ValueError, KeyError, TypeError):
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)


def open_api(project: Project) -> ProjectAPI:
    socket = engine_address(project)
    if socket is not None:
        return LiveAPI(project.name, socket)
    return OfflineAPI(project)


GONE_WAIT = 15.0  # seconds an engine that stopped answering may take to exit


class Following:
    """The API a follower (`plait run` handing its plan to a running engine, `logs -f`,
    `wait`) reads through: the engine's while it runs, then the project's store once that
    engine has ended — a foreground `plait run` exits when its tasks settle, and its
    followers finish with what the store says instead of failing."""

    def __init__(self, project: Project, api: ProjectAPI) -> None:
        self.project = project
        self.api = api

    def call(self, read: Callable[[ProjectAPI], _T]) -> _T:
        deadline = time.monotonic() + GONE_WAIT
        while True:
            try:
                return read(self.api)
            except NoAnswer:
                if not self.api.live:
                    raise
                if not engine_running(self.project):
                    break
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)  # shutting down: its lock goes when it has
        self.api.close()
        self.api = OfflineAPI(self.project)
        return read(self.api)


# ---- through the engine ---------------------------------------------------------------------
class LiveAPI:
    live = True

    def __init__(self, name: str, socket: str, *, timeout: float = 30.0) -> None:
        # Here, not at the top: http.client (and the email package under it) is for a
        # running engine only, and an offline `plait ps` pays every import at its start.
        from plait.api.unix_http import UnixHTTP

        self.name = name
        self.http = UnixHTTP(socket, timeout=timeout)

    def close(self) -> None:
        pass  # a connection lasts one request

    def _call(self, method: str, path: str, **kwargs: Any) -> Json:
        from plait.api.unix_http import FAILED

        try:
            reply = self.http.request(method, path, **kwargs)
        except FAILED as exc:
            raise no_answer(self.name, exc) from None
        return answer(reply)

    def project(self) -> Json:
        return self._call("GET", "/api/project")

    def swarm(self, *, last: int = 50) -> Json:
        return self._call("GET", "/api/swarm", params={"last": last})

    def tasks(self, *, status: str = "") -> list[Json]:
        params = {"status": status} if status else {}
        rows: list[Json] = self._call("GET", "/api/tasks", params=params)["tasks"]
        return rows

    def task(self, ref: str) -> Json:
        return self._call("GET", f"/api/tasks/{quote(ref)}")

    def result(self, ref: str) -> Json:
        return self._call("GET", f"/api/tasks/{quote(ref)}/result")

    def transcript(self, ref: str, *, after: int = 0, limit: int = 500) -> Json:
        params = {"after": after, "limit": limit}
        return self._call("GET", f"/api/tasks/{quote(ref)}/transcript", params=params)

    def command(self, verb: str, ref: str, **body: Any) -> Json:
        return self._call("POST", f"/api/tasks/{quote(ref)}/{verb}", json=body)

    def add(self, fields: Json) -> Json:
        return self._call("POST", "/api/tasks", json=fields)

    def add_plan(self, plan: Plan) -> Json:
        return self._call("POST", "/api/plans", json=plan_to_wire(plan))

    def add_mission(self, fields: Json) -> Json:
        return self._call("POST", "/api/missions", json=fields)

    def add_team(self, blueprint: Json) -> Json:
        return self._call("POST", "/api/teams", json=blueprint)

    def adopt(self, pr: int, *, merge: bool) -> Json:
        return self._call("POST", "/api/adopt", json={"pr": pr, "merge": merge})

    def timeline(self, *, after: int = 0, limit: int = 500, task: str = "", last: int = 0) -> Json:
        params = timeline_params(after=after, limit=limit, task=task, last=last)
        return self._call("GET", "/api/timeline", params=params)

    def graph(self) -> Json:
        return self._call("GET", "/api/graph")

    def broadcast(self, text: str) -> Json:
        return self._call("POST", "/api/broadcast", json={"text": text})

    def budget(self, task: str | None = None) -> Json:
        return self._call("GET", "/api/budget", params={"task": task} if task else {})

    def set_budget(self, task: str | None, *, tokens: int | None, dollars: float | None) -> Json:
        body = {"task": task, "tokens": tokens, "dollars": dollars}
        return self._call("POST", "/api/budget", json=body)

    def settled(self, ids: list[str]) -> bool:
        """Have these tasks landed or come to need a person (or wait on one that does)?"""
        return bool(self._call("GET", "/api/settled", params={"ids": ",".join(ids)})["settled"])

    def shutdown(self) -> Json:
        return self._call("POST", "/api/shutdown")

    def open_http(self, port: int = 0) -> Json:
        """Have the engine serve the API and the dashboard on 127.0.0.1 too (if it does
        not yet): `{"http": URL, "opened": bool}`."""
        return self._call("POST", "/api/http", json={"port": port})

    def workers(self) -> Json:
        """Where the engine runs agent turns, and its workers (see `views.workers_view`)."""
        return self._call("GET", "/api/workers")

    def events(self) -> Iterator[Json]:
        """The engine's event stream, one message at a time, until it closes."""
        from plait.api.unix_http import FAILED

        try:
            for line in self.http.lines("/api/events"):
                if line.startswith("data: "):
                    yield json.loads(line[6:])
        except FAILED:
            return


class Reply(Protocol):
    """What `answer` reads of a reply: `unix_http.Reply`, or httpx's (`aclient`)."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


class NoAnswer(ProjectError):
    """The engine did not answer (it ended, or never listened)."""


def no_answer(name: str, exc: Exception) -> ProjectError:
    return NoAnswer(
        f"the engine of {name} did not answer: {exc}",
        hint=f"see `plait projects`; restart it with `plait down {name}; plait up {name}`",
    )


def answer(reply: Reply) -> Json:
    """The JSON of an API reply, or the command error it carries."""
    try:
        data: Json = reply.json() if reply.content else {}
    except ValueError:  # not our JSON: an engine of an older plait, say
        data = {"error": f"{reply.status_code} {reply.text.strip()[:200]}"}
    if reply.status_code >= 400:
        error = cmd.TaskNotFound if reply.status_code == 404 else cmd.CommandError
        raise error(str(data.get("error", reply.text)), hint=str(data.get("hint", "")))
    return data


def quote(ref: str) -> str:
    """A task reference as one path segment."""
    return urlquote(ref, safe="")


# ---- straight from the store ---------------------------------------------------------------
def _agents() -> tuple[str, ...]:
    """The agents an engine accepts (`plait.engine.host`). Imported here, by the commands
    that check an agent's name: the backends' modules cost every other command's start."""
    from plait.agents.registry import BACKENDS

    return tuple(BACKENDS)


class OfflineAPI:
    live = False

    def __init__(self, project: Project) -> None:
        self.proj = project
        self.store = project.store

    def close(self) -> None:
        pass

    def _state(self) -> RunState:
        state = self.store.load()
        if state is None:
            raise ProjectError(
                f"project {self.proj.name!r} has not started",
                hint=f"add work with `plait run PLAN --project {self.proj.name}`",
            )
        return state

    def _projected(self) -> RunState:
        """The state as the commands queued in the inbox will leave it: a second command
        is checked against the first (two `plait add` never pick the same id)."""
        state = self._state()
        for _, event in self.store.inbox():
            state = decide(state, event).state
        return state

    def project(self) -> Json:
        return {**project_summary(self._state(), engine=False), "mode": "stopped"}

    def swarm(self, *, last: int = 50) -> Json:
        problems = reported_problems(self.store.get_meta(PROBLEMS_META))
        return swarm_status(self._state(), problems=problems, last=last)

    def _queued(self) -> tuple[RunState, frozenset[str]]:
        """The projected state, and the tasks only queued commands have added."""
        stored = self._state()
        projected = self._projected()
        return projected, frozenset(projected.tasks) - frozenset(stored.tasks)

    def tasks(self, *, status: str = "") -> list[Json]:
        state, queued = self._queued()
        state = indexed(state)
        wanted = set(filter(None, status.split(",")))
        rows = [_offline_row(state, t, queued) for t in state.order]
        return [r for r in rows if not wanted or r["status"] in wanted]

    def settled(self, ids: list[str]) -> bool:
        """Have these tasks landed or come to need a person (or wait on one that does)?"""
        return tasks_settled(self._state(), ids)

    def task(self, ref: str) -> Json:
        state, queued = self._queued()
        tid = cmd.resolve_task(state, ref)
        detail = task_detail(state, state.tasks[tid])
        return {**detail, "status": "queued"} if tid in queued else detail

    def result(self, ref: str) -> Json:
        state, queued = self._queued()
        tid = cmd.resolve_task(state, ref)
        result = task_result(state, state.tasks[tid])
        return {**result, "status": "queued"} if tid in queued else result

    def transcript(self, ref: str, *, after: int = 0, limit: int = 500) -> Json:
        tid = cmd.resolve_task(self._projected(), ref)
        return transcript_page(self.store, tid, after=after, limit=limit)

    def _queue(self, command: cmd.Command) -> Json:
        self.store.post(command.event)
        name = self.proj.name
        reply: Json = {
            "ok": True,
            "queued": True,
            "message": f"{command.done} — queued; it applies when the engine runs "
            f"(`plait up {name}` or `plait resume {name}`)",
        }
        if command.task:
            reply["task"] = command.task
        if command.tasks:
            reply["tasks"] = [{"id": t} for t in command.tasks]
        return reply

    def command(self, verb: str, ref: str, **body: Any) -> Json:
        state, now = self._projected(), time.time()
        if verb == "kill":
            reason, cascade = str(body.get("reason") or ""), bool(body.get("cascade"))
            return self._queue(cmd.kill(state, ref, now=now, reason=reason, cascade=cascade))
        if verb == "retry":
            return self._queue(cmd.retry(state, ref, now=now, cascade=bool(body.get("cascade"))))
        if verb == "reset":
            return self._queue(cmd.reset(state, ref, now=now, hard=bool(body.get("hard"))))
        if verb == "send":
            return self._queue(cmd.send(state, ref, str(body.get("text") or ""), now=now))
        raise cmd.TaskNotFound(f"no command {verb!r}", hint="kill, retry, reset or send")

    def add(self, fields: Json) -> Json:
        # Checked as the engine checks it: a queued task for an unknown agent would only
        # fail its turns once an engine ran.
        command = cmd.add_task(self._projected(), fields, now=time.time(), agents=_agents())
        return self._queue(command)

    def add_plan(self, plan: Plan) -> Json:
        return self._queue(cmd.add_plan(self._projected(), plan, now=time.time()))

    def timeline(self, *, after: int = 0, limit: int = 500, task: str = "", last: int = 0) -> Json:
        tid = cmd.resolve_task(self._state(), task) if task else None
        return self.store.timeline(after=after, limit=limit, task=tid, last=last or None)

    def graph(self) -> Json:
        return dependency_graph(self._projected())

    def broadcast(self, text: str) -> Json:
        cast = cmd.broadcast(self._projected(), text, now=time.time())
        for command in cast.commands:
            self.store.post(command.event)
        return {
            "ok": True,
            "queued": True,
            "message": f"{cast.done()} — queued; it applies when the engine runs "
            f"(`plait up {self.proj.name}` or `plait resume {self.proj.name}`)",
            "tasks": [{"id": t} for t in cast.tasks],
            "skipped": cast.skipped_json(),
        }

    def add_mission(self, fields: Json) -> Json:
        return self._queue(
            add_mission(self._projected(), fields, now=time.time(), agents=_agents())
        )

    def add_team(self, blueprint: Json) -> Json:
        return self._queue(
            add_team(self._projected(), blueprint, now=time.time(), agents=_agents())
        )

    def budget(self, task: str | None = None) -> Json:
        state = indexed(self._projected())
        return budget_view(state, {}, cmd.resolve_task(state, task) if task else None)

    def set_budget(self, task: str | None, *, tokens: int | None, dollars: float | None) -> Json:
        state = indexed(self._projected())
        command = set_budget(state, task, tokens=tokens, dollars=dollars, now=time.time())
        return self._queue(command)


def _offline_row(state: RunState, tid: str, queued: frozenset[str]) -> Json:
    row = task_row(state, state.tasks[tid])
    return {**row, "status": "queued"} if tid in queued else row
