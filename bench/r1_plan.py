"""R1: kill -9 torture of a plan — `plait run` of a 30-task plan (stacks, joins, chains, a
CI failure, a conflict and a review round per ten tasks) killed at seeded random moments
and resumed until every task landed, on the local forge or the GitHub double.
Goal: no broken promise (every task merged once; no PR, comment, review, label, merge or
notification twice; main holds each change once; no process left; the store passes
`PRAGMA integrity_check` after every kill).

`python -m bench R1 [--kills N] [--tasks N] [--forge local|github] [--seed S]`.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.common import Figure, Report
from plait.testing.torture_plan import PlanTorture

TITLE = "plan kill -9 torture"


@dataclass(frozen=True, slots=True)
class Options:
    kills: int = 100
    tasks: int = 30
    forge: str = "local"
    seed: int = 0


OPTIONS = Options()


def configure(options: Options) -> None:
    """What `python -m bench R1 --kills … --tasks … --forge … --seed …` asked for."""
    global OPTIONS
    OPTIONS = options


def run(quick: bool = False) -> Report:
    o = Options(kills=1, tasks=3, forge=OPTIONS.forge, seed=OPTIONS.seed) if quick else OPTIONS
    report = Report(id="R1", title=f"{TITLE} ({o.forge} forge, seed {o.seed})", quick=quick)
    with tempfile.TemporaryDirectory(prefix="plait-r1-") as tmp:
        torture = PlanTorture(Path(tmp), tasks=o.tasks, forge=o.forge, seed=o.seed)
        plan = torture.run(o.kills, timeout=600 + 30 * o.kills, log=_log)
    problems = plan.problems()
    merged = sum(1 for s in plan.statuses.values() if s == "merged")
    report.add(
        Figure(
            name=f"broken promises after {plan.loop.kills} kills of {o.tasks} tasks",
            value=float(len(problems)),
            unit="problems",
            goal="0",
            passed=not problems and plan.loop.kills == o.kills,
        )
    )
    report.add(Figure(name="tasks merged", value=float(merged), unit="tasks", goal=""))
    report.add(Figure(name="engine runs", value=float(plan.loop.runs), unit="runs", goal=""))
    report.add(
        Figure(
            name="notifications delivered", value=plan.notifications, unit="notifications", goal=""
        )
    )
    report.add(Figure(name="wall time", value=plan.loop.seconds, unit="s", goal=""))
    if plan.loop.kills != o.kills:
        report.notes.append(f"only {plan.loop.kills} of {o.kills} kills landed before the end")
    report.notes.extend(problems)
    return report


def _log(line: str) -> None:
    print(f"R1: {line}", file=sys.stderr, flush=True)
