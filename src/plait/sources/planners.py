"""Planner groups: planning tasks that keep the swarm's queue at `max_pending`.

How this works. When the queue has room (fewer than `[swarm] max_pending` tasks waiting to
be claimed) and a planner worker is free, this source adds a planning task: a task of the
`planning` queue, claimed by a planner group's worker like any queue task, whose agent
explores the repository and proposes the next tickets — in a `plait-tasks` block of its
answer (taken by the core, once) or as ticket files under the tickets folder (merged
without review, then read by the tickets source). Backpressure both ways: workers wait for
work, planners wait for room. Planning stops when the planner workers have used their
cycles, or when a planning task proposed nothing (it said there is nothing left to plan).

What to add is a pure function of the state (`next_planning_task`), so a crash between a
look and its event adds nothing twice: the id of the next planning task is taken.
"""

from __future__ import annotations

import asyncio

from plait.core import events as ev
from plait.core.landing import NOTHING_TO_DO, PROPOSALS_FENCE
from plait.core.model import Phase, RunState
from plait.core.plan import TaskSpec
from plait.core.progress import stuck_tasks
from plait.core.swarm import PLANNING, can_claim
from plait.engine.project import Project
from plait.plans.swarm_config import SwarmConfig
from plait.sources import FACTORIES, Source, SourceContext

NAME = "planners"
WORK_QUEUE = "tasks"


def waiting_work(state: RunState) -> list[str]:
    """Queue tasks waiting for a worker (not started, not stuck)."""
    stuck = stuck_tasks(state)
    return [
        tid
        for tid in state.order
        if state.specs[tid].queue == WORK_QUEUE
        and state.tasks[tid].phase is Phase.WAITING
        and tid not in stuck
    ]


def planning_tasks(state: RunState) -> list[str]:
    return [tid for tid in state.order if state.specs[tid].queue == PLANNING]


def planning_done(state: RunState, swarm: SwarmConfig | None) -> bool:
    """No more planning: no planner group, its workers used their cycles, or the last
    planning task found nothing left to plan."""
    if swarm is None or not swarm.planners or not can_claim(state, PLANNING):
        return True
    finished = [t for t in planning_tasks(state) if state.tasks[t].phase is Phase.MERGED]
    if not finished:
        return False
    last = state.tasks[finished[-1]]
    return bool(last.skipped) and not last.skipped.startswith("proposed ")


def next_planning_task(state: RunState, swarm: SwarmConfig | None) -> TaskSpec | None:
    if swarm is None or state.swarm.draining or planning_done(state, swarm):
        return None
    open_planning = [t for t in planning_tasks(state) if state.tasks[t].phase is not Phase.MERGED]
    if open_planning:
        return None  # one planning task at a time: the next one sees what it added
    pending = waiting_work(state)
    room = swarm.max_pending - len(pending)
    if room <= 0:
        return None
    n = len(planning_tasks(state)) + 1
    while f"plan-{n}" in state.specs:
        n += 1
    return TaskSpec(
        id=f"plan-{n}",
        title=f"Plan up to {room} next task{'s' if room != 1 else ''}",
        description=_brief(state, swarm, pending, room),
        landing="merge",
        queue=PLANNING,
        origin="planner",
    )


def _brief(state: RunState, swarm: SwarmConfig, pending: list[str], room: int) -> str:
    def listing(ids: list[str]) -> str:
        return "\n".join(f"- {tid}: {state.specs[tid].title}" for tid in ids[-30:]) or "(none)"

    done = [
        tid
        for tid in state.order
        if state.specs[tid].queue == WORK_QUEUE and state.tasks[tid].phase is Phase.MERGED
    ]
    goal = swarm.goal or "Improve this repository: find the most useful next changes."
    return (
        f"## Goal\n\n{goal}\n\n"
        f"## Tasks waiting for a worker\n\n{listing(pending)}\n\n"
        f"## Tasks done\n\n{listing(done)}\n\n"
        "## What to do\n\n"
        f"Explore the repository (read only) and propose at most {room} new tasks that move "
        "the goal forward, each small enough for one agent in one session, none repeating a "
        "task above. End your answer with a fenced block "
        f"```{PROPOSALS_FENCE}``` holding a JSON list of tickets: "
        '`{"id", "summary", "description", "acceptance": [...], "files": [...], '
        '"dependencies": [...]}` (ids: lowercase words joined by "-"). '
        f"If nothing is left to do for the goal, end with a line `{NOTHING_TO_DO}: <why>`."
    )


class PlannersSource:
    name = NAME

    def __init__(self, swarm: SwarmConfig, *, interval: float = 1.0) -> None:
        self.swarm = swarm
        self.interval = interval

    async def run(self, ctx: SourceContext) -> None:
        while True:
            await self.look(ctx)
            await asyncio.sleep(self.interval)

    async def look(self, ctx: SourceContext) -> TaskSpec | None:
        spec = next_planning_task(ctx.state(), self.swarm)
        if spec is not None:
            await ctx.submit(ev.TasksAdded(at=ctx.clock(), tasks=(spec,)))
        return spec


def for_project(project: Project) -> Source | None:
    swarm = project.effective().swarm
    if swarm is None or not swarm.planners:
        return None
    return PlannersSource(swarm)


FACTORIES.append(for_project)
