"""`plait run` with agent turns on two `plait worker` processes, end to end: the same
results as a local run, a worker killed mid-turn, a controller killed mid-run.

Real parts: the Temporal dev server (one per session), `plait worker` and `plait run` /
`plait resume` as processes, real git repositories, the script agent.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plait.testing.gitrepo import GitRepo, run_git
from plait.testing.temporal import TemporalDevServer, WorkerProcess
from tests.api.helpers_live import until
from tests.cli.helpers_cli import cli_env, plait
from tests.scaleout.workers import Workers

pytestmark = pytest.mark.timeout(240)

# A turn whose worker sent no heartbeat for this long is lost (plait.toml's
# heartbeat_timeout). The SDK sends a turn's heartbeats at most every 0.8 x this, so a
# live worker has 0.2 x it to spare: at 3 s, 0.6 s of a loaded machine's delay (two test
# workers on two cores beside other work) makes a healthy turn "lost", and it runs twice.
# Tests that lose no worker keep plait's default; the one that kills a worker mid-turn
# and waits for it to be lost uses LOST_SOON, small so it waits little, 2 s to spare.
HEARTBEAT = 30.0
LOST_SOON = 10.0


def _plan(name: str, ids: list[str]) -> str:
    patches = "".join(f"### Patch {i}: Add file {i}\nWrite f{i}.txt.\n\n" for i in ids)
    graph = "".join(f"- Patch {i} -> []\n" for i in ids)
    return f"# Gameplan: {name}\n\n## Patches\n\n{patches}## Dependency Graph\n\n{graph}"


def _script(ids: list[str], *, sleep: float = 0) -> dict[str, Any]:
    tasks: dict[str, Any] = {}
    for i in ids:
        actions: list[dict[str, Any]] = [
            {"write": f"f{i}.txt", "content": f"{i}\n"},
            {"commit": f"Add f{i}"},
        ]
        if sleep:
            actions.append({"sleep": sleep})
        tasks[i] = {"start": [{"say": f"wrote f{i}", "actions": actions}]}
    return {"tasks": tasks}


class Project:
    """A repository, its plan and script, and `plait` run against them."""

    def __init__(
        self, tmp: Path, name: str, ids: list[str], *, sleep: float = 0, lost: float = HEARTBEAT
    ) -> None:
        self.tmp, self.name = tmp, name
        self.repo = GitRepo.init(tmp / name, files={"README.md": "notes\n"})
        (self.repo.path / "plait.toml").write_text(f"[executor]\nheartbeat_timeout = {lost}\n")
        self.plan = tmp / f"{name}.md"
        self.plan.write_text(_plan(name, ids))
        self.script = tmp / f"{name}.json"
        self.script.write_text(json.dumps(_script(ids, sleep=sleep)))

    def run_args(self, *extra: str) -> list[str]:
        return ["run", str(self.plan), "--repo", str(self.repo.path), "--script",
                str(self.script), "--project", self.name, "--json", *extra]  # fmt: skip

    def summary(self, stdout: str) -> dict[str, Any]:
        summary: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        assert summary["type"] == "summary", stdout[-2000:]
        return summary

    def main_tree(self) -> str:
        return run_git("rev-parse", "main^{tree}", cwd=self.repo.path).strip()

    def added(self) -> list[str]:
        out = run_git(
            "log", "main", "--diff-filter=A", "--name-only", "--format=", cwd=self.repo.path
        )
        return out.split()


def _executor(server: TemporalDevServer, queue: str) -> tuple[str, str]:
    return ("--executor", f"temporal://{server.address}/{queue}")


def test_a_plan_runs_across_two_workers_as_it_runs_here(
    tmp_path: Path, temporal: TemporalDevServer, queue: str
) -> None:
    ids = [str(i) for i in range(1, 21)]
    here = Project(tmp_path, "here", ids)
    local = plait(*here.run_args("--max-concurrency", "4"), home=tmp_path, timeout=200)
    assert local.returncode == 0, local.stderr[-3000:]

    spread = Project(tmp_path, "spread", ids)
    env = cli_env(tmp_path)
    with Workers.start(tmp_path, temporal, queue, ["wa", "wb"], env=env, slots=2) as workers:
        args = spread.run_args("--max-concurrency", "4", *_executor(temporal, queue))
        remote = plait(*args, home=tmp_path, timeout=200)
        assert remote.returncode == 0, remote.stderr[-3000:]
        ran = {name: w.tasks() for name, w in workers.items()}
        listed = json.loads(plait("workers", "-p", "spread", "--json", home=tmp_path).stdout)
    assert listed["executor"] == f"temporal://{temporal.address}/{queue}"
    rows = {w["name"]: w for w in listed["workers"]}
    assert sorted(rows) == ["wa", "wb"]
    for row in rows.values():
        assert (row["state"], row["slots"], row["agents"]) == ("running", 2, ["script"])
        assert 0 <= row["busy"] <= 2  # as of its last heartbeat, up to 5 s ago
    # Four turns at once, two slots per worker: both workers took turns; each ran once.
    assert ran["wa"], ran
    assert ran["wb"], ran
    assert sorted(ran["wa"] + ran["wb"], key=int) == ids

    mine, theirs = here.summary(local.stdout), spread.summary(remote.stdout)
    assert theirs["outcome"] == mine["outcome"] == "merged"
    assert theirs["merged"] == mine["merged"] == 20
    assert [t["turns"] for t in theirs["tasks"]] == [t["turns"] for t in mine["tasks"]]
    assert spread.main_tree() == here.main_tree()
    assert sorted(spread.added()) == sorted(here.added())  # each file added once


def test_a_worker_killed_mid_turn_hands_the_turn_to_the_other(
    tmp_path: Path, temporal: TemporalDevServer, queue: str
) -> None:
    proj = Project(tmp_path, "lost", ["1"], sleep=5, lost=LOST_SOON)
    env = cli_env(tmp_path)
    with Workers.start(tmp_path, temporal, queue, ["wa", "wb"], env=env, slots=1) as workers:
        with _running(proj.run_args(*_executor(temporal, queue)), env) as run:
            first = _first_to_start(workers)
            until(lambda: list(first.root.glob("work/lost-*/1/f1.txt")),
                  what="the agent to write its file (then it sleeps)")  # fmt: skip
            first.kill()
            out, err = run.communicate(timeout=180)
        other = next(w for w in workers.values() if w is not first)
        assert run.returncode == 0, err[-3000:]
        assert first.tasks() == ["1"]
        assert other.tasks() == ["1"]  # the turn ran again, there, once
    summary = proj.summary(out)
    assert summary["outcome"] == "merged"
    assert summary["tasks"][0]["turns"] == 2  # the lost attempt counts as a turn
    assert proj.added().count("f1.txt") == 1


def test_a_task_killed_while_its_worker_is_lost_starts_nowhere_else(
    tmp_path: Path, temporal: TemporalDevServer, queue: str
) -> None:
    # Lost only after 15 s: the kill must come first, or the turn would rightly move on.
    proj = Project(tmp_path, "gone", ["1"], sleep=60, lost=15)
    env = cli_env(tmp_path)
    with Workers.start(tmp_path, temporal, queue, ["wa", "wb"], env=env, slots=1) as workers:
        with _running(proj.run_args(*_executor(temporal, queue)), env) as run:
            first = _first_to_start(workers)
            first.kill()  # no heartbeat will carry the cancellation to it now
            killed = plait("kill", "1", "-p", "gone", home=tmp_path)
            assert killed.returncode == 0, killed.stderr
            out, err = run.communicate(timeout=120)
        assert run.returncode == 10, out[-3000:] + err[-3000:]  # settled, a task needs a person
        assert proj.summary(out)["tasks"][0]["status"] == "stopped"
        other = next(w for w in workers.values() if w is not first)
        assert other.tasks() == []  # the lost attempt was not run again anywhere


def test_a_killed_controller_resumes_the_turns_its_workers_ran(
    tmp_path: Path, temporal: TemporalDevServer, queue: str
) -> None:
    ids = ["1", "2", "3"]
    proj = Project(tmp_path, "ctl", ids, sleep=3)
    env = cli_env(tmp_path)
    with Workers.start(tmp_path, temporal, queue, ["wa", "wb"], env=env, slots=2) as workers:
        with _running(proj.run_args(*_executor(temporal, queue)), env) as run:
            until(lambda: sum(len(w.tasks()) for w in workers.values()) == 3,
                  what="three turns on the workers")  # fmt: skip
            run.send_signal(signal.SIGKILL)
            run.wait()
        resumed = plait("resume", "ctl", "--json", home=tmp_path, timeout=180)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        ran = sorted(t for w in workers.values() for t in w.tasks())
    assert ran == ids  # every turn ran once: resume joined the turns, started none again
    summary = proj.summary(resumed.stdout)
    assert summary["outcome"] == "merged"
    assert [t["turns"] for t in summary["tasks"]] == [1, 1, 1]
    assert sorted(proj.added()) == ["README.md", "f1.txt", "f2.txt", "f3.txt"]


@contextlib.contextmanager
def _running(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`plait ARGS` in the background; killed if the test leaves it running."""
    run = subprocess.Popen([sys.executable, "-m", "plait.cli", *args], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        yield run
    finally:
        if run.poll() is None:
            run.kill()
        run.wait()
        for pipe in (run.stdout, run.stderr):
            if pipe is not None:
                pipe.close()


def _first_to_start(workers: Workers) -> WorkerProcess:
    """The worker whose agent starts the run's (only) turn."""
    found: WorkerProcess = until(
        lambda: next((w for w in workers.values() if w.tasks()), None),
        what="a worker to start the turn",
    )
    return found
