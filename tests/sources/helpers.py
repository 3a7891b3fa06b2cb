"""The engine's side of a source, for source tests: decide and commit each submitted event
in the project's state, on a clock the test moves by hand."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

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

    async def submit(self, event: ev.Event) -> Decision:
        decision = decide(self.state, event)
        self.state = decision.state
        self.events.append(event)
        return decision

    def ctx(self) -> SourceContext:
        return SourceContext(project="p", submit=self.submit, state=lambda: self.state,
                             store=self.store, clock=lambda: self.now)  # fmt: skip

    def set_task(self, tid: str, **fields: object) -> None:
        """Stand in for the engine moving a task along (a source only reads the state)."""
        tasks = dict(self.state.tasks)
        tasks[tid] = replace(tasks[tid], **fields)  # type: ignore[arg-type]
        self.state = replace(self.state, tasks=tasks)
