"""P5: GitHub API cost of polling 100 open PRs — plait's batched, change-driven poll next to
the one-query-per-PR baseline, on the GitHub double (real HTTP, GitHub's schema and costs).

Per cycle: GraphQL requests, and rate points (GraphQL cost as GitHub computes it + REST
requests that were not 304). A changing cycle follows review comments on some PRs and CI
finishing on others; an idle cycle follows nothing. The baseline sends one PR query (the
same fields) per PR, every cycle, changed or not.

    python -m bench.p5_github_api [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import Chart, Figure, Report
from plait.forges.github import queries
from plait.forges.github.forge import GitHubForge
from plait.forges.github.token import Token
from plait.testing.github_double import Check, GitHubDouble, Recorded
from plait.testing.gitrepo import GitRepo, run_git

TITLE = "GitHub API cost per poll cycle (batched vs one query per PR)"
OWNER, NAME = "acme", "app"
CHANGING_CYCLES = 3


def _points(requests: list[Recorded]) -> int:
    graphql = sum(r.graphql_cost or 0 for r in requests if r.path == "/graphql")
    core = sum(1 for r in requests if r.resource == "core" and r.status != 304)
    return graphql + core


def _graphql(requests: list[Recorded]) -> int:
    return sum(1 for r in requests if r.path == "/graphql")


def _world(gh: GitHubDouble, root: Path, count: int) -> tuple[GitRepo, dict[str, int]]:
    gh.create_repo(OWNER, NAME, {"README.md": "hi\n"})
    run_git("clone", "-q", gh.repo_remote_url(OWNER, NAME), str(root / "clone"), cwd=root)
    clone = GitRepo(root / "clone")
    clone.git("config", "user.name", "bench")
    clone.git("config", "user.email", "bench@example.invalid")
    names = [f"task-{i:03d}" for i in range(count)]
    for name in names:
        clone.git("checkout", "-q", "-B", name, "main")
        clone.commit({f"{name}.txt": name}, name)
    clone.git("checkout", "-q", "main")
    clone.git("push", "-q", "origin", *names)
    prs = {}
    for name in names:
        pr = gh.open_pr(OWNER, NAME, head=name, title=name, draft=False)
        gh.set_check_runs(OWNER, NAME, pr.head_sha, [Check(name="ci", conclusion=None)])
        prs[name] = pr.number
    return clone, prs


def _change(gh: GitHubDouble, prs: dict[str, int], cycle: int) -> None:
    """Cycle 0: every PR gets a review comment. Later cycles: about a tenth of the PRs get
    a review comment, another tenth finish CI."""
    numbers = sorted(prs.values())
    step = 1 if cycle == 0 else max(1, len(numbers) // 10)
    for number in numbers[cycle % step :: step]:
        gh.add_review_thread(OWNER, NAME, number, path="README.md", line=1, body=f"c{cycle}")
    for number in numbers[(cycle + 1) % step :: step]:
        sha = gh.pr(OWNER, NAME, number).head_sha
        gh.set_check_runs(OWNER, NAME, sha, [Check(name="ci", conclusion="success")])


async def _measure(gh: GitHubDouble, clone: GitRepo, prs: dict[str, int]) -> dict[str, float]:
    forge = GitHubForge(str(clone.path), token=Token("bench"), api_url=gh.api_url)
    try:
        await forge.poll(prs)  # cold: everything is new
        changing_q, changing_p = [], []
        for cycle in range(CHANGING_CYCLES):
            _change(gh, prs, cycle)
            gh.clear_requests()
            await forge.poll(prs)
            changing_q.append(_graphql(gh.requests))
            changing_p.append(_points(gh.requests))
        gh.clear_requests()
        await forge.poll(prs)
        idle = gh.requests
        gh.clear_requests()
        for number in prs.values():  # the baseline: one query per PR, blind to change
            await forge.client.graphql(
                queries.poll_query(1), {"owner": OWNER, "name": NAME, "n0": number}
            )
        base = gh.requests
    finally:
        await forge.close()
    return {
        "graphql_requests_per_changing_cycle": max(changing_q),
        "rate_points_per_changing_cycle": max(changing_p[1:]),
        "rate_points_when_every_pr_changed": changing_p[0],
        "graphql_requests_per_idle_cycle": _graphql(idle),
        "rate_points_per_idle_cycle": _points(idle),
        "baseline_graphql_requests_per_cycle": _graphql(base),
        "baseline_rate_points_per_cycle": _points(base),
    }


def measure(quick: bool) -> tuple[int, dict[str, float]]:
    count = 20 if quick else 100
    with (
        tempfile.TemporaryDirectory(prefix="plait-p5-") as tmp,
        GitHubDouble(root=Path(tmp) / "gh") as gh,
    ):
        clone, prs = _world(gh, Path(tmp), count)
        return count, asyncio.run(_measure(gh, clone, prs))


def run(quick: bool = False) -> Report:
    count, m = measure(quick)
    report = Report(id="P5", title=TITLE, quick=quick)
    q, idle = m["graphql_requests_per_changing_cycle"], m["rate_points_per_idle_cycle"]
    figures = [
        (f"GraphQL requests per changing cycle, {count} PRs", q, "requests", "<= 2", q <= 2),
        (f"rate points per idle cycle, {count} PRs", idle, "points", "0", idle == 0),
        ("rate points per changing cycle (a fifth of the PRs changed)",
         m["rate_points_per_changing_cycle"], "points", "", None),
        ("rate points when every PR changed", m["rate_points_when_every_pr_changed"], "points",
         "", None),
        ("baseline (one query per PR): GraphQL requests per cycle",
         m["baseline_graphql_requests_per_cycle"], "requests", "", None),
        ("baseline (one query per PR): rate points per cycle",
         m["baseline_rate_points_per_cycle"], "points", "", None),
    ]  # fmt: skip
    for name, value, unit, goal, passed in figures:
        report.add(Figure(name=name, value=value, unit=unit, goal=goal, passed=passed))
    hourly = 3600 / 30
    report.notes.append(
        f"at one cycle per 30 s: baseline {m['baseline_rate_points_per_cycle'] * hourly:,.0f} "
        f"GraphQL points/hour; plait {m['rate_points_per_changing_cycle'] * hourly:,.0f} "
        f"with a fifth of the PRs changing each cycle, "
        f"{m['rate_points_per_idle_cycle'] * hourly:,.0f} when idle"
    )
    report.notes.append("metrics: " + json.dumps(m, sort_keys=True))
    base = m["baseline_rate_points_per_cycle"]
    report.charts.append(
        Chart(
            title=f"API cost per poll cycle, {count} open PRs: plait vs one query per PR",
            unit="rate points",
            groups=("a fifth of the PRs changed", "every PR changed", "idle"),
            series={
                "plait": (
                    m["rate_points_per_changing_cycle"],
                    m["rate_points_when_every_pr_changed"],
                    m["rate_points_per_idle_cycle"],
                ),
                "one query per PR": (base, base, base),
            },
        )
    )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.p5_github_api", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 PRs instead of 100")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    report = run(args.quick)
    report.seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps(report.to_json() | _metrics_of(report)))
    else:
        print(report.render())
    return 0 if report.passed else 1


def _metrics_of(report: Report) -> dict[str, float]:
    note = next(n for n in report.notes if n.startswith("metrics: "))
    metrics: dict[str, float] = json.loads(note.removeprefix("metrics: "))
    return metrics


if __name__ == "__main__":
    sys.exit(main())
