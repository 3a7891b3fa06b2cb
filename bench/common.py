"""What every benchmark reports, and the small simulated worlds they share.

How this works. A `Report` holds one or more `Figure`s, each with its goal and verdict.
`drain_instant` plays the world around the real controller (`plait.testing.core_driver`)
where every git and forge step, CI and poll completes at once; only agent turns take
(simulated) time. `InstantRun` builds on it to play a whole run, so makespans measure the
scheduler alone.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import Phase, RunConfig
from plait.core.plan import TaskSpec
from plait.core.progress import settled
from plait.testing.core_driver import CoreDriver


class Skip(Exception):
    """This benchmark cannot run on this machine (say why); reported, not a crash."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    name: str
    value: float
    unit: str
    goal: str
    # None: informative only (no goal of its own).
    passed: bool | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value": round(self.value, 6),
            "unit": self.unit,
            "goal": self.goal,
            "pass": self.passed,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Chart:
    """Grouped bars for the HTML page: one bar per series in each group (x label)."""

    title: str
    unit: str
    groups: tuple[str, ...]
    series: dict[str, tuple[float, ...]]  # name → one value per group

    def to_json(self) -> dict[str, object]:
        return {
            "title": self.title,
            "unit": self.unit,
            "groups": list(self.groups),
            "series": {k: [round(v, 6) for v in vs] for k, vs in self.series.items()},
        }


@dataclass(slots=True, kw_only=True)
class Report:
    id: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    seconds: float = 0.0
    quick: bool = False

    @property
    def passed(self) -> bool:
        return all(f.passed is not False for f in self.figures)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)

    def to_json(self) -> dict[str, object]:
        return {
            "type": "benchmark",
            "id": self.id,
            "title": self.title,
            "pass": self.passed,
            "quick": self.quick,
            "seconds": round(self.seconds, 3),
            "figures": [f.to_json() for f in self.figures],
            "notes": self.notes,
            "charts": [c.to_json() for c in self.charts],
        }

    def render(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        lines = [f"{self.id} {self.title}: {verdict}  ({self.seconds:.1f} s)"]
        for f in self.figures:
            mark = {True: "PASS", False: "FAIL", None: "info"}[f.passed]
            goal = f"  goal {f.goal}" if f.goal else ""
            lines.append(f"  [{mark}] {f.name}: {_fmt(f.value)} {f.unit}{goal}")
        lines += [f"  - {note}" for note in self.notes]
        return "\n".join(lines)


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) >= 100:
        return f"{int(value):,}"
    return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of `fn` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# ---- generated plans ---------------------------------------------------------------------
GROUP = 10


def group_deps(n: int) -> dict[int, tuple[int, ...]]:
    """n tasks (1-based) in independent groups of 10: a root fanning out to four tasks, a
    join of two of them, and a chain of four after the join."""
    deps: dict[int, tuple[int, ...]] = {}
    for i in range(1, n + 1):
        base = ((i - 1) // GROUP) * GROUP
        k = (i - 1) % GROUP
        if k == 0:
            d: tuple[int, ...] = ()
        elif k <= 4:
            d = (base + 1,)
        elif k == 5:
            d = (base + 2, base + 3)
        else:
            d = (base + k,)
        deps[i] = tuple(x for x in d if x <= n)
    return deps


def group_plan_markdown(n: int) -> str:
    """A Markdown gameplan for `group_deps(n)`, as a person would write it."""
    classes = ("INFRA", "BEHAVIOR", "GATED")
    out = [f"# Gameplan: generated plan of {n} tasks", "", "## Problem Statement", ""]
    out += ["A generated plan for the controller-scale benchmark.", "", "## Patches", ""]
    deps = group_deps(n)
    for i in deps:
        out += [f"### Patch {i} [{classes[i % 3]}]: change module {i}", ""]
        out += [f"Edit `src/mod_{i}.py` so that it does thing {i}; add a test.", ""]
    out += ["## Dependency Graph", ""]
    for i, d in deps.items():
        out.append(f"- Patch {i} [{classes[i % 3]}] -> [{', '.join(map(str, d))}]")
    return "\n".join(out) + "\n"


def random_dag(rng: random.Random, n: int) -> tuple[list[TaskSpec], dict[str, float]]:
    """A random DAG: each task depends on 0-3 of the 30 tasks before it; agent turns take
    10 s to 5 min (log-uniform, so a few long tasks dominate like in real plans)."""
    specs: list[TaskSpec] = []
    durations: dict[str, float] = {}
    for i in range(n):
        window = list(range(max(0, i - 30), i))
        k = min(len(window), rng.choice((0, 1, 1, 2, 2, 3)))
        deps = tuple(f"t{j}" for j in sorted(rng.sample(window, k)))
        tid = f"t{i}"
        durations[tid] = round(10.0 * 30.0 ** rng.random(), 3)
        specs.append(TaskSpec(id=tid, title=f"task {i}", depends_on=deps))
    return specs, durations


def lower_bound(specs: list[TaskSpec], durations: dict[str, float], concurrency: int) -> float:
    """max(critical path, total work / concurrency): no schedule can beat it."""
    finish: dict[str, float] = {}
    for s in specs:  # plan order is a topological order here
        finish[s.id] = durations[s.id] + max((finish[d] for d in s.depends_on), default=0.0)
    return max(max(finish.values()), sum(durations.values()) / concurrency)


# ---- an instant world ----------------------------------------------------------------------
# Calls one step that decides one event; a benchmark passes its own to time the steps.
Feed = Callable[[Callable[[], object]], None]


def _plain_feed(step: Callable[[], object]) -> None:
    step()


def drain_instant(driver: CoreDriver, feed: Feed = _plain_feed) -> int:
    """Answer every outstanding non-agent effect, finish CI green and report PR changes,
    until nothing instant is left. `feed` wraps each call that decides one event (to time
    it). Returns how many events were decided."""
    decided = 0
    while True:
        before = decided
        for effect in list(driver.outstanding.values()):
            if not isinstance(effect, fx.RunAgent) and effect.id in driver.outstanding:
                feed(partial(driver.answer, effect.id, "ok"))
                decided += 1
        # Only open PRs can have CI under way or a changed view: no scan of the whole plan.
        for tid in {task for _, task in driver.world.ci_due.values()}:
            driver.finish_ci(tid, passed=True)
        for tid in [t for t, pr in driver.prs.items() if pr.state == "open"]:
            task = driver.st.tasks[tid]
            if task.phase is not Phase.ACTIVE or task.pr is None:
                continue
            view = driver.world.view(tid)
            if view.number == task.pr.number and view != task.pr:
                event = ev.PRChanged(at=driver.now, task=tid, pr=view)
                feed(partial(driver.feed, event))
                decided += 1
        if decided == before:
            return decided


class InstantRun:
    """A whole run where only agent turns take time (`durations` per task, seconds)."""

    def __init__(
        self,
        specs: list[TaskSpec],
        durations: dict[str, float],
        *,
        concurrency: int,
        start_at: float = 0.0,
    ) -> None:
        config = RunConfig(project="bench", repo="/sim/repo", max_concurrency=concurrency)
        self.driver = CoreDriver(specs, config=config, start_at=start_at)
        self.durations = durations
        self.start_at = start_at
        self.agent_due: dict[str, float] = {}
        self.events = 0

    def run(self) -> float:
        """Play the run to the end; returns the makespan (last merge − start)."""
        d = self.driver
        d.start()
        while True:
            self.events += drain_instant(d)
            for effect in d.pending(fx.RunAgent):
                self.agent_due.setdefault(effect.id, d.now + self.durations[effect.task])
            if not self.agent_due:
                if settled(d.st) and not d.outstanding:
                    break
                raise RuntimeError(f"the simulated run is stuck: {d.describe()}")
            effect_id = min(self.agent_due, key=lambda k: (self.agent_due[k], k))
            d.now = max(d.now, self.agent_due.pop(effect_id))
            d.answer(effect_id, "ok")
            self.events += 1
        unmerged = [t.id for t in d.st.tasks.values() if t.phase is not Phase.MERGED]
        if unmerged:
            raise RuntimeError(f"tasks not merged: {unmerged[:5]}")
        return max(t.finished_at for t in d.st.tasks.values()) - self.start_at
