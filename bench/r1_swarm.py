"""R1S: kill -9 torture of a swarm run — `plait swarm` (3 workers, a reviewer, 10 tickets,
the script agent) killed at seeded random moments and started again until its queue is
empty. Goal: no ticket lost, none merged twice, no claim held, no agent process left."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import Figure, Report
from plait.testing.swarm_torture import Torture

TITLE = "swarm kill -9 torture"


def run(quick: bool = False) -> Report:
    runs, kills, tickets = (1, 1, 3) if quick else (4, 30, 10)
    report = Report(id="R1S", title=TITLE, quick=quick)
    problems: list[str] = []
    total_kills = 0
    for seed in range(runs):
        with tempfile.TemporaryDirectory(prefix="plait-r1s-") as tmp:
            result = Torture(Path(tmp), tickets=tickets, seed=seed).run(kills=kills)
        total_kills += result.kills
        problems += [f"seed {seed}: {p}" for p in result.problems(tickets)]
    report.add(
        Figure(
            name=f"runs with a broken promise, of {runs} ({total_kills} kills in all)",
            value=float(len({p.split(":")[0] for p in problems})),
            unit="runs",
            goal="0",
            passed=not problems,
        )
    )
    report.notes.extend(problems)
    return report
