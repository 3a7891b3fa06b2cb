"""P4 scheduling quality: makespan over a lower bound on random DAGs, simulated time.

Each DAG (200 tasks, agent turns of 10 s to 5 min, concurrency 8) is run through the real
controller in an instant world (`bench.common.InstantRun`): an agent turn is answered
after its duration, every git/forge step, CI and poll at once. So the makespan reflects
only the order in which `decide` starts work. The plans carry no duration estimates
(every task has weight 1), as most real plans; the bound is max(critical path, total
work / concurrency).
"""

from __future__ import annotations

import random

from bench.common import Chart, Figure, InstantRun, Report, lower_bound, median, random_dag

TITLE = "scheduling quality"
GOAL = 1.03
WORST = 1.10
CONCURRENCY = 8


def run(quick: bool = False) -> Report:
    dags, tasks = (3, 40) if quick else (20, 200)
    report = Report(id="P4", title=TITLE, quick=quick)
    ratios: list[float] = []
    spans: list[float] = []
    bounds: list[float] = []
    for seed in range(dags):
        specs, durations = random_dag(random.Random(seed), tasks)
        spans.append(InstantRun(specs, durations, concurrency=CONCURRENCY).run())
        bounds.append(lower_bound(specs, durations, CONCURRENCY))
        ratios.append(spans[-1] / bounds[-1])
    mid = median(ratios)
    report.add(
        Figure(
            name=f"makespan / lower bound, median of {dags} DAGs ({tasks} tasks, "
            f"concurrency {CONCURRENCY})",
            value=mid,
            unit="x",
            goal=f"<= {GOAL}",
            passed=mid <= GOAL,
        )
    )
    worst = max(ratios)
    report.add(
        Figure(name="worst DAG", value=worst, unit="x", goal=f"<= {WORST}", passed=worst <= WORST)
    )
    report.charts.append(
        Chart(
            title=f"makespan vs lower bound per DAG (simulated minutes, concurrency {CONCURRENCY})",
            unit="minutes",
            groups=tuple(f"#{seed}" for seed in range(dags)),
            series={
                "makespan": tuple(s / 60 for s in spans),
                "lower bound": tuple(b / 60 for b in bounds),
            },
        )
    )
    return report
