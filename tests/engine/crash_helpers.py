"""A real engine in a subprocess that a test SIGKILLs at a chosen moment, then resumes.

The moment is a marker (a transcript row in the store, a file an agent or CI wrote), never
a sleep. Each test gets its own PLAIT_HOME and TMPDIR, and kills what it started by pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plait.agents.scripted import STARTS_FILE
from plait.testing.gitrepo import GitRepo
from tests.cli.helpers_cli import cli_env, plait


@dataclass
class Crashable:
    tmp: Path
    project: str
    repo: Path
    env: dict[str, str]
    proc: subprocess.Popen[str] | None = None

    @property
    def db(self) -> Path:
        return Path(self.env["PLAIT_HOME"]) / "projects" / self.project / "plait.db"

    @property
    def project_dir(self) -> Path:
        return self.db.parent

    def run(self, plan: str, script: dict[str, Any], *extra: str) -> None:
        (self.tmp / "plan.md").write_text(plan)
        (self.tmp / "script.json").write_text(json.dumps(script))
        argv = [sys.executable, "-m", "plait.cli", "run", str(self.tmp / "plan.md")]
        argv += ["--repo", str(self.repo), "--script", str(self.tmp / "script.json")]
        argv += ["--project", self.project, "--json", *extra]
        with (self.tmp / "engine.stderr").open("w") as err:
            self.proc = subprocess.Popen(
                argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                text=True,
            )

    def kill(self) -> None:
        """SIGKILL the engine: no cleanup of any kind runs."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def resume(self) -> dict[str, Any]:
        done = plait("resume", self.project, "--json", home=self.tmp, env=self.env, timeout=180)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        assert summary["outcome"] == "merged", summary
        return dict(summary)

    def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        if not self.db.exists():
            return []
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as db:
            try:
                return db.execute(sql, args).fetchall()
            except sqlite3.OperationalError:  # not created yet, or busy
                return []

    def transcript(self, task: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(effect id, kind, body) of each transcript row of `task`."""
        rows = self.rows(
            "SELECT effect_id, kind, body FROM transcripts WHERE task = ? ORDER BY id", task
        )
        return [(str(e), str(k), json.loads(b)) for e, k, b in rows]

    def starts(self) -> list[dict[str, str]]:
        """Every start of the script agent, in order (see plait.agents.scripted)."""
        path = self.repo / ".git" / STARTS_FILE
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def crashable(tmp: Path, project: str, files: dict[str, str] | None = None) -> Crashable:
    repo = GitRepo.init(tmp / "repo", files=files or {"README.md": "notes\n"})
    tmpdir = tmp / "tmpdir"
    tmpdir.mkdir()
    return Crashable(tmp, project, Path(repo.path), cli_env(tmp, TMPDIR=str(tmpdir)))


def wait_until(what: str, check: Callable[[], object], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def kill_all(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def temp_leftovers(tmpdir: Path) -> list[Path]:
    """What plait left in $TMPDIR, but the runtime folder it keeps there on purpose (the
    API's sockets, see plait.store.paths.runtime_dir)."""
    return [p for p in tmpdir.iterdir() if p.name != f"plait-{os.getuid()}"]


def read_pids(folder: Path) -> list[int]:
    return [int(p.read_text()) for p in sorted(folder.glob("*.pid")) if p.read_text().strip()]


def one_task_plan(title: str) -> str:
    return (
        f"# Gameplan: crash\n\n## Patches\n\n### Patch 1 [INFRA]: {title}\nDo it.\n\n"
        "## Dependency Graph\n\n- Patch 1 [INFRA] -> []\n"
    )
