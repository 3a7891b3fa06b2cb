"""kill -9 torture of a swarm run (R1): `plait swarm` killed at seeded random moments and
started again, until its queue is empty. Shared by the test suite (≥ 10 kills) and the
`R1S` benchmark (more).

The run: a real repository with a tasks/ folder of tickets, the script agent as workers
and reviewer (one change rejected once, one task with nothing to do), three workers.
What must hold at the end, however often the engine died: every ticket's change is on
main exactly once (or, for the one with nothing to do, not at all), no claim is held, and
no agent process is left running in the project's worktrees.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plait import processes
from plait.testing.gitrepo import GitRepo, isolated_home_env, run_git

CONFIG = """\
[swarm]
tickets = "tasks"

[[swarm.workers]]
name = "w"
agent = "script"
count = 3

[review]
reviewers = [{agent = "script"}]
"""
PROJECT = "torture"


@dataclass
class TortureResult:
    kills: int = 0
    runs: int = 0
    seconds: float = 0.0
    landed: dict[str, int] = field(default_factory=dict)  # task → commits on main
    statuses: dict[str, str] = field(default_factory=dict)  # task → final status
    claims: list[str] = field(default_factory=list)  # workers still holding a claim
    orphans: list[int] = field(default_factory=list)  # agent processes left running
    exit_codes: list[int] = field(default_factory=list)

    def problems(self, tickets: int) -> list[str]:
        """What broke a promise; empty when the run is right."""
        out = []
        want = {f"t{i}" for i in range(1, tickets + 1)} - {"t2"}
        if set(self.landed) != want:
            out.append(f"landed {sorted(self.landed)}, want {sorted(want)}")
        twice = sorted(t for t, n in self.landed.items() if n != 1)
        if twice:
            out.append(f"merged more than once: {twice}")
        if self.statuses.get("t2") != "skipped":
            out.append(f"t2 should be skipped, is {self.statuses.get('t2')}")
        lost = sorted(t for t in want if self.statuses.get(t) != "merged")
        if lost:
            out.append(f"not merged: {lost} ({self.statuses})")
        if self.claims:
            out.append(f"claims still held: {self.claims}")
        if self.orphans:
            out.append(f"agent processes left: {self.orphans}")
        return out


class Torture:
    def __init__(self, tmp: Path, *, tickets: int = 10, seed: int = 0) -> None:
        self.tmp = tmp
        self.tickets = tickets
        self.rng = random.Random(seed)
        files = {f"tasks/t{i}.md": _ticket(i) for i in range(1, tickets + 1)}
        self.repo = Path(GitRepo.init(tmp / "repo", files={"README.md": "x\n", **files}).path)
        (tmp / "swarm.toml").write_text(CONFIG)
        (tmp / "script.json").write_text(json.dumps(_script(tickets)))
        (tmp / "tmpdir").mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PLAIT_"))}
        env.update(isolated_home_env(tmp / "home"))
        env.update(PLAIT_HOME=str(tmp / "plait-home"), TMPDIR=str(tmp / "tmpdir"))
        self.env = env

    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "plait.cli", "swarm", str(self.tmp / "swarm.toml"),
            "--repo", str(self.repo), "--script", str(self.tmp / "script.json"),
            "--project", PROJECT, "--json",
        ]  # fmt: skip

    def run(
        self,
        kills: int,
        *,
        window: tuple[float, float] = (0.3, 3.0),
        timeout: float = 900.0,
        log: Callable[[str], None] | None = None,
    ) -> TortureResult:
        result = TortureResult()
        started = time.monotonic()
        while True:
            assert time.monotonic() - started < timeout, "the torture run did not finish"
            result.runs += 1
            with (self.tmp / f"run{result.runs}.err").open("w") as err:
                proc = subprocess.Popen(
                    self.argv(), env=self.env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=err,
                )  # fmt: skip
            if result.kills < kills:
                wait = self.rng.uniform(*window)
                try:
                    code = proc.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                    result.kills += 1
                    if log is not None:
                        log(f"killed run {result.runs} after {wait:.2f}s")
                    continue
            else:
                code = proc.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
            result.exit_codes.append(code)
            if code == 0 and result.kills >= kills:
                break
            if code not in (0, 10):
                err_text = (self.tmp / f"run{result.runs}.err").read_text()[-3000:]
                raise AssertionError(f"plait swarm exited {code}:\n{err_text}")
        result.seconds = time.monotonic() - started
        self._collect(result)
        return result

    def _collect(self, result: TortureResult) -> None:
        out = run_git("log", "--format=%B%x00", "main", cwd=self.repo)
        for body in out.split("\0"):
            for line in body.splitlines():
                if line.startswith("Plait-Task: "):
                    task = line.removeprefix("Plait-Task: ").strip()
                    result.landed[task] = result.landed.get(task, 0) + 1
        done = subprocess.run(
            [sys.executable, "-m", "plait.cli", "swarm", "status", "-p", PROJECT, "--json"],
            env=self.env, capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        status: dict[str, Any] = json.loads(done.stdout)
        result.claims = [w["worker"] for w in status["workers"] if w["claim"]]
        rows = subprocess.run(
            [sys.executable, "-m", "plait.cli", "ps", "--all", "-p", PROJECT, "--json"],
            env=self.env, capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        result.statuses = {r["id"]: r["status"] for r in json.loads(rows.stdout)}
        worktrees = Path(self.env["PLAIT_HOME"]) / "projects" / PROJECT / "worktrees"
        result.orphans = [p.pid for p in processes.under(str(worktrees))]


def _ticket(i: int) -> str:
    return f"---\nid: t{i}\nsummary: Write file {i}\n---\nWrite file{i}.txt.\n"


def _script(tickets: int) -> dict[str, Any]:
    def write(i: int) -> dict[str, Any]:
        actions = [
            {"sleep": 0.2},
            {"write": f"file{i}.txt", "content": f"{i}\n"},
            {"commit": f"file {i}"},
        ]
        return {"say": f"wrote file{i}.txt", "actions": actions}

    # A turn cut off by a kill is continued ("continue"), or resumed after no commit
    # ("nudge", "wrapup"): each does the work again (a re-run commit is a no-op).
    tasks: dict[str, Any] = {
        f"t{i}": {kind: [write(i)] for kind in ("start", "continue", "nudge", "wrapup")}
        for i in range(1, tickets + 1)
    }
    nothing = [{"say": "NOTHING TO DO: file 2 is not wanted"}]
    tasks["t2"] = dict.fromkeys(("start", "continue", "nudge", "wrapup"), nothing)
    tasks["t3"]["verdict"] = [
        {"say": "VERDICT: NEEDS_CHANGES\n1. file3.txt: add a second line"},
        {"say": "VERDICT: APPROVED"},
    ]
    tasks["t3"]["changes"] = tasks["t3"]["continue"] = [
        {
            "say": "added",
            "actions": [{"append": "file3.txt", "content": "more\n"}, {"commit": "second line"}],
        }
    ]
    return {"tasks": tasks, "default": {"verdict": [{"say": "VERDICT: APPROVED"}]}}
