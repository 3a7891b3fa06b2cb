"""The engine: receive events → decide → commit → dispatch effects. asyncio, one TaskGroup.

How this works. One coroutine owns the state and the store. It takes the events that are
waiting (effect results, forge changes, commands from the API or the inbox, ticks), runs
the pure controller on each (the scheduler once, after the last of them or after a
command whose sender waits for the answer; each event is recorded with whether its
scheduling was deferred, so that a replay decides the same), commits them together in
one transaction, and only then starts the decided effects as tasks in the engine's
TaskGroup (git and forge steps
bounded by a semaphore; agent turns are bounded by the controller's caps). A task's
effects run one after another, never side by side. Each effect's result comes back
through the queue. Beside the loop run the forge's own background work (local CI), a
poller that turns forge changes into events, the inbox reader (commands recorded while
no engine ran) and whatever the caller adds (the local API). Notifications go to the
notifier, never to a task's queue of effects: they run beside the work, not in its way,
and before the engine ends it gives them a moment to go out (`NOTIFY_GRACE`).

Commands act through the state: when a decision stops a task, its running agent turn is
interrupted and answers "killed"; when a decision drops an effect (a hard reset), a run of
it still going is cancelled. On start, commands recorded while no engine ran are decided
first, then the effects a crash left pending are dispatched again — except those of
stopped tasks, which wait for `plait retry`.

A foreground engine ends when `until(state)` holds and nothing is under way; a
background one (`plait up`) runs until stopped. SIGINT/SIGTERM stop either cleanly
(agent process groups are killed by their runners on cancellation).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import Decision, decide_batch
from plait.core.model import Phase, RunState
from plait.core.progress import next_wakeup, settled
from plait.core.taskmap import indexed_tasks, live_tasks
from plait.engine.child_watch import watch_children_by_pidfd
from plait.engine.executor import Executor
from plait.forges.base import Forge
from plait.notify import Notifier
from plait.store.sqlite import Decided, Store
from plait.store.timeline import Line

log = logging.getLogger(__name__)

Observer = Callable[[ev.Event, RunState | None, RunState, tuple[fx.Effect, ...]], None]
# What a person reads about a decision, kept in the store's timeline with the event.
Narrator = Callable[[ev.Event, RunState | None, RunState, tuple[fx.Effect, ...]], tuple[Line, ...]]
# Extra background jobs (the local API): each runs in the engine's TaskGroup until
# cancelled when the engine stops.
Service = Callable[["Engine"], Coroutine[Any, Any, None]]
# Who performs an effect a source owns (`fx.PERFORMED_BY_SOURCES`): effect in, result out.
Performer = Callable[[fx.Effect], Awaitable[ev.Event]]

# How many waiting events one transaction commits at most (P2 in bench/README.md: the engine batches
# what arrives together; every effect is still committed before it runs).
BATCH = 256
_POLL_ERROR_EVERY = 60.0  # seconds between two log lines about failing polls
# Seconds an ending engine waits for its last notifications to go out: one that settled
# (a foreground run's "idle" is decided last), one stopped by a person or a signal.
NOTIFY_GRACE = 15.0
NOTIFY_GRACE_STOPPED = 2.0


@dataclass(frozen=True, slots=True)
class EngineResult:
    state: RunState
    stopped: bool  # stopped by a signal (or stop()) before settling


@dataclass(slots=True)
class _Waiting:
    event: ev.Event
    inbox_id: int | None = None
    answer: asyncio.Future[Decision] | None = None  # for `submit`: resolved after commit


def indexed(state: RunState | None) -> RunState | None:
    """`state` with its tasks as a `TaskMap` (the same tasks, with their indexes)."""
    if state is None:
        return None
    return dataclasses.replace(state, tasks=indexed_tasks(state))


class Engine:
    def __init__(
        self,
        *,
        store: Store,
        forge: Forge,
        executors: Executor,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.5,
        io_concurrency: int = 8,
        narrator: Narrator | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.store = store
        # The WAL's checkpoints beside the loop, not inside its commits (P2).
        store.checkpoint_apart()
        self.narrator = narrator
        # The sequence number of the decision the observers are told about (after they
        # were, of the last one committed): the event stream's `seq` is the store's.
        self.seq = store.last_seq()
        self.forge = forge
        self.executors = executors
        self.notifier = notifier or Notifier()
        self.observers: list[Observer] = [observer] if observer is not None else []
        self.clock = clock
        self.poll_interval = poll_interval
        # Indexed at once: the faces read the state (which tasks are under way) before
        # any event is decided, which would index it (P8).
        self.state: RunState | None = indexed(store.load())
        self._queue: asyncio.Queue[_Waiting] = asyncio.Queue()
        self._io = asyncio.Semaphore(io_concurrency)
        self._poke = asyncio.Event()
        # A forge that knows when it changed by itself (the local forge's CI) says so: the
        # poller looks at once instead of at its next cycle.
        on_change = getattr(forge, "on_change", None)
        if on_change is not None:
            on_change(self._poke.set)
        self._stop = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}  # effect id → its run
        self._kinds: dict[str, fx.Effect] = {}  # effect id → effect, while it runs
        self._task_locks: dict[str, asyncio.Lock] = {}
        self._parked: dict[str, fx.Effect] = {}  # effects of stopped tasks, by task
        self._performers: dict[type[fx.Effect], Performer] = {}
        self._unperformed: list[fx.Effect] = []  # a source's effects, before it registered
        self._tg: asyncio.TaskGroup | None = None
        self._last_poll_error = 0.0
        # A swarm drains on the first signal (this makes its event), stops on the second.
        self._drain: Callable[[], ev.Event] | None = None

    # ---- public ----------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def start(self, event: ev.RunStarted) -> EngineResult:
        """Begin a new run with `event`, then run it until it settles."""
        if self.state is not None:
            raise RuntimeError("this project already has a run")
        return await self.run(first=[event])

    async def run(
        self,
        first: Sequence[ev.Event] = (),
        *,
        until: Callable[[RunState], bool] | None = settled,
        services: Sequence[Service] = (),
        drain: Callable[[], ev.Event] | None = None,
    ) -> EngineResult:
        """Run until `until(state)` holds with nothing under way (never, when None) or a
        signal stops it; `first` are events to decide before anything else. With `drain`,
        the first signal decides the event it makes (a swarm stops claiming and lets its
        turns finish) and only a second one stops the engine at once."""
        loop = asyncio.get_running_loop()
        watch_children_by_pidfd()  # every git, agent and CI command: no thread per child
        self._drain = drain
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._on_signal)
                installed.append(sig)
        try:
            return await self._run(first, until, services)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def _on_signal(self) -> None:
        drain, self._drain = self._drain, None
        if drain is None:
            self.stop()
        else:
            self._queue.put_nowait(_Waiting(drain()))

    async def submit(self, event: ev.Event) -> Decision:
        """Decide `event` in the engine's loop; returns once its decision is committed."""
        answer: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Waiting(event, answer=answer))
        return await answer

    def post(self, event: ev.Event) -> None:
        """Queue `event` without waiting for its decision (whoever needs no answer)."""
        self._queue.put_nowait(_Waiting(event))

    def watch(self, observer: Observer) -> Callable[[], None]:
        """Call `observer` after every committed decision; returns how to stop."""
        self.observers.append(observer)
        return lambda: self.observers.remove(observer)

    def perform(self, kind: type[fx.Effect], performer: Performer) -> None:
        """A source performs the effects of `kind` from now on; those that waited for it
        (left pending by a crash, dispatched before the source ran) go now."""
        self._performers[kind] = performer
        waiting = [e for e in self._unperformed if isinstance(e, kind)]
        self._unperformed = [e for e in self._unperformed if not isinstance(e, kind)]
        for effect in waiting:
            self._dispatch(effect)

    def running_effects(self) -> dict[str, fx.Effect]:
        """The effects being executed right now, by id."""
        return dict(self._kinds)

    # ---- internals -------------------------------------------------------------------
    async def _run(
        self,
        first: Sequence[ev.Event],
        until: Callable[[RunState], bool] | None,
        services: Sequence[Service],
    ) -> EngineResult:
        stopped = False
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            background = [
                tg.create_task(self.forge.serve()),
                tg.create_task(self._poll_loop()),
                tg.create_task(self._inbox_loop()),
                tg.create_task(self.notifier.serve(self._report)),
                *(tg.create_task(service(self)) for service in services),
            ]
            self._apply([_Waiting(e) for e in first])
            if self.state is not None:
                # Commands recorded while no engine ran come before the effects a crash
                # left pending: a task stopped meanwhile must not start its turn again.
                self._apply([_Waiting(e, inbox_id=i) for i, e in self.store.inbox()])
                carried: list[str] = []
                for effect in self.store.pending_effects():
                    if isinstance(effect, fx.RunAgent):
                        carried.append(effect.id)
                    self._dispatch(effect)
                # A restart may find work to do that needs no event (e.g. caps changed),
                # and says which agent turns it carries on.
                if not first or carried:
                    self._apply([_Waiting(ev.Tick(at=self.clock(), carried=tuple(carried)))])
            try:
                stopped = await self._main_loop(until)
                await self._send_last_notifications(
                    NOTIFY_GRACE_STOPPED if stopped else NOTIFY_GRACE
                )
            finally:
                for task in background:
                    task.cancel()
                if stopped:
                    for task in list(self._running.values()):
                        task.cancel()
        assert self.state is not None
        return EngineResult(state=self.state, stopped=stopped)

    async def _main_loop(self, until: Callable[[RunState], bool] | None) -> bool:
        stop_wait = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                if self._done(until):
                    return False
                get = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait(
                    {get, stop_wait}, timeout=self._timeout(), return_when=asyncio.FIRST_COMPLETED
                )
                if stop_wait in done:
                    get.cancel()
                    return True
                if get in done:
                    batch = [get.result()]
                    while len(batch) < BATCH and not self._queue.empty():
                        batch.append(self._queue.get_nowait())
                    self._apply(batch)
                else:
                    get.cancel()
                    self._apply([_Waiting(ev.Tick(at=self.clock()))])
        finally:
            stop_wait.cancel()

    async def _report(self, event: ev.Event) -> None:
        await self._queue.put(_Waiting(event))

    async def _send_last_notifications(self, grace: float) -> None:
        """Let the notifications decided last go out (a foreground run's "idle" is one),
        and record them as sent; whatever is left goes out at the next start."""
        await self.notifier.drain(grace)
        sent: list[_Waiting] = []
        kept: list[_Waiting] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            (sent if isinstance(item.event, ev.NotificationSent) else kept).append(item)
        for item in kept:
            self._queue.put_nowait(item)
        # Recorded, not acted on: what these decisions would start waits in the outbox.
        self._apply(sent, dispatch=False)

    def _done(self, until: Callable[[RunState], bool] | None) -> bool:
        if until is None or self.state is None:
            return False
        return not self._running and self._queue.empty() and until(self.state)

    def _timeout(self) -> float:
        if self.state is None:
            return 5.0
        wake = next_wakeup(self.state)
        if wake is None:
            return 5.0
        return max(0.01, min(5.0, wake - self.clock()))

    def _apply(self, batch: list[_Waiting], *, dispatch: bool = True) -> None:
        """Decide each waiting event, commit them all at once, then act on the decisions."""
        if not batch:
            return
        # The scheduler runs once, after the batch's last event (P2), and after a command
        # whose sender waits for its decision: that answer shows the effects.
        waiting = [i for i, item in enumerate(batch) if item.answer is not None]
        decisions = decide_batch(self.state, [item.event for item in batch], waiting=waiting)
        steps: list[Decided] = []
        state = self.state
        narrator = self.narrator
        for item, decision in zip(batch, decisions, strict=True):
            new = decision.state
            lines = narrator(item.event, state, new, decision.effects) if narrator else ()
            steps.append(
                Decided(
                    item.event,
                    state,
                    new,
                    decision.effects,
                    item.inbox_id,
                    lines,
                    deferred=not decision.scheduled,
                )
            )
            state = new
        try:
            seqs = self.store.commit_many(steps)
        except BaseException as exc:
            for item in batch:
                if item.answer is not None and not item.answer.done():
                    item.answer.set_exception(exc)
            raise
        old, self.state = self.state, state
        for step, seq in zip(steps, seqs, strict=True):
            self.seq = seq
            for observer in list(self.observers):
                observer(step.event, step.old, step.new, step.effects)
        for item, decision in zip(batch, decisions, strict=True):
            if item.answer is not None and not item.answer.done():
                item.answer.set_result(decision)
        if not dispatch:
            return
        for decision in decisions:
            for effect in decision.effects:
                self._dispatch(effect)
        self._follow_commands(old)
        if any(isinstance(item.event, ev.EffectResult) for item in batch):
            self._poke.set()

    def _follow_commands(self, old: RunState | None) -> None:
        """Act on what the decisions said about tasks with work under way or parked."""
        assert self.state is not None
        tasks = self.state.tasks
        for effect_id, effect in list(self._kinds.items()):
            task = tasks.get(effect.task)
            if task is None:
                continue
            if task.in_flight != effect_id:
                self._cancel(effect_id)  # dropped by the decision: stop what is left
            elif task.stopped and isinstance(effect, fx.RunAgent):
                self._interrupt(effect_id)
        for task_id, effect in list(self._parked.items()):
            task = tasks.get(task_id)
            if task is None or task.in_flight != effect.id:
                del self._parked[task_id]
            elif not task.stopped:
                del self._parked[task_id]
                self._dispatch(effect)

    def _cancel(self, effect_id: str) -> None:
        run = self._running.get(effect_id)
        if run is not None and isinstance(self._kinds.get(effect_id), fx.RunAgent):
            self.executors.abandon(effect_id)
            run.cancel()

    def _interrupt(self, effect_id: str) -> None:
        if self.executors.interrupt(effect_id):
            run = self._running.get(effect_id)
            if run is not None:
                run.cancel()

    def _dispatch(self, effect: fx.Effect) -> None:
        if isinstance(effect, fx.Notify):
            self.notifier.put(effect)
            return
        if effect.id in self._running:
            return
        if isinstance(effect, fx.PERFORMED_BY_SOURCES) and type(effect) not in self._performers:
            self._unperformed.append(effect)  # its source has not started (yet)
            return
        task = self.state.tasks.get(effect.task) if self.state is not None else None
        if task is not None and task.stopped and task.in_flight == effect.id:
            self._parked[effect.task] = effect  # runs when the task is let go again
            return
        assert self._tg is not None
        self._kinds[effect.id] = effect
        self._running[effect.id] = self._tg.create_task(self._execute(effect))

    async def _execute(self, effect: fx.Effect) -> None:
        lock = self._task_locks.setdefault(effect.task, asyncio.Lock())
        try:
            async with lock:
                performer = self._performers.get(type(effect))
                if performer is not None:
                    # Not under the I/O bound: a write may wait for its rate reserve.
                    result = await performer(effect)
                elif isinstance(effect, fx.RunAgent):
                    result = await self.executors.run(effect)
                else:
                    async with self._io:
                        result = await self.executors.run(effect)
            await self._queue.put(_Waiting(result))
        finally:
            self._running.pop(effect.id, None)
            self._kinds.pop(effect.id, None)

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
        return max(self.poll_interval, self.forge.suggested_poll_interval(self.poll_interval))

    async def _poll_once(self) -> None:
        state = self.state
        if state is None:
            return
        # Only live tasks can be active.
        prs = {
            t.id: t.pr.number
            for t in live_tasks(state)
            if t.phase is Phase.ACTIVE and t.pr is not None
        }
        if not prs:
            return
        try:
            views = await self.forge.poll(prs)
        except Exception as exc:  # a failed poll is retried next cycle
            now = time.monotonic()
            if now - self._last_poll_error >= _POLL_ERROR_EVERY:
                self._last_poll_error = now
                log.warning("polling the %s forge failed (retrying): %s", self.forge.name, exc)
            return
        for task_id, view in views.items():
            current = self.state.tasks[task_id].pr if self.state is not None else None
            if current != view:
                event = ev.PRChanged(at=self.clock(), task=task_id, pr=view)
                await self._queue.put(_Waiting(event))

    async def _inbox_loop(self) -> None:
        seen: set[int] = set()
        while True:
            await asyncio.sleep(0.25)
            for inbox_id, event in self.store.inbox():
                if inbox_id not in seen:
                    seen.add(inbox_id)
                    await self._queue.put(_Waiting(event, inbox_id=inbox_id))
