"""`python -m bench --quick --json` runs every benchmark at tiny sizes and reports figures.

Only that the benchmarks work is checked here: their verdicts at tiny sizes on a shared
machine mean nothing, and timings are never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parents[2]
# Every benchmark at tiny sizes, real agent CLIs and a Temporal server included: on two
# test workers on two cores beside other work it ran past the former 110 s.
TIMEOUT = 300


def _run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.mark.timeout(TIMEOUT + 30)
def test_every_benchmark_reports_figures_in_json(tmp_path: Path) -> None:
    done = _run_bench("--quick", "--json", "--out", str(tmp_path))
    assert done.returncode in (0, 1), done.stderr  # 2 would mean a benchmark crashed
    objects = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    *reports, summary = objects
    assert summary["type"] == "summary"
    assert summary["crashed"] == []
    assert summary["quick"] is True
    assert [r["id"] for r in reports] == list(BENCHMARKS)
    # Only a benchmark that needs parts this machine cannot have (the real agent CLIs, the
    # Temporal CLI) may
    # be skipped, and it says why.
    skipped = [r for r in reports if "skipped" in r]
    assert [r["id"] for r in skipped] == summary["skipped"]
    assert set(summary["skipped"]) <= {"P3", "P9"}
    assert all(r["skipped"] for r in skipped)
    reports = [r for r in reports if "skipped" not in r]
    for report in reports:
        assert report["type"] == "benchmark"
        assert report["figures"], report
        gated = [f for f in report["figures"] if f["pass"] is not None]
        assert gated, f"{report['id']} compares nothing with a goal"
        for figure in report["figures"]:
            assert isinstance(figure["value"], (int, float))
            assert figure["value"] >= 0
            assert figure["unit"]
        assert report["pass"] == all(f["pass"] is not False for f in gated)
    verdicts = {r["id"]: r["pass"] for r in reports}
    assert sorted(summary["passed"] + summary["failed"]) == sorted(verdicts)
    assert done.returncode == (0 if all(verdicts.values()) else 1)
    # The same objects are written as one JSON file and one page that needs nothing else.
    written = json.loads((tmp_path / "report.json").read_text())
    assert written == {"benchmarks": objects[:-1], "summary": summary}
    html = (tmp_path / "report.html").read_text()
    for wanted in ("<svg", "makespan", "one query per PR"):
        assert wanted in html
    for outside in ("<script", "src=", "href="):
        assert outside not in html
    verdicts_shown = html.count('class="pass">PASS<') + html.count('class="fail">FAIL<')
    assert verdicts_shown == sum(f["pass"] is not None for r in reports for f in r["figures"])


def test_a_subset_in_text_and_an_unknown_id(tmp_path: Path) -> None:
    done = _run_bench("p4", "--quick", "--out", str(tmp_path))
    assert done.returncode in (0, 1), done.stderr
    assert "P4 scheduling quality" in done.stdout
    assert "goal <= 1.03" in done.stdout
    assert "P4   PASS" in done.stdout or "P4   FAIL" in done.stdout  # the summary table
    assert "P1" not in done.stdout
    bad = _run_bench("P99")
    assert bad.returncode == 2
    assert "unknown benchmark P99" in bad.stderr
