"""The task list in pages: `?limit=&after=` with a `next` cursor, over the real API app
and a real engine and store (in-process ASGI, no socket)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import httpx

from plait.api.server import ApiContext, EventHub, make_app
from plait.core import events as ev
from plait.core.controller import decide
from plait.core.model import RunConfig
from plait.core.plan import TaskSpec
from plait.engine.executor import Executor
from plait.engine.loop import Engine
from plait.forges.base import Forge
from plait.store import Store
from plait.testing.idle_engine import IdleExecutor, StillForge


def _pages(tmp: Path, *queries: str) -> list[dict[str, Any]]:
    store = Store(tmp / "plait.db")
    specs = tuple(TaskSpec(id=f"t{i}", title=f"task {i}") for i in range(7))
    config = RunConfig(project="p", repo="/r", max_concurrency=2)
    event = ev.RunStarted(at=1.0, config=config, tasks=specs)
    decision = decide(None, event)
    store.commit(event, None, decision.state, decision.effects)
    engine = Engine(
        store=store, forge=cast(Forge, StillForge()), executors=cast(Executor, IdleExecutor())
    )
    app = make_app(ApiContext(engine=engine, project="p", mode="foreground"), EventHub())

    async def get_all() -> list[dict[str, Any]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return [(await client.get(f"/api/tasks{q}")).json() for q in queries]

    try:
        return asyncio.run(get_all())
    finally:
        store.close()


def _ids(page: dict[str, Any]) -> list[str]:
    return [row["id"] for row in page["tasks"]]


def test_pages_follow_the_cursor_to_the_end(tmp_path: Path) -> None:
    first, second, last, whole = _pages(
        tmp_path, "?limit=3", "?limit=3&after=t2", "?limit=3&after=t5", ""
    )
    assert (_ids(first), first["next"], first["total"]) == (["t0", "t1", "t2"], "t2", 7)
    assert (_ids(second), second["next"]) == (["t3", "t4", "t5"], "t5")
    assert (_ids(last), last["next"]) == (["t6"], None)
    assert (_ids(whole), whole["next"]) == ([f"t{i}" for i in range(7)], None)


def test_a_filtered_page_and_a_bad_cursor(tmp_path: Path) -> None:
    waiting, after, bad = _pages(
        tmp_path, "?status=waiting&limit=2", "?status=waiting&after=t0", "?after=nope"
    )
    assert _ids(waiting) == ["t2", "t3"]  # t0 and t1 took the two slots
    assert waiting["total"] == 5
    assert _ids(after) == ["t2", "t3", "t4", "t5", "t6"]  # t0 is not waiting: still a cursor
    assert "no task 'nope'" in bad["error"]
