"""P2's main figure: the engine's own throughput in a closed loop.

A real `plait.engine.loop.Engine` over a real SQLite store runs a 200-task plan (random
DAG, concurrency 8) from its start to its end. Every effect it dispatches is answered
at once by a benchmark double (`plait.testing.instant_world`: worktrees made, turns
finish with a commit, pushes land, PRs open, merges land; on each poll the CI of new heads
finishes, red one time in ten, and one green PR in ten gets a review thread), so nothing
waits for an agent, git or a forge: the engine takes the results that arrived together,
decides them (the scheduler once per batch), narrates them (the timeline lines the faces
show), commits them with `Store.commit_many` and only then dispatches the decided
effects, whose results make its next batch. The figure is the events committed over the
wall time of the whole run (and over the CPU time of this process, which other
processes on a shared machine do not take).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, cast

from plait.core import events as ev
from plait.core.model import Phase, RunConfig
from plait.core.plan import TaskSpec
from plait.engine.executor import Executor
from plait.engine.loop import Engine
from plait.forges.base import Forge
from plait.store import Store
from plait.store.sqlite import Decided
from plait.testing.instant_world import InstantWorld
from plait.ui.headless import timeline_lines


class _Counting(Store):
    """A store that remembers how many events each transaction committed (and, with
    `kept`, the batches themselves: `bench.p2_commit`)."""

    batches: list[int]
    kept: list[list[Decided]] | None = None

    def commit_many(self, steps: Sequence[Decided]) -> list[int]:
        self.batches.append(len(steps))
        if self.kept is not None:
            self.kept.append(list(steps))
        return super().commit_many(steps)


class ClosedLoop(NamedTuple):
    events: int  # events committed over the run
    seconds: float  # wall time from the run's start to its end
    cpu: float  # CPU time of this process meanwhile
    batches: list[int]  # events per transaction
    deferred: int  # events whose scheduling waited for the end of their batch
    merged: int  # tasks merged at the end
    tasks: int
    answered: int  # effects the double answered


async def _closed(engine: Engine, start: ev.RunStarted) -> tuple[float, float]:
    begin, cpu = time.perf_counter(), time.process_time()
    await engine.start(start)
    return time.perf_counter() - begin, time.process_time() - cpu


def closed_loop(
    specs: Sequence[TaskSpec],
    config: RunConfig,
    *,
    seed: int,
    ci_fail: float,
    review: float,
    keep: list[list[Decided]] | None = None,
) -> ClosedLoop:
    """Run the plan to its end on a real engine and store, every effect answered at once
    by the benchmark double (each batch committed appended to `keep`, if given)."""
    world = InstantWorld(seed=seed, ci_fail=ci_fail, review=review)
    with tempfile.TemporaryDirectory(prefix="plait-bench-p2c-") as tmp:
        store = _Counting(Path(tmp) / "plait.db")
        store.batches = []
        store.kept = keep
        engine = Engine(
            store=store,
            forge=cast(Forge, world.forge()),
            executors=cast(Executor, world.executor()),
            narrator=timeline_lines,
        )
        start = ev.RunStarted(at=time.time(), config=config, tasks=tuple(specs))
        seconds, cpu = asyncio.run(_closed(engine, start))
        events = store.last_seq()
        row = store.db.execute("SELECT COUNT(*) FROM events WHERE deferred = 1").fetchone()
        state = engine.state
        store.close()
    assert state is not None
    merged = sum(t.phase is Phase.MERGED for t in state.tasks.values())
    return ClosedLoop(
        events=events,
        seconds=seconds,
        cpu=cpu,
        batches=store.batches,
        deferred=int(row[0]),
        merged=merged,
        tasks=len(state.tasks),
        answered=world.answered,
    )
