"""kill -9 torture of a project with schedules (R1): an engine with the schedule source,
on a manual clock, killed at seeded random moments while its schedules fire, and started
again each time. Shared by the test suite (a few kills) and the `R1C` benchmark (more).

How this works. The project (a real repository, the script agent) has three schedules:
every minute, every five minutes (catch-up `once`) and at minute 7 of each hour, each
starting a task. The engine runs in a child process (`python -m
plait.testing.schedule_torture CLOCK_FILE STOP_FILE`) whose clock is the manual time the
parent writes to a file. The parent walks the manual clock through every due time of the
span, one at a time, and at each waits until the engine has handled it (the schedule
source's own record in the store); meanwhile, at seeded random moments after a start, it
kills the engine with SIGKILL and starts another. Because the clock never passes a due
time before it was handled, every due time must fire: none is late enough to be skipped.

What must hold at the end, however often the engine died: each due time of each schedule
started exactly one run (one `TasksAdded` carrying its id, none for any other time), every
run finished, no agent process is left in the project's worktrees, and the store passes
`PRAGMA integrity_check`.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from plait import processes
from plait.core.model import Phase, RunState, TaskState
from plait.engine.loop import Engine, Service
from plait.testing.gitrepo import GitRepo, isolated_home_env

PROJECT = "schedtorture"
START = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
# name, cron, catch-up: each starts a task with `landing: none` (the agent's turn is the run).
SCHEDULES = (
    ("minutely", "* * * * *", "skip"),
    ("five", "*/5 * * * *", "once"),
    ("hourly7", "7 * * * *", "skip"),
)
TERMINAL = {"done", "failed", "stopped"}  # where a run stays; only "done" is right


@dataclass
class ScheduleTortureResult:
    kills: int = 0
    starts: int = 0
    seconds: float = 0.0
    dues: int = 0  # due times walked through, all schedules together
    fired: Counter[str] = field(default_factory=Counter)  # run id → TasksAdded carrying it
    expected: set[str] = field(default_factory=set)
    statuses: dict[str, str] = field(default_factory=dict)  # run id → final status
    orphans: list[int] = field(default_factory=list)
    integrity: str = ""

    def problems(self) -> list[str]:
        """What broke a promise; empty when the run is right."""
        out = []
        lost = sorted(self.expected - set(self.fired))
        if lost:
            out.append(f"due times that never fired: {lost[:10]} ({len(lost)} in all)")
        extra = sorted(set(self.fired) - self.expected)
        if extra:
            out.append(f"runs for no due time: {extra[:10]}")
        twice = sorted(r for r, n in self.fired.items() if n != 1)
        if twice:
            out.append(f"fired more than once: {twice[:10]}")
        unfinished = sorted(r for r in self.expected if self.statuses.get(r) != "done")
        if unfinished:
            shown = {r: self.statuses.get(r) for r in unfinished[:10]}
            out.append(f"runs not done: {shown} ({len(unfinished)} in all)")
        if self.orphans:
            out.append(f"agent processes left: {self.orphans}")
        if self.integrity != "ok":
            out.append(f"integrity_check: {self.integrity}")
        return out


class ScheduleTorture:
    def __init__(self, tmp: Path, *, minutes: int = 30, seed: int = 0) -> None:
        self.tmp = tmp
        self.minutes = minutes
        self.rng = random.Random(seed)
        self.clock_file = tmp / "clock"
        self.stop_file = tmp / "stop"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PLAIT_"))}
        env.update(isolated_home_env(tmp / "home"))
        env.update(PLAIT_HOME=str(tmp / "plait-home"))
        self.env = env
        self.repo = GitRepo.init(tmp / "repo", files={"README.md": "schedules\n"}).path
        self._set_clock(START)
        self._create()

    # ---- set-up ------------------------------------------------------------------------
    def _create(self) -> None:
        code = (
            "import sys\n"
            "from plait.engine.project import create_project, start_project\n"
            "from plait.engine.settings import Settings\n"
            "from plait.store import schedules as book\n"
            "from plait.store.schedules import Schedule\n"
            f"proj = create_project({PROJECT!r}, Settings(repo=sys.argv[1], agent='script'))\n"
            "start_project(proj)\n"
            f"for name, cron, catch_up in {SCHEDULES!r}:\n"
            "    book.add(proj.store, Schedule(name=name, cron=cron, kind='task',\n"
            "        payload={'title': f'{name} check', 'landing': 'none'},\n"
            f"        catch_up=catch_up, created_at={START!r}))\n"
            "proj.close()\n"
        )
        subprocess.run(
            [sys.executable, "-c", code, str(self.repo)], env=self.env, check=True, timeout=120
        )

    def _set_clock(self, now: float) -> None:
        part = self.clock_file.with_suffix(".part")
        part.write_text(repr(now))
        part.replace(self.clock_file)  # whole or not at all: the child never reads half

    # ---- the run -----------------------------------------------------------------------
    def due_times(self) -> list[tuple[float, str]]:
        from plait.sources.schedules import due_times, run_id

        end = START + self.minutes * 60
        out = []
        for name, cron, _ in SCHEDULES:
            dues, _more = due_times(cron, "UTC", START, end)
            out += [(due, run_id(name, due)) for due in dues]
        return sorted(out)

    def run(
        self,
        kills: int,
        *,
        window: tuple[float, float] = (0.2, 2.5),
        timeout: float = 900.0,
        log: Callable[[str], None] | None = None,
    ) -> ScheduleTortureResult:
        result = ScheduleTortureResult()
        dues = self.due_times()
        result.dues = len(dues)
        result.expected = {rid for _, rid in dues}
        # Kill moments: seeded, spread over the walk (by due time index).
        at = sorted(self.rng.sample(range(len(dues) * 4), k=min(kills, len(dues) * 4)))
        kill_at = Counter(i // 4 for i in at)
        started = time.monotonic()
        proc = self._start(result)
        for index, (due, _rid) in enumerate(dues):
            self._set_clock(due + 1)
            for _ in range(kill_at.get(index, 0)):
                time.sleep(self.rng.uniform(*window))
                proc = self._kill_and_restart(proc, result, log)
            while not self._handled(due):
                assert time.monotonic() - started < timeout, "the torture run did not finish"
                if proc.poll() is not None:
                    raise AssertionError(self._died(proc, result))
                time.sleep(0.02)
        self._set_clock(START + self.minutes * 60 + 30)
        while not self._all_finished(result.expected):
            assert time.monotonic() - started < timeout, "the runs did not finish"
            if proc.poll() is not None:
                raise AssertionError(self._died(proc, result))
            time.sleep(0.1)
        self.stop_file.write_text("stop")
        proc.wait(timeout=120)
        result.seconds = time.monotonic() - started
        self._collect(result)
        return result

    def _start(self, result: ScheduleTortureResult) -> subprocess.Popen[bytes]:
        result.starts += 1
        err = (self.tmp / f"engine{result.starts}.err").open("w")
        argv = [sys.executable, "-m", "plait.testing.schedule_torture"]
        argv += [PROJECT, str(self.clock_file), str(self.stop_file)]
        with err:
            return subprocess.Popen(
                argv, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err,
            )  # fmt: skip

    def _kill_and_restart(
        self,
        proc: subprocess.Popen[bytes],
        result: ScheduleTortureResult,
        log: Callable[[str], None] | None,
    ) -> subprocess.Popen[bytes]:
        if proc.poll() is not None:
            raise AssertionError(self._died(proc, result))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        result.kills += 1
        self._check_integrity(result)
        if log is not None:
            log(f"kill {result.kills} (engine {result.starts})")
        return self._start(result)

    def _died(self, proc: subprocess.Popen[bytes], result: ScheduleTortureResult) -> str:
        text = (self.tmp / f"engine{result.starts}.err").read_text()[-3000:]
        return f"the engine exited {proc.returncode} by itself:\n{text}"

    # ---- reading the store (WAL: safe beside the engine) ---------------------------------
    def _db(self) -> sqlite3.Connection:
        path = Path(self.env["PLAIT_HOME"]) / "projects" / PROJECT / "plait.db"
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)

    def _handled(self, due: float) -> bool:
        """Every schedule due at `due` has handled it (its last due time is that late)."""
        from plait.sources.schedules import due_times

        keys = [
            f"source:schedules:{name}:last"
            for name, cron, _ in SCHEDULES
            if due in due_times(cron, "UTC", due - 1, due)[0]
        ]
        with self._db() as db:
            query = "SELECT key, value FROM meta WHERE key LIKE 'source:schedules:%'"
            rows = dict(db.execute(query).fetchall())
        return all(float(rows.get(k) or 0) >= due for k in keys)

    def _all_finished(self, expected: set[str]) -> bool:
        statuses = self._statuses()
        return all(statuses.get(r) in TERMINAL for r in expected)

    def _statuses(self) -> dict[str, str]:
        from plait.store.sqlite import Store

        store = Store(str(Path(self.env["PLAIT_HOME"]) / "projects" / PROJECT / "plait.db"))
        try:
            state = store.load()
            if state is None:
                return {}
            return {tid: _status(task) for tid, task in state.tasks.items()}
        finally:
            store.close()

    def _check_integrity(self, result: ScheduleTortureResult) -> None:
        with self._db() as db:
            result.integrity = str(db.execute("PRAGMA integrity_check").fetchone()[0])
        if result.integrity != "ok":
            raise AssertionError(f"integrity_check after kill {result.kills}: {result.integrity}")

    def _collect(self, result: ScheduleTortureResult) -> None:
        from plait.core import events as ev
        from plait.store.sqlite import Store

        store = Store(str(Path(self.env["PLAIT_HOME"]) / "projects" / PROJECT / "plait.db"))
        try:
            for _, event in store.events():
                if isinstance(event, ev.TasksAdded):
                    result.fired.update(t.id for t in event.tasks if t.origin == "schedule")
        finally:
            store.close()
        result.statuses = self._statuses()
        self._check_integrity(result)
        worktrees = Path(self.env["PLAIT_HOME"]) / "projects" / PROJECT / "worktrees"
        result.orphans = [p.pid for p in processes.under(str(worktrees))]


def _status(task: TaskState) -> str:
    if task.phase is Phase.MERGED:
        return "done"  # landing "none": the agent's turn was the run
    if task.stopped:
        return "stopped"
    return "failed" if task.failed else task.phase.value


def schedule_service(project: str) -> Service:
    """An engine service running the schedule source, looking every 10 ms of real time
    (only the engine's clock says what is due)."""
    from plait.sources import SourceContext
    from plait.sources.schedules import ScheduleSource

    source = ScheduleSource(sleep=lambda _: asyncio.sleep(0.01))

    async def schedules(e: Engine) -> None:
        def state() -> RunState:
            assert e.state is not None
            return e.state

        ctx = SourceContext(project=project, submit=e.submit, state=state,
                            store=e.store, clock=e.clock)  # fmt: skip
        await source.run(ctx)

    return schedules


# ---- the engine, in the child process --------------------------------------------------------
def _engine(project: str, clock_file: Path, stop_file: Path) -> None:
    from plait.engine.project import build_engine, open_project

    proj = open_project(project)

    def now() -> float:
        return float(clock_file.read_text())

    async def main() -> None:
        engine = build_engine(proj)
        engine.clock = now
        schedules = schedule_service(proj.name)

        async def stopper(e: Engine) -> None:
            while not stop_file.exists():
                await asyncio.sleep(0.05)
            e.stop()

        await engine.run([], until=None, services=[schedules, stopper])

    asyncio.run(main())
    proj.close()


if __name__ == "__main__":
    _engine(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
