"""P1 controller scale: load a 10,000-task plan; per-event cost at 10,000 vs 100 tasks.

Both runs use the same generated shape (independent groups of ten tasks: fan-out, join,
chain) and the same kind and number of events: the first handful of tasks started by the
critical path go through workspace, agent turn, push, PR, CI, ready, merge and cleanup in
an instant world. Only the controller's `decide` (plus the driver's O(effects)
bookkeeping) is inside the timed region.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.common import Figure, Report, drain_instant, group_plan_markdown, median
from plait.core import effects as fx
from plait.core.model import RunConfig
from plait.core.plan import TaskSpec
from plait.plans import load_plan
from plait.testing.core_driver import CoreDriver

TITLE = "controller scale"


def _load(path: Path, repeats: int) -> tuple[float, tuple[TaskSpec, ...]]:
    """Median seconds of `load_plan` (read, parse, validate) and the tasks it gave."""
    times: list[float] = []
    tasks: tuple[TaskSpec, ...] = ()
    for _ in range(repeats):
        start = time.perf_counter()
        tasks = load_plan(path).tasks
        times.append(time.perf_counter() - start)
    return median(times), tasks


def per_event_costs(specs: tuple[TaskSpec, ...], events: int) -> list[float]:
    """Seconds each of the first `events` decided events took (after RunStarted)."""
    config = RunConfig(project="bench", repo="/sim/repo", max_concurrency=8)
    driver = CoreDriver(specs, config=config)
    driver.start()
    costs: list[float] = []

    def feed(step: Callable[[], object]) -> None:
        start = time.perf_counter()
        step()
        costs.append(time.perf_counter() - start)
        # A real engine keeps no history of states; neither need we.
        driver.decisions.clear()

    while len(costs) < events:
        drain_instant(driver, feed)
        agents = driver.pending(fx.RunAgent)
        if not agents:
            break
        feed(partial(driver.answer, agents[0].id, "ok"))
    return costs[:events]


def run(quick: bool = False) -> Report:
    big, small = (1_000, 100) if quick else (10_000, 100)
    events = 40 if quick else 120
    report = Report(id="P1", title=TITLE, quick=quick)
    with tempfile.TemporaryDirectory(prefix="plait-bench-p1-") as tmp:
        paths = {}
        for n in (small, big):
            paths[n] = Path(tmp) / f"plan-{n}.md"
            paths[n].write_text(group_plan_markdown(n), encoding="utf-8")
        load_s, big_specs = _load(paths[big], 1 if quick else 3)
        _, small_specs = _load(paths[small], 1)
    report.add(
        Figure(
            name=f"load + validate a {big:,}-task Markdown plan",
            value=load_s,
            unit="s",
            goal="< 1 s",
            passed=load_s < 1.0,
        )
    )
    small_cost = median(per_event_costs(small_specs, events))
    big_cost = median(per_event_costs(big_specs, events))
    ratio = big_cost / small_cost if small_cost else float("inf")
    for n, cost in ((small, small_cost), (big, big_cost)):
        report.add(
            Figure(name=f"per-event decide at {n:,} tasks", value=cost * 1e3, unit="ms", goal="")
        )
    report.add(
        Figure(
            name=f"per-event cost ratio {big:,} / {small} tasks (median of {events} events)",
            value=ratio,
            unit="x",
            goal="<= 2",
            passed=ratio <= 2.0,
        )
    )
    if ratio > 2.0:
        report.notes.append(
            "schedule() walks every task on every event (attention, readiness, housekeeping "
            "per task); see `python -m bench P1 --profile`"
        )
    return report
