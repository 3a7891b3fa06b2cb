"""Sources: live inputs that give a project work while its engine runs.

A plan, `plait add` and `plait adopt` add tasks once, through the API. A *source* keeps
adding (or cancelling) tasks while the engine runs: a `tasks/` folder of tickets, planner
agents, GitHub issues, schedules. Each turns outside input into the same core events
(`TasksAdded`, `TaskKilled`, …) through `SourceContext.submit`, which decides and commits
an event in the engine's loop before anything acts on it — so the core does not care
where a task came from, and a source survives a crash like everything else: what it
submitted is in the event log, and what it remembers of the outside world (an ETag, a
cursor) it keeps with `remember`/`recall` in the project's store.

`for_project()` assembles the sources a project's settings ask for; the engine host runs
each in the engine's TaskGroup until the engine stops.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from plait.core.controller import Decision
from plait.core.effects import Effect
from plait.core.events import Event
from plait.core.model import RunState
from plait.store.sqlite import Store


@dataclass(frozen=True, slots=True)
class SourceContext:
    project: str
    submit: Callable[[Event], Awaitable[Decision]]  # decide + commit in the engine's loop
    state: Callable[[], RunState]  # the engine's current state
    store: Store
    clock: Callable[[], float]
    # Take over the effects of a kind (`core.effects.PERFORMED_BY_SOURCES`): the engine
    # hands each decided one (and those a crash left pending) to the performer.
    perform: Callable[[type[Effect], Callable[[Effect], Awaitable[Event]]], None] = (
        lambda kind, performer: None
    )

    def remember(self, source: str, key: str, value: str) -> None:
        """Keep a source's own fact across restarts (not a task's state: that is the core's)."""
        self.store.set_meta(f"source:{source}:{key}", value)

    def recall(self, source: str, key: str) -> str | None:
        return self.store.get_meta(f"source:{source}:{key}")


class Source(Protocol):
    name: str

    async def run(self, ctx: SourceContext) -> None:
        """Watch the outside world and submit events until cancelled."""
        ...


# Factories that look at a project (its settings, its repository) and return a source
# when the project asks for one. Each source module registers itself here.
FACTORIES: list[Callable[..., Source | None]] = []


def for_project(project: object) -> list[Source]:
    """The sources the project's settings ask for."""
    found = (factory(project) for factory in FACTORIES)
    return [source for source in found if source is not None]


# The source modules register their factories in FACTORIES when imported (they use the
# names above, so they come last).
from plait.sources import planners, tickets  # noqa: E402

__all__ = ["FACTORIES", "Source", "SourceContext", "for_project", "planners", "tickets"]
