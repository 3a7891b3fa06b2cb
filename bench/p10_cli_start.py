"""P10 CLI start: what one `plait` command costs in CPU before and while it answers.

People run `plait ps`, `logs` and `send` all day, agents run them inside their turns and
the test suite hundreds of times, so each start counts. A throwaway project (a real git
repository, the script agent, one task added, no engine) answers `plait --version`,
`--help`, `ps`, `logs` and `send`, each in a fresh interpreter; a command's figure is its
process's CPU (user + sys, from the OS), the median of several runs. Seconds of CPU on a
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


def _project(tmp: Path, env: dict[str, str]) -> None:
    repo = GitRepo.init(tmp / "repo", files={"README.md": "notes\n"})
    script = tmp / "script.json"
    script.write_text(json.dumps({"tasks": {}}))
    plait = [sys.executable, "-m", "plait.cli"]
    _cpu([*plait, "init", "--repo", str(repo.path), "--script", str(script), "-p", "p10"], env)
    _cpu([*plait, "add", "Add one", "--body", "write one.txt", "--id", "one"], env)


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
        for label, argv in COMMANDS:
            cpu = median(
                [_cpu([sys.executable, "-m", "plait.cli", *argv], env) for _ in range(runs)]
            )
            report.figures.append(
                Figure(name=f"`plait {label}`, median of {runs}", value=cpu, unit="s CPU",
                       goal="")
            )  # fmt: skip
        heavy = heavy_imports(quick_commands("one"), env)
    report.figures.append(
        Figure(
            name="heavy modules imported by `plait ps`, `logs` and `send` (engine stopped)",
            value=len(heavy),
            unit="modules",
            goal="0",
            passed=not heavy,
        )
    )
    if heavy:
        report.notes.append("imported: " + ", ".join(heavy))
    report.notes.append(
        "each figure is one process's CPU (user + sys); the same commands took 0.5-0.9 s "
        "each before 2026-12-01, when every start imported every command's module"
    )
    return report
