"""P2's main figure: the engine's own throughput, batching what arrives together.

A 200-task run is first played by `plait.testing.core_driver.CoreDriver` (random DAG,
concurrency 8, some CI failure and review chaos) to get its event log. The log is then
handed to a real `plait.engine.loop.Engine` over a real SQLite store, every event
submitted at once (they "arrive together"): the engine decides them, narrates them (the
timeline lines the faces show), commits them in batches with `Store.commit_many` and
only then dispatches the decided effects. The figure is events over the wall time until
the last one is committed. The effects are dispatched to an executor that never answers
(the log already holds their results) and the forge's poll sees no change, so the
figure is the engine's own cost: decide + narrate + commit + dispatch.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from plait.core import events as ev
from plait.engine.executor import Executor
from plait.engine.loop import Engine
from plait.forges.base import Forge
from plait.store import Store
from plait.store.sqlite import Decided
from plait.testing.idle_engine import IdleExecutor, StillForge
from plait.ui.headless import timeline_lines


class _Counting(Store):
    """A store that remembers how many events each transaction committed."""

    batches: list[int]

    def commit_many(self, steps: Sequence[Decided]) -> list[int]:
        self.batches.append(len(steps))
        return super().commit_many(steps)


async def _replay(engine: Engine, log: list[ev.Event]) -> tuple[float, float]:
    running = asyncio.ensure_future(engine.run(until=None))
    committed = asyncio.Event()
    last = engine.seq + len(log)
    engine.watch(lambda *_: committed.set() if engine.seq >= last else None)
    await asyncio.sleep(0)  # the engine is waiting for events
    start, cpu = time.perf_counter(), time.process_time()
    for event in log:
        engine.post(event)
    await committed.wait()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.stop()
    await running
    return seconds, cpu


def engine_rate(log: list[ev.Event]) -> tuple[float, float, list[int]]:
    """Events per second through the engine's loop (wall time, and CPU time of this
    process: what other processes on a shared machine take from it), and the sizes of
    its transactions."""
    with tempfile.TemporaryDirectory(prefix="plait-bench-p2e-") as tmp:
        store = _Counting(Path(tmp) / "plait.db")
        store.batches = []
        engine = Engine(
            store=store,
            forge=cast(Forge, StillForge()),
            executors=cast(Executor, IdleExecutor()),
            poll_interval=3600.0,
            narrator=timeline_lines,
        )
        seconds, cpu = asyncio.run(_replay(engine, log))
        store.close()
    return len(log) / seconds, len(log) / max(cpu, 1e-9), store.batches
