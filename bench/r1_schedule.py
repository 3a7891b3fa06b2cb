"""R1C: kill -9 torture of a project with schedules — an engine whose three schedules
(every minute, every five minutes with catch-up `once`, minute 7 of each hour) fire on a
manual clock, killed at seeded random moments and started again, while the clock walks
through every due time of the span. Goal: each due time started exactly one run, every
run done, no agent process left, `PRAGMA integrity_check` ok after every kill."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench.common import Figure, Report
from plait.testing.schedule_torture import ScheduleTorture

TITLE = "schedule kill -9 torture"


def run(quick: bool = False) -> Report:
    minutes, kills, seed = (3, 1, 0) if quick else (75, 100, 0)
    report = Report(id="R1C", title=f"{TITLE} (seed {seed})", quick=quick)
    with tempfile.TemporaryDirectory(prefix="plait-r1c-") as tmp:
        torture = ScheduleTorture(Path(tmp), minutes=minutes, seed=seed)
        result = torture.run(kills, timeout=600 + 30 * kills, log=_log)
    problems = result.problems()
    report.add(
        Figure(
            name=f"broken promises after {result.kills} kills over {result.dues} due times",
            value=float(len(problems)),
            unit="problems",
            goal="0",
            passed=not problems and result.kills == kills,
        )
    )
    done = sum(1 for s in result.statuses.values() if s == "done")
    report.add(Figure(name="runs fired and done", value=float(done), unit="runs", goal=""))
    report.add(Figure(name="engine starts", value=float(result.starts), unit="runs", goal=""))
    report.add(Figure(name="wall time", value=round(result.seconds, 1), unit="s", goal=""))
    report.notes.extend(problems)
    return report


def _log(line: str) -> None:
    print(f"R1C: {line}", file=sys.stderr, flush=True)
