"""The `tasks/` folder source: ticket files become queue tasks while the engine runs.

How this works. Every second the source lists the folder (`[swarm] tickets`, relative to
the repository) — `*.json` and `*.md` files, in subfolders too, a README excepted — and
parses what changed since the last look (`plans.tickets`). Tickets whose id is not a task
yet are added in one `TasksAdded` event, as tasks of the swarm's queue with the swarm's
landing; the event is committed before anything acts on it, so a ticket is added exactly
once however often the engine crashes and restarts (the next look sees its id taken).

A ticket waits while a dependency is neither a task nor another ticket; tickets that
depend on each other in a circle wait too. A malformed ticket is left in place and reported
with file:line (`plait swarm status` lists the problems; a fixed file is read again). A
ticket file is never moved or deleted: what happened to the task is in the store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from plait.core import events as ev
from plait.core.plan import PlanProblem, TaskSpec
from plait.engine.project import Project
from plait.errors import PlanError
from plait.plans.tickets import MAX_TICKET_BYTES, SUFFIXES, Ticket, parse_ticket
from plait.sources import FACTORIES, Source, SourceContext

log = logging.getLogger(__name__)

NAME = "tickets"
PROBLEMS_KEY = "problems"  # remembered: the current problems, for `plait swarm status`


@dataclass(frozen=True, slots=True)
class Batch:
    """What one look at the folder leads to."""

    add: tuple[Ticket, ...]
    waiting: Mapping[str, tuple[str, ...]]  # ticket id → dependencies not known yet
    problems: tuple[PlanProblem, ...]


def plan_batch(found: Iterable[Ticket | PlanError], known: Mapping[str, TaskSpec]) -> Batch:
    """Pure: which tickets to add now, given the project's tasks."""
    problems: list[PlanProblem] = []
    fresh: dict[str, Ticket] = {}
    for item in found:
        if isinstance(item, PlanError):
            problems.extend(item.problems)
        elif item.id in fresh:
            other = fresh[item.id].path
            problems.append(PlanProblem(item.path, item.line, f"id {item.id!r} is also the id "
                                        f"of {other}", "give each ticket its own id"))  # fmt: skip
        elif item.id not in known:
            fresh[item.id] = item
    waiting: dict[str, tuple[str, ...]] = {}
    changed = True
    while changed:  # a ticket waiting on a waiting ticket waits too
        changed = False
        for tid, ticket in list(fresh.items()):
            missing = tuple(d for d in ticket.dependencies if d not in known and d not in fresh)
            if missing:
                waiting[tid] = missing
                del fresh[tid]
                changed = True
    # In dependency order; what is left depends on itself through a circle.
    ordered: dict[str, Ticket] = {}
    progress = True
    while progress:
        progress = False
        for tid, ticket in list(fresh.items()):
            if all(d in known or d in ordered for d in ticket.dependencies):
                ordered[tid] = fresh.pop(tid)
                progress = True
    circle = "its dependencies go in a circle with other tickets"
    for ticket in fresh.values():
        problems.append(PlanProblem(ticket.path, ticket.line, circle, "break the circle"))
    add = tuple(ordered.values())
    return Batch(add=add, waiting=waiting, problems=tuple(problems))


class TicketsSource:
    name = NAME

    def __init__(self, folder: Path, *, landing: str = "merge", interval: float = 1.0) -> None:
        self.folder = folder
        self.landing = landing
        self.interval = interval
        self._cache: dict[str, tuple[tuple[int, int], Ticket | PlanError]] = {}
        self._reported: frozenset[str] = frozenset()

    async def run(self, ctx: SourceContext) -> None:
        while True:
            await self.look(ctx)
            await asyncio.sleep(self.interval)

    async def look(self, ctx: SourceContext) -> Batch:
        found = await asyncio.to_thread(self.read_folder)
        batch = plan_batch(found, ctx.state().specs)
        event = self.event(batch, at=ctx.clock())
        if event is not None:
            await ctx.submit(event)
        self._report(ctx, batch)
        return batch

    def first_look(self, known: Mapping[str, TaskSpec], *, at: float) -> ev.TasksAdded | None:
        """The tickets already in the folder, for the engine's first events: a swarm that
        starts must not find its queue empty before the source had a look."""
        return self.event(plan_batch(self.read_folder(), known), at=at)

    def event(self, batch: Batch, *, at: float) -> ev.TasksAdded | None:
        if not batch.add:
            return None
        specs = tuple(t.spec(landing=self.landing) for t in batch.add)
        return ev.TasksAdded(at=at, tasks=specs)

    def read_folder(self) -> list[Ticket | PlanError]:
        out: list[Ticket | PlanError] = []
        seen: set[str] = set()
        for path in sorted(self._files()):
            key = str(path)
            seen.add(key)
            try:
                stat = path.stat()
            except OSError:
                continue
            mark = (stat.st_mtime_ns, stat.st_size)
            cached = self._cache.get(key)
            if cached is None or cached[0] != mark:
                cached = (mark, self._read(path, stat.st_size))
                self._cache[key] = cached
            out.append(cached[1])
        for gone in set(self._cache) - seen:
            del self._cache[gone]
        return out

    def _files(self) -> Iterable[Path]:
        if not self.folder.is_dir():
            return ()
        return (
            p
            for p in self.folder.rglob("*")
            if p.suffix in SUFFIXES
            and p.is_file()
            and p.name.lower() != "readme.md"
            and not any(part.startswith(".") for part in p.relative_to(self.folder).parts)
        )

    def _read(self, path: Path, size: int) -> Ticket | PlanError:
        where = os.path.relpath(path, self.folder.parent)
        if size > MAX_TICKET_BYTES:
            return PlanError([PlanProblem(where, 0, "the ticket is larger than 256 KiB",
                                          "split it into smaller tickets")])  # fmt: skip
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return PlanError([PlanProblem(where, 0, f"cannot read it: {exc}", "save it as UTF-8")])
        try:
            return parse_ticket(text, where)
        except PlanError as exc:
            return exc

    def _report(self, ctx: SourceContext, batch: Batch) -> None:
        lines = [p.render() for p in batch.problems]
        lines += [
            f"ticket {tid} waits for {', '.join(missing)}" for tid, missing in batch.waiting.items()
        ]
        ctx.remember(NAME, PROBLEMS_KEY, json.dumps(lines))
        fresh = frozenset(lines) - self._reported
        for line in sorted(fresh):
            log.warning("tickets: %s", line)
        self._reported = frozenset(lines)


def for_project(project: Project) -> Source | None:
    """The project's tickets folder, when its settings configure a swarm."""
    eff = project.effective()
    cfg = eff.config
    swarm_configured = bool(cfg.workers) or eff.swarm is not None
    if not swarm_configured:
        return None
    folder = Path(cfg.repo) / cfg.tickets_dir
    landing = eff.swarm.landing if eff.swarm is not None else "merge"
    return TicketsSource(folder, landing=landing)


FACTORIES.append(for_project)
