"""The engine: receive event → decide → commit → dispatch effects. asyncio, one TaskGroup.

How this works. One coroutine owns the state and the store: it takes events from a queue,
runs the pure controller, commits the decision in one transaction, and only then starts
the decided effects as tasks in the engine's TaskGroup (git and forge steps bounded by a
semaphore; agent turns are already bounded by the controller's caps). Each effect's result
comes back through the queue. Beside it run the forge's own background work (local CI),
a poller that turns forge changes into events, and the inbox reader (messages posted by
`plait send` from other processes). On start, effects left pending by a crash are
dispatched again. The run ends when the state is settled; SIGINT/SIGTERM stop it cleanly
(agent process groups are killed by their runners on cancellation).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import decide
from plait.core.model import Phase, RunState
from plait.core.progress import next_wakeup, settled
from plait.engine.executors import Executors
from plait.forges.base import Forge
from plait.store.sqlite import Store

Observer = Callable[[ev.Event, RunState | None, RunState, tuple[fx.Effect, ...]], None]


@dataclass(frozen=True, slots=True)
class EngineResult:
    state: RunState
    stopped: bool  # stopped by a signal (or stop()) before settling


class Engine:
    def __init__(
        self,
        *,
        store: Store,
        forge: Forge,
        executors: Executors,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.5,
        io_concurrency: int = 8,
    ) -> None:
        self.store = store
        self.forge = forge
        self.executors = executors
        self.observer = observer
        self.clock = clock
        self.poll_interval = poll_interval
        self.state: RunState | None = store.load()
        self._queue: asyncio.Queue[tuple[ev.Event, int | None]] = asyncio.Queue()
        self._io = asyncio.Semaphore(io_concurrency)
        self._poke = asyncio.Event()
        self._stop = asyncio.Event()
        self._running: set[str] = set()
        self._effect_tasks: set[asyncio.Task[None]] = set()
        self._tg: asyncio.TaskGroup | None = None

    # ---- public ----------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    async def start(self, event: ev.RunStarted) -> EngineResult:
        """Begin a new run with `event`, then run it."""
        if self.state is not None:
            raise RuntimeError("this project already has a run")
        return await self.run(first=[event])

    async def run(self, first: Sequence[ev.Event] = ()) -> EngineResult:
        """Run until settled (or stopped); `first` are events to decide before anything."""
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
                installed.append(sig)
        try:
            return await self._run(first)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    # ---- internals -------------------------------------------------------------------
    async def _run(self, first: Sequence[ev.Event]) -> EngineResult:
        stopped = False
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            background = [
                tg.create_task(self.forge.serve()),
                tg.create_task(self._poll_loop()),
                tg.create_task(self._inbox_loop()),
            ]
            for event in first:
                self._apply(event, None)
            for effect in self.store.pending_effects():
                self._dispatch(effect)
            # A restart may find work to do that needs no event (e.g. caps changed).
            if self.state is not None and not first:
                self._apply(ev.Tick(at=self.clock()), None)
            try:
                stopped = await self._main_loop()
            finally:
                for task in background:
                    task.cancel()
                if stopped:
                    for task in list(self._effect_tasks):
                        task.cancel()
        assert self.state is not None
        return EngineResult(state=self.state, stopped=stopped)

    async def _main_loop(self) -> bool:
        stop_wait = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                assert self.state is not None
                if settled(self.state) and not self._running and self._queue.empty():
                    return False
                timeout = self._timeout()
                get = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait(
                    {get, stop_wait}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if stop_wait in done:
                    get.cancel()
                    return True
                if get in done:
                    event, inbox_id = get.result()
                    self._apply(event, inbox_id)
                else:
                    get.cancel()
                    self._apply(ev.Tick(at=self.clock()), None)
        finally:
            stop_wait.cancel()

    def _timeout(self) -> float | None:
        assert self.state is not None
        wake = next_wakeup(self.state)
        if wake is None:
            return 5.0
        return max(0.01, min(5.0, wake - self.clock()))

    def _apply(self, event: ev.Event, inbox_id: int | None) -> None:
        old = self.state
        decision = decide(old, event)
        self.store.commit(event, old, decision.state, decision.effects, inbox_id=inbox_id)
        self.state = decision.state
        if self.observer is not None:
            self.observer(event, old, decision.state, decision.effects)
        for effect in decision.effects:
            self._dispatch(effect)
        if isinstance(event, ev.EffectResult):
            self._poke.set()

    def _dispatch(self, effect: fx.Effect) -> None:
        if effect.id in self._running:
            return
        assert self._tg is not None
        self._running.add(effect.id)
        task = self._tg.create_task(self._execute(effect))
        self._effect_tasks.add(task)
        task.add_done_callback(self._effect_tasks.discard)

    async def _execute(self, effect: fx.Effect) -> None:
        try:
            if isinstance(effect, fx.RunAgent):
                result = await self.executors.run(effect)
            else:
                async with self._io:
                    result = await self.executors.run(effect)
            await self._queue.put((result, None))
        finally:
            self._running.discard(effect.id)

    async def _poll_loop(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that races with the wait finishing, and the engine would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval()):
                    await self._poke.wait()
            self._poke.clear()
            await self._poll_once()

    def _interval(self) -> float:
        """The poll interval; a forge with a rate budget may stretch it as it runs low."""
        suggest = getattr(self.forge, "suggested_poll_interval", None)
        if callable(suggest):
            return max(self.poll_interval, float(suggest(self.poll_interval)))
        return self.poll_interval

    async def _poll_once(self) -> None:
        state = self.state
        if state is None:
            return
        prs = {
            t.id: t.pr.number
            for t in state.tasks.values()
            if t.phase is Phase.ACTIVE and t.pr is not None
        }
        if not prs:
            return
        try:
            views = await self.forge.poll(prs)
        except Exception:  # a failed poll is retried next cycle
            return
        for task_id, view in views.items():
            current = self.state.tasks[task_id].pr if self.state is not None else None
            if current != view:
                await self._queue.put((ev.PRChanged(at=self.clock(), task=task_id, pr=view), None))

    async def _inbox_loop(self) -> None:
        seen: set[int] = set()
        while True:
            for inbox_id, event in self.store.inbox():
                if inbox_id not in seen:
                    seen.add(inbox_id)
                    await self._queue.put((event, inbox_id))
            await asyncio.sleep(0.25)
