"""A running engine: clean stop on SIGTERM, resume, `plait review` and `plait send`."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from plait.testing.gitrepo import GitRepo
from tests.cli.helpers_cli import cli_env, plait

PLAN = """# Gameplan: interactions

## Patches

### Patch 1 [INFRA]: Add a note
Write notes/one.txt.

### Patch 2 [INFRA]: Add another note
Write notes/two.txt.

## Dependency Graph

- Patch 1 [INFRA] -> []
- Patch 2 [INFRA] -> [1]
"""


def _turn(say: str, path: str, content: str, message: str) -> dict[str, object]:
    return {
        "say": say,
        "actions": [{"write": path, "content": content}, {"commit": message}],
    }


SCRIPT = {
    "tasks": {
        "1": {
            "start": [_turn("wrote one", "notes/one.txt", "one\n", "Add one")],
            "review": [_turn("Renamed as asked.", "notes/one.txt", "ONE\n", "Shout one")],
            "human": [_turn("Added the line you asked for.", "notes/extra.txt", "x\n", "Extra")],
        },
        "2": {"start": [_turn("wrote two", "notes/two.txt", "two\n", "Add two")]},
    }
}


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    repo = GitRepo.init(tmp_path / "repo", files={"README.md": "notes\n"})
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN)
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    return Path(repo.path), plan, script


def _start(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    repo, plan, script = _setup(tmp_path)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "plait.cli",
            "run",
            str(plan),
            "--repo",
            str(repo),
            "--script",
            str(script),
            "--project",
            "notes",
            "--json",
            *extra,
        ],
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(proc: subprocess.Popen[str], needle: str, timeout: float = 60) -> list[str]:
    """The lines `proc` printed up to the first holding `needle`. Reads with a deadline:
    an engine that stays silent fails the test after `timeout`, not at the suite's
    global timeout. Reads the pipe itself (no buffered reader that could hold a line
    back from `select`); what comes after the needle in the same read is dropped."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen: list[str] = []
    pending = b""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            raise AssertionError(f"{needle!r} never came; the engine exited: {seen}")
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            seen.append(line.decode(errors="replace"))
            if needle in seen[-1]:
                return seen
    raise AssertionError(f"{needle!r} did not come within {timeout:g}s: {seen}")


def test_waiting_on_a_silent_engine_ends_at_the_deadline() -> None:
    """A silent engine used to block `_wait_for` until it exited (here: an hour)."""
    silent = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(3600)"], stdout=subprocess.PIPE, text=True
    )
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            _wait_for(silent, "opened draft PR", timeout=0.2)
        except AssertionError as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait, daemon=True)
    try:
        waiter.start()
        waiter.join(60)  # a hang detector, far above the 0.2 s deadline
        assert not waiter.is_alive(), "_wait_for ignored its deadline"
    finally:
        silent.kill()
        silent.communicate()
    assert "did not come within 0.2s" in str(outcome[0])


def test_sigterm_stops_cleanly_and_resume_finishes(tmp_path: Path) -> None:
    proc = _start(tmp_path, "--merge-delay", "1")
    _wait_for(proc, "opened draft PR #1")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["type"] == "summary"
    assert summary["outcome"] == "stopped"

    status = plait("status", "notes", "--json", home=tmp_path)
    assert json.loads(status.stdout)["tasks"][0]["pr"] == 1

    resumed = plait("resume", "notes", "--json", home=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert final["outcome"] == "merged"
    assert [t["status"] for t in final["tasks"]] == ["merged", "merged"]


def test_review_and_message_reach_the_running_agent(tmp_path: Path) -> None:
    # The review and the message must reach the engine before the merge delay ends: two CLI
    # calls, seconds each on a loaded machine (4 s lost the race on two test workers).
    proc = _start(tmp_path, "--merge-delay", "15")
    try:
        _wait_for(proc, "PR is ready for review")
        review = plait(
            "review",
            "1",
            "Please shout.",
            "--path",
            "notes/one.txt",
            "--line",
            "1",
            home=tmp_path,
        )
        assert review.returncode == 0, review.stderr
        send = plait("send", "1", "Also add notes/extra.txt", home=tmp_path)
        assert send.returncode == 0, send.stderr
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    messages = [e["message"] for e in events if e.get("task") == "1"]
    assert any("starts a review turn" in m for m in messages), messages
    assert any("starts a human turn" in m for m in messages), messages
    assert "review threads answered and resolved" in messages
    repo = tmp_path / "repo"
    shown = subprocess.run(
        ["git", "show", "main:notes/one.txt"], cwd=repo, capture_output=True, text=True
    )
    assert shown.stdout == "ONE\n"
    extra = subprocess.run(
        ["git", "show", "main:notes/extra.txt"], cwd=repo, capture_output=True, text=True
    )
    assert extra.stdout == "x\n"
    logs = plait("logs", "1", "--project", "notes", "--json", home=tmp_path)
    kinds = {json.loads(line)["kind"] for line in logs.stdout.splitlines()}
    assert {"Prompt", "SessionStarted", "FinalResult"} <= kinds
    prompts = [
        json.loads(line)["event"]["text"]
        for line in logs.stdout.splitlines()
        if json.loads(line)["kind"] == "Prompt"
    ]
    assert any("Please shout." in p and "notes/one.txt:1" in p for p in prompts)
    assert any("Also add notes/extra.txt" in p for p in prompts)


def test_a_second_engine_on_the_same_project_is_refused(tmp_path: Path) -> None:
    proc = _start(tmp_path, "--merge-delay", "30")
    try:
        _wait_for(proc, "opened draft PR #1")
        second = plait("resume", "notes", home=tmp_path)
        assert second.returncode == 5
        assert "already running" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
