"""The live project end to end: a real engine process, and `plait` commands from a second
terminal talking to it over its API socket — in the foreground (`plait run`) and in the
background (`plait up` / `plait down`), across a SIGKILL of the engine."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.api.helpers_live import Live, turn, until

PLAN = """\
# Gameplan: notes

## Patches

### Patch 1: Add one
Write notes/one.txt.

### Patch 2: Add two slowly
Write notes/two.txt, then think for a long time.

### Patch 3: Add three
Write notes/three.txt.

## Dependency Graph

- Patch 1 -> []
- Patch 2 -> []
- Patch 3 -> [1]
"""

SLEEP = {"sleep": 60}

SCRIPT = {
    "tasks": {
        "1": {"start": [turn("wrote one", "notes/one.txt", "one\n", "Add one")]},
        # The first start turn commits, then sleeps: long enough to be killed in it.
        "2": {
            "start": [turn("wrote two", "notes/two.txt", "two\n", "Add two", SLEEP)],
            "continue": [turn("finished two", "notes/two-more.txt", "2\n", "More two")],
            "human": [turn("added the line", "notes/two-line.txt", "l\n", "Line")],
        },
        "3": {"start": [turn("wrote three", "notes/three.txt", "three\n", "Add three")]},
        "slow": {
            "start": [
                turn("slow start", "notes/slow.txt", "slow\n", "Slow start", SLEEP),
                turn("fresh start", "notes/slow.txt", "fresh\n", "Fresh start"),
            ],
            "continue": [turn("slow done", "notes/slow-more.txt", "s\n", "Slow more")],
        },
    },
    "default": {"start": [turn("did it", "notes/extra.txt", "extra\n", "Extra")]},
}
for _name in ("first", "after"):
    SCRIPT["tasks"][_name] = {  # type: ignore[index]
        "start": [turn(f"did {_name}", f"notes/{_name}.txt", f"{_name}\n", _name)]
    }


def _sleeping(live: Live, project: str, task: str) -> bool:
    """The task's agent is inside its `sleep` (the transcript shows the call)."""
    out = live.plait("logs", task, "-p", project, "--json")
    return out.returncode == 0 and '"sleep 60"' in out.stdout


def _engine_pid(live: Live, project: str) -> int:
    info = json.loads((live.home() / project / "engine.json").read_text())
    return int(info["pid"])


def test_second_terminal_commands_reach_a_foreground_run(tmp_path: Path) -> None:
    live = Live.make(tmp_path, SCRIPT)
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN)
    run = live.start("run", str(plan), "--repo", str(live.repo), "--script", str(live.script),
                     "--project", "notes", "--json")  # fmt: skip
    try:
        until(lambda: _sleeping(live, "notes", "2"), what="task 2's agent to sleep")
        rows = live.rows("notes")
        assert rows["2"]["status"] == "working"
        assert rows["2"]["agent"] == "script"
        assert rows["2"]["rss_bytes"] > 0  # its agent's process group, measured live
        assert rows["2"]["tokens"] > 0  # what the turn under way has used so far
        assert rows["2"]["duration_s"] > 0
        assert rows["2"]["runs_on"] == "local"  # this machine runs its turn
        assert rows["1"]["runs_on"] is None  # no turn under way
        assert live.json("workers", "-p", "notes") == {"executor": "local", "workers": []}

        added = live.json("add", "Extra notes", "--body", "Write notes/extra.txt.", "-p", "notes")
        assert (added["task"], added["queued"]) == ("extra-notes", False)
        assert live.plait("wait", "extra-notes", "-p", "notes", "--timeout", "90").returncode == 0
        sent = live.json("send", "2", "Also add a line to notes/two.txt", "-p", "notes")
        assert sent["queued"] is False

        said = live.json("kill", "2", "-p", "notes")
        assert said["status"] == "stopped"
        # Nothing else can move now: the run settles, its summary naming the stopped task.
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 10, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert [t["id"] for t in summary["tasks"]] == ["1", "2", "3"]
    assert [t["status"] for t in summary["tasks"]] == ["merged", "stopped", "merged"]
    assert live.plait("wait", "2", "-p", "notes", "--timeout", "5").returncode == 11

    # No engine now: the retry is queued, and `resume` applies it first.
    queued = live.json("retry", "2", "-p", "notes")
    assert queued["queued"] is True
    resumed = live.plait("resume", "notes", "--json")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    result = live.json("result", "2", "-p", "notes")
    assert result["answer"] == "added the line"  # the message was answered after the retry
    assert result["merge_sha"]
    logs = live.ok("logs", "2", "-p", "notes", "-f")  # returns: the task has landed
    assert "Carry on: Add two slowly" in logs  # the killed turn was continued, not restarted
    refused = live.plait("send", "1", "hello", "-p", "notes")
    assert refused.returncode == 2
    assert "task 1 is merged" in refused.stderr
    files = live.main_files()
    for name in ("one", "two", "two-more", "two-line", "three", "extra"):
        assert f"notes/{name}.txt" in files, files
    assert live.main_log().count("Plait-PR:") == 4  # each task landed once


def test_background_engine_survives_sigkill_and_stops_cleanly(tmp_path: Path) -> None:
    live = Live.make(tmp_path, SCRIPT)
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "bg")
    # No engine: a write is queued, and says so.
    queued = live.json("add", "First", "--body", "x", "-p", "bg")
    assert queued["queued"] is True
    assert "plait up bg" in queued["message"]
    assert live.rows("bg")["first"]["status"] == "queued"  # until an engine takes it

    up = live.plait("up", "bg")
    assert up.returncode == 0, up.stderr
    assert "running in the background" in up.stdout
    projects = {p["project"]: p for p in live.json("projects")}
    assert projects["bg"]["engine"] is True
    assert live.plait("wait", "first", "-p", "bg", "--timeout", "90").returncode == 0

    live.ok("add", "Slow one", "--id", "slow", "--body", "x", "-p", "bg")
    until(lambda: _sleeping(live, "bg", "slow"), what="the slow agent to sleep")
    os.kill(_engine_pid(live, "bg"), signal.SIGKILL)
    until(lambda: live.json("projects")[0]["engine"] is False, what="the engine to be gone")

    # Offline, reads come from the store and writes queue up.
    assert live.rows("bg")["slow"]["status"] == "working"
    live.ok("add", "After the kill", "--id", "after", "--body", "x", "-p", "bg")

    assert live.plait("up", "bg").returncode == 0
    waited = live.plait("wait", "slow", "after", "-p", "bg", "--timeout", "120")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    rows = live.rows("bg")
    assert {rows[t]["status"] for t in ("first", "slow", "after")} == {"merged"}

    down = live.plait("down", "bg")
    assert down.returncode == 0, down.stderr
    assert live.json("projects")[0]["engine"] is False
    assert not (live.home() / "bg" / "engine.json").exists()
    files = live.main_files()
    assert files["notes/slow.txt"] == "slow\n"  # the killed turn's commit landed
    assert "notes/slow-more.txt" in files  # its session was continued, not started over
    assert {"notes/first.txt", "notes/after.txt"} <= set(files)
    assert live.main_log().count("Plait-PR:") == 3  # each task once


def _first_time_sleeps(marker: Path) -> dict[str, object]:
    """A start turn that, the first time only, commits notes/first-only.txt and sleeps;
    any later start turn writes notes/again.txt instead."""
    program = (
        f"mkdir -p notes; if [ -e {marker} ]; then echo again > notes/again.txt; "
        f"else touch {marker}; echo first > notes/first-only.txt; "
        "git add -A && git commit -qm first && sleep 60; fi"
    )
    return {"say": "slow start", "actions": [{"run": ["sh", "-c", program]}]}


def test_hard_reset_starts_a_task_over_on_a_running_engine(tmp_path: Path) -> None:
    script = json.loads(json.dumps(SCRIPT))
    script["tasks"]["slow"]["start"] = [_first_time_sleeps(tmp_path / "slept")]
    live = Live.make(tmp_path, script)
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "rs")
    assert live.plait("up", "rs").returncode == 0
    try:
        live.ok("add", "Slow one", "--id", "slow", "--body", "x", "-p", "rs")
        until(lambda: (tmp_path / "slept").exists(), what="the slow agent to start sleeping")
        said = live.json("reset", "slow", "--hard", "-p", "rs")
        assert said["status"] == "resetting"
        assert live.plait("wait", "slow", "-p", "rs", "--timeout", "90").returncode == 0
        files = live.main_files()
        assert "notes/again.txt" in files
        assert "notes/first-only.txt" not in files  # the first attempt's work was dropped
    finally:
        live.plait("down", "rs")


@pytest.mark.parametrize("verb", ["kill", "retry", "reset"])
def test_commands_on_unknown_or_landed_tasks_teach(tmp_path: Path, verb: str) -> None:
    live = Live.make(tmp_path, SCRIPT)
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "t")
    out = live.plait(verb, "nope", "-p", "t")
    assert out.returncode == 2
    assert "has no task 'nope'" in out.stderr
    assert "hint:" in out.stderr
    assert "Traceback" not in out.stderr


def test_every_task_command_works_against_a_background_engine(tmp_path: Path) -> None:
    live = Live.make(tmp_path, SCRIPT)
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "cmd")
    assert live.plait("up", "cmd").returncode == 0
    try:
        live.ok("add", "Slow one", "--id", "slow", "--body", "x", "-p", "cmd")
        until(lambda: _sleeping(live, "cmd", "slow"), what="the slow agent to sleep")
        assert live.rows("cmd")["slow"]["status"] == "working"
        killed = live.json("kill", "slow", "--reason", "lunch", "-p", "cmd")
        assert (killed["queued"], killed["status"]) == (False, "stopped")
        assert live.rows("cmd")["slow"]["stopped"] == "lunch"
        # The transcript says the turn was stopped, rather than ending as if it still ran.
        line = "-- turn stopped: stopped by a person; `plait retry` continues its session"
        until(lambda: line in live.ok("logs", "slow", "-p", "cmd"), what="the stopped turn's line")
        assert live.plait("wait", "slow", "-p", "cmd", "--timeout", "5").returncode == 11
        sent = live.json("send", "slow", "Also write notes/slow-line.txt", "-p", "cmd")
        assert sent["queued"] is False
        live.ok("retry", "slow", "-p", "cmd")
        assert live.plait("wait", "slow", "-p", "cmd", "--timeout", "90").returncode == 0
        result = live.json("result", "slow", "-p", "cmd")
        assert result["merge_sha"]
        logs = live.ok("logs", "slow", "-f", "-p", "cmd")
        assert "Carry on: Slow one" in logs
        assert "Also write notes/slow-line.txt" in logs  # the message reached the agent
        refused = live.plait("reset", "slow", "-p", "cmd")
        assert refused.returncode == 2
        assert "task slow is merged" in refused.stderr
    finally:
        assert live.plait("down", "cmd").returncode == 0
