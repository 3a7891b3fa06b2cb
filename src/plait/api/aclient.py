"""The local API for asyncio code (the TUI): the same calls as `plait.api.client`.

`open_async_api(project)` gives an `AsyncLiveAPI` (httpx.AsyncClient over the engine's
Unix socket) when the project's engine runs, else an `AsyncOfflineAPI` that answers from
the store the way `OfflineAPI` does (reads from the store, commands queued in the inbox).

Following a project live: open `events()` first, then load `timeline(last=N)`, and take
from the stream only messages whose `seq` is above the page's `next` — the stream and the
timeline number decisions alike, so nothing is missed or shown twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from plait.api.client import (
    OfflineAPI,
    answer,
    engine_address,
    no_answer,
    plan_to_wire,
    quote,
    timeline_params,
)
from plait.api.commands import CommandError
from plait.core.plan import Plan
from plait.engine.project import Project

Json = dict[str, Any]


class AsyncLiveAPI:
    live = True

    def __init__(self, name: str, socket: str, *, timeout: float = 30.0) -> None:
        self.name = name
        self.http = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=socket),
            base_url="http://plait",
            timeout=timeout,
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Json:
        try:
            reply = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise no_answer(self.name, exc) from None
        return answer(reply)

    async def project(self) -> Json:
        return await self._call("GET", "/api/project")

    async def workers(self) -> Json:
        """Where turns run and the workers (`views.workers_view`)."""
        return await self._call("GET", "/api/workers")

    async def tasks(self, *, status: str = "") -> list[Json]:
        params = {"status": status} if status else {}
        rows: list[Json] = (await self._call("GET", "/api/tasks", params=params))["tasks"]
        return rows

    async def task(self, ref: str) -> Json:
        return await self._call("GET", f"/api/tasks/{quote(ref)}")

    async def result(self, ref: str) -> Json:
        return await self._call("GET", f"/api/tasks/{quote(ref)}/result")

    async def transcript(self, ref: str, *, after: int = 0, limit: int = 500) -> Json:
        params = {"after": after, "limit": limit}
        return await self._call("GET", f"/api/tasks/{quote(ref)}/transcript", params=params)

    async def command(self, verb: str, ref: str, **body: Any) -> Json:
        return await self._call("POST", f"/api/tasks/{quote(ref)}/{verb}", json=body)

    async def add(self, fields: Json) -> Json:
        return await self._call("POST", "/api/tasks", json=fields)

    async def add_plan(self, plan: Plan) -> Json:
        return await self._call("POST", "/api/plans", json=plan_to_wire(plan))

    async def adopt(self, pr: int, *, merge: bool) -> Json:
        return await self._call("POST", "/api/adopt", json={"pr": pr, "merge": merge})

    async def settled(self, ids: list[str]) -> bool:
        reply = await self._call("GET", "/api/settled", params={"ids": ",".join(ids)})
        return bool(reply["settled"])

    async def shutdown(self) -> Json:
        return await self._call("POST", "/api/shutdown")

    async def timeline(
        self, *, after: int = 0, limit: int = 500, task: str = "", last: int = 0
    ) -> Json:
        params = timeline_params(after=after, limit=limit, task=task, last=last)
        return await self._call("GET", "/api/timeline", params=params)

    async def graph(self) -> Json:
        return await self._call("GET", "/api/graph")

    async def broadcast(self, text: str) -> Json:
        return await self._call("POST", "/api/broadcast", json={"text": text})

    async def events(self, *, opened: asyncio.Event | None = None) -> AsyncIterator[Json]:
        """The engine's event stream, one message at a time, until it closes (the engine
        stopped, or this reader fell too far behind: load again and follow anew).
        `opened` is set once the stream is open: load the timeline after that."""
        try:
            async with self.http.stream("GET", "/api/events", timeout=None) as reply:
                if opened is not None:
                    opened.set()
                async for line in reply.aiter_lines():
                    if line.startswith("data: "):
                        yield json.loads(line[6:])
        except httpx.HTTPError:
            return


class AsyncOfflineAPI:
    """A stopped project, answered from its store (see `OfflineAPI`)."""

    live = False

    def __init__(self, project: Project) -> None:
        self.name = project.name
        self.offline = OfflineAPI(project)

    async def close(self) -> None:
        self.offline.proj.close()

    async def project(self) -> Json:
        return self.offline.project()

    async def tasks(self, *, status: str = "") -> list[Json]:
        return self.offline.tasks(status=status)

    async def task(self, ref: str) -> Json:
        return self.offline.task(ref)

    async def result(self, ref: str) -> Json:
        return self.offline.result(ref)

    async def transcript(self, ref: str, *, after: int = 0, limit: int = 500) -> Json:
        return self.offline.transcript(ref, after=after, limit=limit)

    async def command(self, verb: str, ref: str, **body: Any) -> Json:
        return self.offline.command(verb, ref, **body)

    async def add(self, fields: Json) -> Json:
        return self.offline.add(fields)

    async def add_plan(self, plan: Plan) -> Json:
        return self.offline.add_plan(plan)

    async def adopt(self, pr: int, *, merge: bool) -> Json:
        raise CommandError(
            f"adopting PR #{pr} asks the forge, which only a running engine does",
            hint=f"start it with `plait up {self.name}`, or run `plait adopt {pr} -p {self.name}`",
        )

    async def settled(self, ids: list[str]) -> bool:
        return False

    async def timeline(
        self, *, after: int = 0, limit: int = 500, task: str = "", last: int = 0
    ) -> Json:
        return self.offline.timeline(after=after, limit=limit, task=task, last=last)

    async def graph(self) -> Json:
        return self.offline.graph()

    async def broadcast(self, text: str) -> Json:
        return self.offline.broadcast(text)

    async def events(self, *, opened: asyncio.Event | None = None) -> AsyncIterator[Json]:
        """No engine, no news: an empty stream."""
        nothing: tuple[Json, ...] = ()
        for message in nothing:
            yield message


AsyncAPI = AsyncLiveAPI | AsyncOfflineAPI


def open_async_api(project: Project, *, wait: float = 1.0) -> AsyncAPI:
    """The running engine's API, else the store's answers. An offline API keeps the
    project open (its store); a live one closes it. `wait`: how long an engine that has
    just started may take to say where it listens."""
    socket = engine_address(project, wait=wait)
    if socket is not None:
        project.close()
        return AsyncLiveAPI(project.name, socket)
    return AsyncOfflineAPI(project)
