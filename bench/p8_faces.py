"""P8 API and faces at scale: what a face's requests cost with 100 vs 10,000 tasks.

A project of N tasks (one plan, chains of ten, eight under way) is stored in SQLite and
served by the real API app (`plait.api.server.make_app`) over a real `Engine`, requests
going through httpx's in-process ASGI transport: routing, the views, JSON encoding and
the store's reads, without a socket's noise. Per size, the median time of a task-list
page (`?limit=50&after=<id>`), a task's detail, a 500-line transcript page (the task has
5,000 lines) and the whole list (`/api/tasks` unpaged: what the dashboard's refresh
asks for today). The goals compare 10,000 with 100 tasks measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

import httpx

from bench.common import Figure, Report, median
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

TITLE = "API and faces at scale"
GOAL = 3.0
TRANSCRIPT_LINES = 5_000


def _specs(n: int) -> tuple[TaskSpec, ...]:
    return tuple(
        TaskSpec(
            id=f"t{i}",
            title=f"change module {i}",
            depends_on=(f"t{i - 1}",) if i % 10 else (),
        )
        for i in range(n)
    )


def _store(path: Path, n: int) -> Store:
    store = Store(path)
    config = RunConfig(project="bench", repo="/sim/repo", max_concurrency=8)
    event = ev.RunStarted(at=1000.0, config=config, tasks=_specs(n))
    decision = decide(None, event)
    store.commit(event, None, decision.state, decision.effects)
    body = json.dumps({"type": "assistant", "text": "edited src/mod.py and ran the tests " * 3})
    for i in range(TRANSCRIPT_LINES):
        store.add_transcript("t0", "t0/2/agent", 1000.0 + i, "Text", body)
    return store


Timing = Callable[[str], Awaitable[tuple[float, int]]]


async def _measure(n: int, tmp: Path, rounds: int) -> dict[str, tuple[float, int]]:
    store = _store(tmp / f"plait-{n}.db", n)
    engine = Engine(
        store=store,
        forge=cast(Forge, StillForge()),
        executors=cast(Executor, IdleExecutor()),
        poll_interval=3600.0,
    )
    ctx = ApiContext(engine=engine, project="bench", mode="foreground")
    app = make_app(ctx, EventHub())
    transport = httpx.ASGITransport(app=app)
    middle = f"t{n // 2}"
    paths = {
        "list page": f"/api/tasks?limit=50&after={middle}",
        "detail": f"/api/tasks/{middle}",
        "transcript page": f"/api/tasks/t0/transcript?after={TRANSCRIPT_LINES // 2}&limit=500",
        "whole list": "/api/tasks",
    }
    out: dict[str, tuple[float, int]] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for name, path in paths.items():
            times, size = [], 0
            await client.get(path)  # warm: the first request pays for imports and caches
            for _ in range(rounds if name != "whole list" else max(3, rounds // 10)):
                start = time.perf_counter()
                response = await client.get(path)
                times.append(time.perf_counter() - start)
                response.raise_for_status()
                size = len(response.content)
            out[name] = (median(times), size)
    store.close()
    return out


def run(quick: bool = False) -> Report:
    small, large = (100, 2_000) if quick else (100, 10_000)
    rounds = 10 if quick else 40
    report = Report(id="P8", title=TITLE, quick=quick)
    with tempfile.TemporaryDirectory(prefix="plait-bench-p8-") as tmp:
        at = {n: asyncio.run(_measure(n, Path(tmp), rounds)) for n in (small, large)}
    for name in ("list page", "detail", "transcript page"):
        (t_small, _), (t_large, size) = at[small][name], at[large][name]
        ratio = t_large / t_small
        report.add(
            Figure(
                name=f"{name}: cost at {large:,} / {small:,} tasks "
                f"({t_large * 1000:.2f} ms, {size:,} bytes)",
                value=ratio,
                unit="x",
                goal=f"<= {GOAL:g}",
                passed=ratio <= GOAL,
            )
        )
    (w_small, b_small), (w_large, b_large) = at[small]["whole list"], at[large]["whole list"]
    report.add(
        Figure(
            name=f"whole task list unpaged at {large:,} tasks ({b_large / 1e6:.1f} MB; "
            f"{b_small / 1e3:.0f} kB at {small})",
            value=w_large * 1000,
            unit="ms",
            goal="",
        )
    )
    report.add(
        Figure(
            name=f"whole list: cost at {large:,} / {small:,} tasks",
            value=w_large / w_small,
            unit="x",
            goal="",
        )
    )
    report.notes.append(
        "the list is paged (?limit=&after=, `next` cursor); the dashboard and TUI still "
        "ask for the whole list on a refresh"
    )
    return report
