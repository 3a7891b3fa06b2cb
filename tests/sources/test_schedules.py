"""Schedules: fired by the engine on a manual clock, once per due time across restarts.

Each engine here is the real one (store, executors, the script agent) with its clock
replaced by a manual one; the schedule source looks every few milliseconds of real time,
and only the manual clock says what is due.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plait.core import events as ev
from plait.core.model import RunState
from plait.engine.loop import Engine
from plait.engine.project import Project, build_engine, create_project, open_project, start_project
from plait.engine.settings import Settings
from plait.sources.schedules import plan_runs, run_id
from plait.store import schedules as book
from plait.store.schedules import Schedule
from plait.testing.gitrepo import GitRepo
from plait.testing.schedule_torture import schedule_service

DAY = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
THREE_AM = DAY + 3 * 3600


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / "home"))
    repo = GitRepo.init(tmp_path / "repo", files={"README.md": "notes\n"})
    proj = create_project("sched", Settings(repo=str(repo.path), agent="script"))
    start_project(proj)
    proj.close()
    return open_project("sched")


def nightly(*, catch_up: str = "skip") -> Schedule:
    return Schedule(
        name="nightly",
        cron="0 3 * * *",
        kind="task",
        payload={"title": "Nightly check", "landing": "none"},
        catch_up=catch_up,
        created_at=DAY,
    )


def run_engine(proj: Project, clock: Clock, done: Callable[[RunState], bool]) -> RunState:
    """One engine with the schedule source, on `clock`, until `done` (or 3 s of looks)."""

    async def main() -> RunState:
        engine = build_engine(proj)
        engine.clock = clock
        schedules = schedule_service(proj.name)

        async def stopper(e: Engine) -> None:
            for _ in range(150):
                await asyncio.sleep(0.02)
                if e.state is not None and done(e.state):
                    break
            e.stop()

        result = await engine.run([], until=None, services=[schedules, stopper])
        return result.state

    return asyncio.run(main())


def runs(proj: Project) -> list[str]:
    """Ids of the tasks schedules added, once per TasksAdded event that carried them."""
    return [
        t.id
        for _, event in proj.store.events()
        if isinstance(event, ev.TasksAdded)
        for t in event.tasks
        if t.origin == "schedule"
    ]


def test_a_due_run_fires_exactly_once_across_a_restart_at_the_due_time(project: Project) -> None:
    book.add(project.store, nightly())
    due_id = run_id("nightly", THREE_AM)
    assert due_id == "nightly-20261201-030000"
    # Before the due time: nothing.
    run_engine(project, Clock(THREE_AM - 1), lambda s: False)
    assert runs(project) == []
    # At the due time it fires; the engine dies before it noted the due time as handled.
    state = run_engine(project, Clock(THREE_AM), lambda s: due_id in s.specs)
    assert due_id in state.specs
    project.store.db.execute("DELETE FROM meta WHERE key = 'source:schedules:nightly:last'")
    # The next engine, still at the due time, finds the run already there.
    run_engine(project, Clock(THREE_AM + 5), lambda s: False)
    assert runs(project) == [due_id]
    assert project.store.get_meta("source:schedules:nightly:last") == repr(THREE_AM)
    # And the next day's run fires in turn.
    run_engine(project, Clock(THREE_AM + 86400), lambda s: len(s.specs) == 2)
    assert runs(project) == [due_id, run_id("nightly", THREE_AM + 86400)]


def test_a_run_missed_while_no_engine_ran_is_skipped_and_counted(project: Project) -> None:
    book.add(project.store, nightly())
    run_engine(project, Clock(THREE_AM + 2 * 3600), lambda s: False)
    assert runs(project) == []
    assert project.store.get_meta("source:schedules:nightly:skipped") == "1"


def test_catch_up_once_runs_one_for_every_missed_run(project: Project) -> None:
    book.add(project.store, nightly(catch_up="once"))
    three_days_late = THREE_AM + 2 * 86400 + 3600
    latest = run_id("nightly", THREE_AM + 2 * 86400)
    run_engine(project, Clock(three_days_late), lambda s: latest in s.specs)
    assert runs(project) == [latest]
    assert project.store.get_meta("source:schedules:nightly:skipped") == "2"


def test_a_paused_schedule_fires_nothing(project: Project) -> None:
    book.add(project.store, nightly())
    book.set_paused(project.store, "nightly", True)
    run_engine(project, Clock(THREE_AM), lambda s: False)
    assert runs(project) == []


def test_plan_runs_reads_full_cron_syntax_in_the_schedule_time_zone() -> None:
    weekdays = Schedule(name="w", cron="30 9 * * mon-fri", kind="task", tz="Europe/Paris")
    # Saturday 2026-12-05 09:30 Paris is not due; Monday 2026-12-07 09:30 Paris (08:30 UTC) is.
    saturday = datetime(2026, 12, 5, 8, 30, tzinfo=UTC).timestamp()
    monday = datetime(2026, 12, 7, 8, 30, tzinfo=UTC).timestamp()
    assert plan_runs(weekdays, saturday - 60, saturday + 1).fire is None
    assert plan_runs(weekdays, saturday, monday).fire == monday
