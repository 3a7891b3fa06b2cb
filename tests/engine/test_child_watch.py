"""The engine's loop waits for its children by pidfd on Python 3.11 under Linux, not with a
thread per child (`plait.engine.child_watch`; P3 in bench/README.md), and still sees
every child's exit, from the main thread's loop and from a loop in another thread."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from plait.core import events as ev
from plait.core.model import RunConfig
from plait.core.plan import TaskSpec
from plait.engine.child_watch import pidfd_usable, watch_children_by_pidfd
from plait.engine.executor import Executor
from plait.engine.loop import Engine
from plait.forges.base import Forge
from plait.store import Store
from plait.testing.instant_world import InstantExecutor, InstantWorld

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12) or not pidfd_usable(),
    reason="only Python 3.11 on Linux with pidfds chooses its child watcher here",
)


@pytest.fixture
def threaded_watcher() -> Iterator[None]:
    """asyncio's 3.11 default in place for the test, whatever an earlier test left."""
    saved = asyncio.get_child_watcher()
    asyncio.set_child_watcher(asyncio.ThreadedChildWatcher())
    yield
    asyncio.set_child_watcher(saved)


def _watcher_name() -> str:
    return type(asyncio.get_child_watcher()).__name__


def test_the_engines_loop_watches_children_by_pidfd(tmp_path: Path, threaded_watcher: None) -> None:
    assert _watcher_name() == "ThreadedChildWatcher"
    world = InstantWorld(seed=1)
    engine = Engine(
        store=Store(tmp_path / "plait.db"),
        forge=cast(Forge, world.forge()),
        executors=cast(Executor, InstantExecutor(world)),
    )
    config = RunConfig(project="w", repo="/sim", max_concurrency=2)
    tasks = (TaskSpec(id="t0", title="task 0"), TaskSpec(id="t1", title="task 1"))
    result = asyncio.run(engine.start(ev.RunStarted(at=1.0, config=config, tasks=tasks)))
    engine.store.close()
    assert all(t.phase.value == "merged" for t in result.state.tasks.values())
    assert _watcher_name() == "PidfdWatcher"


async def _children_exit(codes: list[int]) -> tuple[list[int], list[str]]:
    """Start one `sh -c 'exit N'` per code at once; their exit codes and the names of the
    threads alive while they ran."""
    procs = [
        await asyncio.create_subprocess_exec("sh", "-c", f"sleep 0.05; exit {code}")
        for code in codes
    ]
    threads = [t.name for t in threading.enumerate()]
    return await asyncio.gather(*(p.wait() for p in procs)), threads


def test_exits_are_seen_without_a_thread_per_child(threaded_watcher: None) -> None:
    assert watch_children_by_pidfd()
    assert watch_children_by_pidfd()  # once is enough; again changes nothing
    codes = [0, 1, 3, 0, 42, 7, 0, 255]
    seen, threads = asyncio.run(_children_exit(codes))
    assert seen == codes
    assert not [name for name in threads if "waitpid" in name]  # 3.11: asyncio-waitpid-N


def test_a_loop_in_another_thread_sees_its_childrens_exits(threaded_watcher: None) -> None:
    assert watch_children_by_pidfd()
    got: list[int] = []
    with asyncio.Runner() as main_loop:  # the main thread's loop is running meanwhile

        async def beside() -> None:
            thread = threading.Thread(
                target=lambda: got.extend(asyncio.run(_children_exit([5, 0, 9]))[0])
            )
            thread.start()
            await asyncio.to_thread(thread.join)

        main_loop.run(beside())
    assert got == [5, 0, 9]
