"""`plait demo` end to end, and killed with SIGKILL at several points then resumed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.cli.helpers_cli import cli_env, plait
from tests.engine.crash_helpers import temp_leftovers

TASKS = ("1", "2", "3", "4", "5", "6")


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _git(repo: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout


def _check_landed_once(demo: Path, home: Path) -> None:
    """Every task's change is on main exactly once; one PR per task; no stray branches."""
    repo = demo / "repo"
    log = _git(repo, "log", "--format=%H%x00%B%x1e", "main")
    numbers = [
        line.split(":", 1)[1].strip()
        for entry in log.split("\x1e")
        for line in entry.splitlines()
        if line.startswith("Plait-PR:")
    ]
    assert len(numbers) == len(TASKS), numbers
    assert len(set(numbers)) == len(TASKS), numbers
    db = sqlite3.connect(home / "plait-home" / "projects" / "textkit-demo" / "plait.db")
    rows = db.execute("SELECT branch, COUNT(*) FROM forge_prs GROUP BY branch").fetchall()
    assert len(rows) == len(TASKS)
    assert all(count == 1 for _, count in rows), rows
    merged = db.execute("SELECT COUNT(*) FROM forge_prs WHERE state = 'merged'").fetchone()
    assert merged == (len(TASKS),)
    db.close()
    assert _git(repo, "status", "--porcelain") == ""
    # Each file a task adds is on main once, with its final content.
    files = _git(repo, "ls-tree", "-r", "--name-only", "main").split()
    for name in ("slug", "count", "top", "title", "snake", "cli"):
        assert f"textkit/{name}.py" in files
    formats = _git(repo, "show", "main:textkit/formats.py")
    assert '"snake": snake_case, "title": title_case' in formats


def _summary(stdout: str) -> dict[str, object]:
    lines = _lines(stdout)
    assert lines, "no output"
    last = lines[-1]
    assert last["type"] == "summary", last
    return last


def test_demo_runs_every_situation_to_main(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    out = plait("demo", "--dir", str(demo), "--json", home=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    summary = _summary(out.stdout)
    assert summary["outcome"] == "merged"
    assert summary["main_tests"] == {"passed": True, "output": "OK"}
    tasks = summary["tasks"]
    assert isinstance(tasks, list)
    assert [t["id"] for t in tasks] == list(TASKS)
    assert all(t["status"] == "merged" and t["pr"] for t in tasks)
    messages = [str(e.get("message")) for e in _lines(out.stdout) if e.get("type") == "event"]
    text = "\n".join(messages)
    # Every situation the demo promises happened.
    assert "CI failed on" in text
    assert "agent script starts a ci turn" in text
    assert "new review comment" in text
    assert "review threads answered and resolved" in text
    assert "into plait/textkit-demo/" in text  # a stacked PR
    assert "PR retargeted to main" in text
    assert "rebase conflicts in textkit/formats.py" in text
    assert "agent script starts a conflict turn" in text
    by_id = {t["id"]: t for t in tasks}
    assert by_id["1"]["ci_failures"] == 1
    assert all(int(t["tokens"]) > 0 and int(t["turns"]) >= 1 for t in tasks)
    _check_landed_once(demo, tmp_path)

    # Resuming a finished demo does nothing and still reports success.
    again = plait("demo", "--dir", str(demo), "--json", home=tmp_path)
    assert again.returncode == 0, again.stderr
    assert _summary(again.stdout)["outcome"] == "merged"

    # The demo's project lives in PLAIT_HOME: plain `plait status` and `logs` find it.
    status = plait("status", "--json", home=tmp_path)
    assert json.loads(status.stdout)["outcome"] == "merged"
    assert json.loads(status.stdout)["project"] == "textkit-demo"
    logs = plait("logs", "2", home=tmp_path)
    assert logs.returncode == 0
    assert "prompt" in logs.stdout
    assert "wordcount" in logs.stdout


def _run_until(demo: Path, kill_after: int, env: dict[str, str]) -> bool:
    """Start (or resume) the demo and SIGKILL the engine after `kill_after` output lines.

    Returns whether it was killed (a resumed run may finish before that many lines).
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "plait.cli", "demo", "--dir", str(demo), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for seen, _ in enumerate(proc.stdout, start=1):
        if seen >= kill_after:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)
    proc.stdout.close()
    return proc.returncode == -signal.SIGKILL


def test_demo_survives_sigkill_at_several_points(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    # Kill early (workspaces and first turns), in the middle (CI, reviews, stacking)
    # and late (merges and landings), resuming from the same directory each time.
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = cli_env(tmp_path, TMPDIR=str(tmpdir))
    kills = [_run_until(demo, n, env) for n in (4, 14, 12, 16, 15)]
    assert sum(kills) >= 4, kills
    out = plait("demo", "--dir", str(demo), "--json", home=tmp_path, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = _summary(out.stdout)
    assert summary["outcome"] == "merged"
    assert summary["main_tests"] == {"passed": True, "output": "OK"}
    _check_landed_once(demo, tmp_path)
    # No CI export nor main-check folder is left behind, in $TMPDIR or the project's.
    assert temp_leftovers(tmpdir) == []
    assert list(demo.glob("main-check-*")) == []
    projects = Path(env["PLAIT_HOME"]) / "projects"
    assert list(projects.glob("textkit-demo/tmp/*/*")) == []
