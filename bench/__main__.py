"""`python -m bench [IDS…] [--json] [--quick] [--profile]` — run plait's benchmarks.

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

from bench import (
    p1_scale,
    p2_throughput,
    p3_overhead,
    p4_schedule,
    p5_github_api,
    p6_footprint,
    p9_scaleout,
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
    "P9": p9_scaleout.run,
    "R1S": r1_swarm.run,
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("ids", nargs="*", metavar="ID", help=f"subset: {' '.join(BENCHMARKS)}")
    p.add_argument("--json", action="store_true", help="one JSON object per benchmark")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--profile", action="store_true", help="cProfile each benchmark (stderr)")
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
    for bid in ids:
        try:
            report = _run_one(bid, args.quick, args.profile)
        except (Skip, AgentCLIsUnavailable) as exc:
            skipped.append(bid)
            line = {"type": "benchmark", "id": bid, "skipped": str(exc)}
            print(json.dumps(line) if args.json else f"{bid}: skipped — {exc}", flush=True)
            continue
        except Exception as exc:
            crashed.append(bid)
            traceback.print_exc()
            if args.json:
                print(json.dumps({"type": "benchmark", "id": bid, "error": repr(exc)}), flush=True)
            continue
        (passed if report.passed else failed).append(bid)
        for note in report.notes:  # figures a benchmark exports by name (P5)
            if note.startswith("metrics: "):
                metrics.update(json.loads(note.removeprefix("metrics: ")))
        print(json.dumps(report.to_json()) if args.json else report.render(), flush=True)
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
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"\n{len(passed)} passed, {len(failed)} failed, {len(crashed)} crashed, "
            f"{len(skipped)} skipped "
            f"in {summary['seconds']} s" + (" (quick sizes)" if args.quick else "")
        )
    if crashed:
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
