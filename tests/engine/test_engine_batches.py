"""The engine decides what arrives together as one batch, scheduling once after its last
event (P2 in bench/README.md). A real engine over a real store runs whole plans with
every effect answered at once (`plait.testing.instant_world`, the P2 benchmark double),
so results do arrive together:

- every effect is in the store's outbox, committed, before it runs;
- the store marks the events whose scheduling was deferred, and a replay of the log
  reaches the engine's own state;
- the log keeps the caps: never more agent turns under way than `max_concurrency`, never
  two actions of one task at once, and every task merged once;
- a command whose sender waits (`Engine.submit`) gets the decision with its effects even
  when more events came after it in the same batch.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import decide
from plait.core.model import Phase, RunConfig, RunState
from plait.core.plan import TaskSpec
from plait.engine.executor import Executor
from plait.engine.loop import Engine
from plait.forges.base import Forge
from plait.store import Store, replay
from plait.testing.idle_engine import IdleExecutor, StillForge
from plait.testing.instant_world import InstantExecutor, InstantWorld


def _plan(n: int, seed: int) -> tuple[TaskSpec, ...]:
    rng = random.Random(seed)
    specs = []
    for i in range(n):
        deps = sorted({f"t{rng.randrange(i)}" for _ in range(rng.randint(0, 2))}) if i else []
        specs.append(TaskSpec(id=f"t{i}", title=f"task {i}", depends_on=tuple(deps)))
    return tuple(specs)


class _Checking(InstantExecutor):
    """Answers at once, after checking in the store (another connection: what a crash
    would leave) that the effect's outbox row is committed and pending."""

    def __init__(self, world: InstantWorld, path: Path) -> None:
        super().__init__(world)
        self.reader = sqlite3.connect(path)
        self.uncommitted: list[str] = []

    async def run(self, effect: fx.Effect) -> ev.Event:
        row = self.reader.execute("SELECT status FROM outbox WHERE id = ?", (effect.id,)).fetchone()
        if row is None or row[0] != "pending":
            self.uncommitted.append(effect.id)
        return await super().run(effect)


@pytest.mark.parametrize(("tasks", "cap", "seed"), [(40, 4, 1), (30, 8, 2), (25, 2, 3)])
def test_a_whole_run_in_batches_keeps_the_outbox_and_the_caps_and_replays(
    tmp_path: Path, tasks: int, cap: int, seed: int
) -> None:
    path = tmp_path / "plait.db"
    store = Store(path)
    world = InstantWorld(seed=seed, ci_fail=0.2, review=0.2)
    executor = _Checking(world, path)
    engine = Engine(
        store=store, forge=cast(Forge, world.forge()), executors=cast(Executor, executor)
    )
    config = RunConfig(project="b", repo="/sim", max_concurrency=cap)
    result = asyncio.run(
        engine.start(ev.RunStarted(at=1.0, config=config, tasks=_plan(tasks, seed)))
    )
    try:
        assert not result.stopped
        assert all(t.phase is Phase.MERGED for t in result.state.tasks.values())
        assert all(pr.merges == 1 for pr in world.world.prs.values())
        assert executor.uncommitted == []
        # Results arrived together: most events had their scheduling deferred.
        marks = Counter(r[0] for r in store.db.execute("SELECT deferred FROM events"))
        assert marks[1] > marks[0] > 0
        assert replay(store) == store.load() == result.state
        _caps_held(store, cap)
    finally:
        executor.reader.close()
        store.close()


def _caps_held(store: Store, cap: int) -> None:
    """From the outbox: each effect was under way from the event that decided it to the
    one that answered it. At no event were more than `cap` agent turns under way, nor
    two actions of one task."""
    rows = store.db.execute("SELECT task, type, created_seq, done_seq FROM outbox").fetchall()
    assert all(done is not None for *_, done in rows)
    last = store.last_seq()
    for seq in range(1, last + 1):
        under_way = [(task, kind) for task, kind, made, done in rows if made <= seq < done]
        turns = sum(kind in ("RunAgent", "PrepareWorkspace") for _, kind in under_way)
        assert turns <= cap, (seq, under_way)
        per_task = Counter(task for task, kind in under_way if kind != "Notify")
        assert max(per_task.values(), default=0) <= 1, (seq, per_task)


def test_a_submitted_command_in_the_middle_of_a_batch_gets_its_effects(tmp_path: Path) -> None:
    store = Store(tmp_path / "plait.db")
    engine = Engine(
        store=store, forge=cast(Forge, StillForge()), executors=cast(Executor, IdleExecutor())
    )
    config = RunConfig(project="b", repo="/sim", max_concurrency=1)
    specs = (TaskSpec(id="a", title="a"), TaskSpec(id="b", title="b"))
    # With one slot, only `a` starts; a second slot lets `b` start, which only the
    # scheduler says: the answer must carry that start.
    command = ev.ConfigChanged(at=2.0, config=replace(config, max_concurrency=2))

    async def go() -> tuple[RunState, tuple[fx.Effect, ...]]:
        running = asyncio.ensure_future(
            engine.run([ev.RunStarted(at=1.0, config=config, tasks=specs)], until=None)
        )
        while engine.state is None:
            await asyncio.sleep(0)
        engine.post(ev.Tick(at=2.0))
        answer = asyncio.ensure_future(engine.submit(command))
        await asyncio.sleep(0)  # the command is queued behind the first tick
        engine.post(ev.Tick(at=2.0))
        decision = await answer
        await asyncio.sleep(0.05)
        engine.stop()
        await running
        return decision.state, decision.effects

    try:
        state, effects = asyncio.run(go())
        log = list(store.decided_events())
        kinds = [(type(e).__name__, scheduled) for _, e, scheduled in log]
        # RunStarted, then the batch: a tick (deferred), the command (scheduled: its
        # sender waits), the second tick (the batch's last).
        assert kinds[-3:] == [("Tick", False), ("ConfigChanged", True), ("Tick", True)]
        before = replay_until(store, len(log) - 2)
        expected = decide(before, command)
        assert (state, effects) == (expected.state, expected.effects)
        assert [type(e).__name__ for e in effects] == ["PrepareWorkspace"]
        assert all(e.task == "b" for e in effects)
        assert replay(store) == store.load()
    finally:
        store.close()


def replay_until(store: Store, count: int) -> RunState | None:
    """The state after the first `count` events of the log, each decided as it was."""
    state: RunState | None = None
    for i, (_, event, scheduling) in enumerate(store.decided_events()):
        if i == count:
            break
        state = decide(state, event, scheduling=scheduling).state
    return state
