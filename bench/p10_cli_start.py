"""P10 CLI start: what one `plait` command costs in CPU before and while it answers.

People run `plait ps`, `logs` and `send` all day, agents run them inside their turns and
the test suite hundreds of times, so each start counts. A throwaway project (a real git
repository, the script agent, one task added, no engine) answers `plait --version`,
`--help`, `ps`, `logs` and `send`, each in a fresh interpreter, then `ps`, `logs` and
`send` again with its engine running (`plait up`; not with `--quick`); a command's figure
is its process's CPU (user + sys, from the OS), the median of several runs. Seconds of CPU on a
shared machine make no goal, so those figures are [info]; the goal is what the CPU went
to: `ps`, `logs` and `send` import none of the heavy modules of
`plait.testing.cli_start.HEAVY` (the web server, the TUI, Temporal's SDK, httpx, asyncio,
the engine, the agents), which cost most of a second at every start until 2026-12-01.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Figure, Report, median
from plait.testing.cli_start import heavy_imports, quick_commands, with_this_plait
from plait.testing.gitrepo import GitRepo

TITLE = "CLI start: CPU per `plait` command, and what the quick ones import"
COMMANDS = (
    ("--version", ["--version"]),
    ("--help", ["--help"]),
    ("ps", ["ps"]),
    ("logs", ["logs", "one"]),
    ("send", ["send", "one", "hello"]),
)


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PLAIT_"))}
    env.update(PLAIT_HOME=str(tmp / "plait-home"), HOME=str(tmp), LANG="C.UTF-8")
    return with_this_plait(env)


def _cpu(argv: list[str], env: dict[str, str]) -> float:
    """The CPU seconds (user + sys) of one run of `argv`, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


PLAIT = [sys.executable, "-m", "plait.cli"]


def _project(tmp: Path, env: dict[str, str]) -> None:
    """A project with one task whose agent, once an engine runs, works (sleeps) on."""
    repo = GitRepo.init(tmp / "repo", files={"README.md": "notes\n"})
    script = tmp / "script.json"
    working = {"say": "working on it", "actions": [{"sleep": 600}]}
    script.write_text(json.dumps({"tasks": {"one": {"start": [working]}}}))
    _cpu([*PLAIT, "init", "--repo", str(repo.path), "--script", str(script), "-p", "p10"], env)
    _cpu([*PLAIT, "add", "Add one", "--body", "write one.txt", "--id", "one"], env)


def _working(env: dict[str, str]) -> None:
    """Wait until the engine's agent works on the task (at most a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        out = subprocess.run([*PLAIT, "ps", "--json"], env=env, capture_output=True, text=True)
        if out.returncode == 0 and any(r["status"] == "working" for r in json.loads(out.stdout)):
            return
        time.sleep(0.5)
    raise RuntimeError("the engine's agent did not start the task within 60 s")


def _medians(runs: int, env: dict[str, str], where: str, report: Report) -> None:
    for label, argv in COMMANDS:
        if where and label.startswith("-"):
            continue  # the same with the engine running
        cpu = median([_cpu([*PLAIT, *argv], env) for _ in range(runs)])
        report.figures.append(
            Figure(name=f"`plait {label}`{where}, median of {runs}", value=cpu, unit="s CPU",
                   goal="")
        )  # fmt: skip


def run(quick: bool) -> Report:
    runs = 1 if quick else 7
    report = Report(id="P10", title=TITLE, quick=quick)
    with tempfile.TemporaryDirectory(prefix="plait-p10-") as name:
        tmp = Path(name)
        env = _env(tmp)
        _project(tmp, env)
        floor = median([_cpu([sys.executable, "-c", "pass"], env) for _ in range(runs)])
        report.figures.append(
            Figure(name=f"`python -c pass` (the floor), median of {runs}", value=floor,
                   unit="s CPU", goal="")
        )  # fmt: skip
        _medians(runs, env, "", report)
        heavy = heavy_imports(quick_commands("one"), env)
        heavy_live: list[str] = []
        if not quick:  # the smoke test's budget: tests/cli/test_cli_start.py checks this
            _cpu([*PLAIT, "up", "p10"], env)
            try:
                _working(env)
                _medians(runs, env, " (engine running)", report)
                heavy_live = heavy_imports(quick_commands("one"), env)
            finally:
                _cpu([*PLAIT, "down", "p10"], env)
    report.figures.append(
        Figure(
            name="heavy modules imported by `plait ps`, `logs` and `send`, engine stopped"
            + ("" if quick else " and running"),
            value=len(heavy) + len(heavy_live),
            unit="modules",
            goal="0",
            passed=not heavy and not heavy_live,
        )
    )
    if heavy:
        report.notes.append("imported with the engine stopped: " + ", ".join(heavy))
    if heavy_live:
        report.notes.append("imported with the engine running: " + ", ".join(heavy_live))
    report.notes.append(
        "each figure is one process's CPU (user + sys); the same commands took 0.5-0.9 s "
        "each before 2026-12-01, when every start imported every command's module (and "
        "with the engine running, httpx)"
    )
    return report
