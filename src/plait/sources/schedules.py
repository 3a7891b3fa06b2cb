"""The schedule source: starts a schedule's mission, blueprint or task at each due time.

How this works. Every few seconds (and at each due time) the source reads the project's
schedules and, for each one not paused, the due times since the last one it handled
(croniter, in the schedule's time zone). A run is named after its due time
(`<schedule>-<YYYYMMDD-HHMMSS>`, UTC): the source submits it, and only then remembers
the due time as handled. After a crash in between, the next engine finds that due time
again, sees a task of that name already exists (the core also ignores a repeated id), and
only remembers it — so a restart never fires a run twice. A due time is *on time* within
`GRACE` seconds; older ones were missed while no engine ran and follow the schedule's
catch-up policy: `skip` (counted and logged, never silently) or `once` (one run, for the
latest of them). croniter gives full cron syntax (lists, ranges, steps, names, `L`, `#`,
`@daily`…) and time-zone-aware times across DST changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from plait.api import commands as cmd
from plait.api.missions import add_mission, add_team
from plait.core.model import RunState
from plait.errors import PlaitError, UsageError
from plait.sources import FACTORIES, Source, SourceContext
from plait.store.schedules import Schedule, all_schedules

log = logging.getLogger(__name__)

NAME = "schedules"
GRACE = 60.0  # seconds after its due time a run still counts as on time
LOOK_EVERY = 2.0  # seconds between two looks at the schedules (new ones, pauses)
_CAP = 10_000  # due times counted at most between two looks (a minutely cron, a week down)


# ---- cron, pure ------------------------------------------------------------------------------
def cron_problem(expression: str) -> str | None:
    if not croniter.is_valid(expression):
        return f"{expression!r} is not a cron expression"
    return None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"unknown time zone {name!r}", hint="e.g. UTC, Europe/Paris") from exc


def due_times(expression: str, tz: str, after: float, until: float) -> tuple[list[float], bool]:
    """Due times in (after, until], oldest first, at most `_CAP` (and whether more were)."""
    it = croniter(expression, datetime.fromtimestamp(after, zone(tz)))
    out: list[float] = []
    while len(out) < _CAP:
        due = float(it.get_next(float))
        if due > until:
            return out, False
        out.append(due)
    return out, True


def next_due(expression: str, tz: str, after: float) -> float:
    return float(croniter(expression, datetime.fromtimestamp(after, zone(tz))).get_next(float))


@dataclass(frozen=True, slots=True)
class Plan:
    fire: float | None  # the due time to start a run for
    skipped: int  # missed due times not run
    handled: float | None  # the latest due time this look handles


def plan_runs(schedule: Schedule, last: float, now: float, *, grace: float = GRACE) -> Plan:
    dues, more = due_times(schedule.cron, schedule.tz, last, now)
    if not dues:
        return Plan(fire=None, skipped=0, handled=None)
    latest = dues[-1]
    on_time = latest >= now - grace
    if on_time or schedule.catch_up == "once":
        return Plan(fire=latest, skipped=len(dues) - 1, handled=latest)
    return Plan(fire=None, skipped=len(dues) + (1 if more else 0), handled=latest)


def run_id(schedule: str, due: float) -> str:
    stamp = datetime.fromtimestamp(due, UTC).strftime("%Y%m%d-%H%M%S")
    return f"{schedule}-{stamp}"


def command_for(
    state: RunState, schedule: Schedule, due: float, *, now: float, agents: tuple[str, ...] = ()
) -> cmd.Command:
    """The command that starts the schedule's run for `due`, named after it."""
    tid = run_id(schedule.name, due)
    payload: dict[str, Any] = dict(schedule.payload)
    if schedule.kind == "mission":
        fields = {**payload, "id": tid, "name": tid, "origin": "schedule"}
        return add_mission(state, fields, now=now, agents=agents)
    if schedule.kind == "blueprint":
        return add_team(state, {**payload, "id": tid, "name": tid}, now=now, agents=agents)
    return cmd.add_task(state, {**payload, "id": tid, "origin": "schedule"}, now=now, agents=agents)


# ---- the source ------------------------------------------------------------------------------
class ScheduleSource:
    name = NAME

    def __init__(
        self,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        grace: float = GRACE,
        look_every: float = LOOK_EVERY,
    ) -> None:
        self.sleep = sleep
        self.grace = grace
        self.look_every = look_every

    async def run(self, ctx: SourceContext) -> None:
        while True:
            wait = await self.look(ctx)
            await self.sleep(max(0.01, min(wait, self.look_every)))

    async def look(self, ctx: SourceContext) -> float:
        """Handle every due run; seconds until the next one is due."""
        now = ctx.clock()
        soonest = self.look_every
        for schedule in all_schedules(ctx.store):
            if schedule.paused:
                continue
            try:
                await self._handle(ctx, schedule, now)
                last = self._last(ctx, schedule)
                soonest = min(soonest, next_due(schedule.cron, schedule.tz, last) - now)
            except PlaitError as exc:
                # A schedule that no longer fits the project (an agent removed, say):
                # say why in its record and in the log; the others go on.
                said = exc.message + (f" — {exc.hint}" if exc.hint else "")
                ctx.remember(NAME, f"{schedule.name}:error", said)
                log.warning("schedule %s: %s", schedule.name, said)
        return soonest

    def _last(self, ctx: SourceContext, schedule: Schedule) -> float:
        handled = ctx.recall(NAME, f"{schedule.name}:last")
        return float(handled) if handled else schedule.created_at

    async def _handle(self, ctx: SourceContext, schedule: Schedule, now: float) -> None:
        plan = plan_runs(schedule, self._last(ctx, schedule), now, grace=self.grace)
        if plan.handled is None:
            return
        if plan.skipped:
            self._count(ctx, schedule, "skipped", plan.skipped)
            log.warning("schedule %s: %d missed run(s) skipped (catch-up %s)",
                        schedule.name, plan.skipped, schedule.catch_up)  # fmt: skip
        if plan.fire is not None and run_id(schedule.name, plan.fire) not in ctx.state().specs:
            command = command_for(ctx.state(), schedule, plan.fire, now=now)
            await ctx.submit(command.event)
            self._count(ctx, schedule, "fired", 1)
        ctx.remember(NAME, f"{schedule.name}:last", repr(plan.handled))
        ctx.remember(NAME, f"{schedule.name}:error", "")

    def _count(self, ctx: SourceContext, schedule: Schedule, what: str, n: int) -> None:
        key = f"{schedule.name}:{what}"
        ctx.remember(NAME, key, str(int(ctx.recall(NAME, key) or 0) + n))


def status(
    schedule: Schedule, recall: Callable[[str], str | None], *, now: float
) -> dict[str, Any]:
    """A schedule as `plait schedule list` shows it: its settings and what the engine did."""
    last = recall(f"{schedule.name}:last")
    after = float(last) if last else max(schedule.created_at, now)
    return {
        "name": schedule.name,
        "cron": schedule.cron,
        "tz": schedule.tz,
        "kind": schedule.kind,
        "what": schedule.payload.get("prompt")
        or schedule.payload.get("title")
        or schedule.payload.get("name"),
        "catch_up": schedule.catch_up,
        "paused": schedule.paused,
        "next": None if schedule.paused else next_due(schedule.cron, schedule.tz, after),
        "last_due": float(last) if last else None,
        "fired": int(recall(f"{schedule.name}:fired") or 0),
        "skipped": int(recall(f"{schedule.name}:skipped") or 0),
        "error": recall(f"{schedule.name}:error") or None,
    }


def new_schedule(
    name: str, cron: str, kind: str, payload: dict[str, Any], *, tz: str, catch_up: str
) -> Schedule:
    problem = cron_problem(cron)
    if problem:
        raise UsageError(
            problem, hint='five fields: "min hour day month weekday", e.g. "0 3 * * *"'
        )
    zone(tz)
    return replace(
        Schedule(name=name, cron=cron, kind=kind, payload=payload, tz=tz, catch_up=catch_up),
        created_at=time.time(),
    )


def _factory(project: object) -> Source:
    return ScheduleSource()


FACTORIES.append(_factory)
