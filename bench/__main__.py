"""`python -m bench [IDS…] [--json] [--quick] [--profile] [--out DIR]` — run plait's benchmarks.

Every figure is printed next to its goal (PASS/FAIL), then a summary table of the gated
figures; the same is written to DIR (default `bench-report/`) as `report.json` (every
benchmark's object and the summary) and `report.html` (one self-contained page).

Exit code: 0 every benchmark met its goal, 1 some did not, 2 a benchmark crashed. A
benchmark whose real parts cannot be had on this machine (`bench.common.Skip`, or the
pinned agent CLIs failing to install) is reported as skipped, not crashed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import (
    p1_scale,
    p2_throughput,
    p3_overhead,
    p4_schedule,
    p5_github_api,
    p6_footprint,
    p7_reaction,
    p8_faces,
    p9_scaleout,
    p10_cli_start,
    page,
    r1_plan,
    r1_schedule,
    r1_swarm,
)
from bench.common import Report, Skip
from plait.testing.model_api_clis import AgentCLIsUnavailable

BENCHMARKS: dict[str, Callable[[bool], Report]] = {
    "P1": p1_scale.run,
    "P2": p2_throughput.run,
    "P3": p3_overhead.run,
    "P4": p4_schedule.run,
    "P5": p5_github_api.run,
    "P6": p6_footprint.run,
    "P7": p7_reaction.run,
    "P8": p8_faces.run,
    "P9": p9_scaleout.run,
    "P10": p10_cli_start.run,
    "R1": r1_plan.run,
    "R1S": r1_swarm.run,
    "R1C": r1_schedule.run,
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("ids", nargs="*", metavar="ID", help=f"subset: {' '.join(BENCHMARKS)}")
    p.add_argument("--json", action="store_true", help="one JSON object per benchmark")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--profile", action="store_true", help="cProfile each benchmark (stderr)")
    p.add_argument(
        "--out",
        default="bench-report",
        metavar="DIR",
        help="where report.json and report.html go (default: bench-report; '' for none)",
    )
    r1 = p.add_argument_group("R1 (plan kill -9 torture)")
    r1.add_argument("--kills", type=int, default=r1_plan.Options().kills, metavar="N")
    r1.add_argument("--tasks", type=int, default=r1_plan.Options().tasks, metavar="N")
    r1.add_argument("--forge", choices=("local", "github"), default="local")
    r1.add_argument("--seed", type=int, default=0, metavar="S")
    return p


def _run_one(bid: str, quick: bool, profile: bool) -> Report:
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        report = BENCHMARKS[bid](quick)
    finally:
        if profiler is not None:
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
            print(f"--- profile of {bid} ---\n{out.getvalue()}", file=sys.stderr)
    report.seconds = time.perf_counter() - start
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    r1_plan.configure(r1_plan.Options(args.kills, args.tasks, args.forge, args.seed))
    ids = [i.upper() for i in args.ids] or list(BENCHMARKS)
    unknown = [i for i in ids if i not in BENCHMARKS]
    if unknown:
        print(
            f"unknown benchmark {', '.join(unknown)}; have {' '.join(BENCHMARKS)}", file=sys.stderr
        )
        return 2
    started = time.perf_counter()
    passed: list[str] = []
    failed: list[str] = []
    crashed: list[str] = []
    skipped: list[str] = []
    metrics: dict[str, object] = {}
    objects: list[dict[str, Any]] = []
    for bid in ids:
        try:
            report = _run_one(bid, args.quick, args.profile)
        except (Skip, AgentCLIsUnavailable) as exc:
            skipped.append(bid)
            line = {"type": "benchmark", "id": bid, "skipped": str(exc)}
            objects.append(line)
            print(json.dumps(line) if args.json else f"{bid}: skipped — {exc}", flush=True)
            continue
        except Exception as exc:
            crashed.append(bid)
            traceback.print_exc()
            crash = {"type": "benchmark", "id": bid, "error": repr(exc)}
            objects.append(crash)
            if args.json:
                print(json.dumps(crash), flush=True)
            continue
        (passed if report.passed else failed).append(bid)
        for note in report.notes:  # figures a benchmark exports by name (P5)
            if note.startswith("metrics: "):
                metrics.update(json.loads(note.removeprefix("metrics: ")))
        objects.append(report.to_json())
        print(json.dumps(objects[-1]) if args.json else report.render(), flush=True)
    summary = {
        "type": "summary",
        "passed": passed,
        "failed": failed,
        "crashed": crashed,
        "skipped": skipped,
        "quick": args.quick,
        "seconds": round(time.perf_counter() - started, 3),
        **metrics,
    }
    if args.out:
        _write(Path(args.out), objects, summary)
    if args.json:
        print(json.dumps(summary))
    else:
        print("\n" + _table(objects))
        print(
            f"\n{len(passed)} passed, {len(failed)} failed, {len(crashed)} crashed, "
            f"{len(skipped)} skipped "
            f"in {summary['seconds']} s" + (" (quick sizes)" if args.quick else "")
        )
    if crashed:
        return 2
    return 1 if failed else 0


def _table(objects: list[dict[str, Any]]) -> str:
    """Every figure that has a goal, one line each: id, verdict, value, goal."""
    lines = []
    for obj in objects:
        for f in obj.get("figures", []):
            if f["pass"] is None:
                continue
            verdict = "PASS" if f["pass"] else "FAIL"
            value = f"{f['value']:,.6g} {f['unit']}"
            lines.append(f"{obj['id']:<4} {verdict}  {value:>18}  goal {f['goal']:<14} {f['name']}")
        if "skipped" in obj or "error" in obj:
            state = "SKIP" if "skipped" in obj else "CRASH"
            lines.append(f"{obj['id']:<4} {state}  {obj.get('skipped') or obj.get('error')}")
    return "\n".join(lines)


def _write(out: Path, objects: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = {"benchmarks": objects, "summary": summary}
    (out / "report.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    (out / "report.html").write_text(page.render(objects, summary), encoding="utf-8")
    print(f"report written to {out}/report.json and {out}/report.html", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
