"""The engine's side of a source, for source tests: decide and commit each submitted event
in the project's state, on a clock the test moves by hand, and hand the effects a source
performs (`fx.PERFORMED_BY_SOURCES`) to the performer it registered, as the engine does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import Decision, decide
from plait.core.model import RunConfig, RunState
from plait.sources import SourceContext
from plait.store.sqlite import Store


class Project:
    def __init__(self, tmp: Path, config: RunConfig | None = None) -> None:
        self.store = Store(tmp / "plait.db")
        config = config or RunConfig(project="p", repo=str(tmp))
        first = ev.RunStarted(at=1.0, config=config, tasks=())
        self.state: RunState = decide(None, first).state
        self.events: list[ev.Event] = []
        self.now = 2.0  # the engine's clock, moved by hand
        self.performers: dict[type[fx.Effect], Callable[[fx.Effect], Awaitable[ev.Event]]] = {}
        self.outbox: list[fx.Effect] = []  # a source's effects not performed yet
        self.results: list[ev.Event] = []  # what performing them answered
        self.hold = False  # leave them in the outbox (as an engine killed before them)

    async def submit(self, event: ev.Event) -> Decision:
        decision = decide(self.state, event)
        self.state = decision.state
        self.events.append(event)
        self.outbox += [e for e in decision.effects if isinstance(e, fx.PERFORMED_BY_SOURCES)]
        if not self.hold:
            await self.perform_pending()
        return decision

    async def perform_pending(self) -> None:
        while self.outbox and type(self.outbox[0]) in self.performers:
            effect = self.outbox.pop(0)
            result = await self.performers[type(effect)](effect)
            self.state = decide(self.state, result).state
            self.results.append(result)

    def perform(
        self, kind: type[fx.Effect], performer: Callable[[fx.Effect], Awaitable[ev.Event]]
    ) -> None:
        self.performers[kind] = performer

    def ctx(self) -> SourceContext:
        return SourceContext(project="p", submit=self.submit, state=lambda: self.state,
                             store=self.store, clock=lambda: self.now,
                             perform=self.perform)  # fmt: skip

    def set_task(self, tid: str, **fields: object) -> None:
        """Stand in for the engine moving a task along (a source only reads the state)."""
        tasks = dict(self.state.tasks)
        tasks[tid] = replace(tasks[tid], **fields)  # type: ignore[arg-type]
        self.state = replace(self.state, tasks=tasks)
