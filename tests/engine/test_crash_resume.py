"""kill -9 of a real engine in the middle of things, then `plait resume`: an interrupted
agent turn continues its session, nothing the engine started survives it, and local CI
runs once more without a twin.

Each test starts `plait run … --json` in a subprocess (script agent, local forge), waits
for a marker, SIGKILLs it, and resumes it with `plait resume` (see crash_helpers).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.crash_helpers import (
    Crashable,
    alive,
    crashable,
    kill_all,
    one_task_plan,
    read_pids,
    temp_leftovers,
    wait_until,
)

pytestmark = pytest.mark.timeout(240)

TITLE = "Write the notes"


def _commit(path: str, message: str) -> list[dict[str, object]]:
    return [{"write": path, "content": f"{message}\n"}, {"commit": message}]


def results(run: Crashable, task: str = "1") -> int:
    return sum(kind == "ToolResult" for _, kind, _ in run.transcript(task))


def test_an_interrupted_turn_continues_its_session(tmp_path: Path) -> None:
    run = crashable(tmp_path, "continue")
    script = {
        "tasks": {
            "1": {
                "start": [
                    {"actions": [*_commit("a.txt", "first half"), {"hang": 300}]},
                    {"say": "finished", "actions": _commit("b.txt", "second half")},
                ]
            }
        }
    }
    try:
        run.run(one_task_plan(TITLE), script)
        # The first attempt committed, then hangs: the engine dies under it.
        wait_until(
            "the first commit",
            lambda: sum(k == "ToolResult" for _, k, _ in run.transcript("1")) == 2,
        )
        run.kill()
        summary = run.resume()
    finally:
        run.stop()

    starts = run.starts()
    assert [s["task"] for s in starts] == ["1", "1"], starts
    first_session = next(
        b["session_id"] for _, k, b in run.transcript("1") if k == "SessionStarted"
    )
    # Continued, not restarted: the second start resumed the first one's session, told so.
    assert starts[0]["resume"] == ""
    assert starts[0]["prompt"] == f"# Task: {TITLE}"
    assert starts[1]["resume"] == first_session
    assert starts[1]["prompt"] == f"# Carry on: {TITLE}"
    prompts = [(e, b["text"]) for e, k, b in run.transcript("1") if k == "Prompt"]
    assert len(prompts) == 2
    assert prompts[0][0] == prompts[1][0]  # one effect, two attempts
    assert "It had committed:" in prompts[1][1]
    assert "first half" in prompts[1][1]
    # The killed attempt counts: two turns, and its tokens beside the second's.
    (row,) = summary["tasks"]
    assert row["status"] == "merged"
    assert row["turns"] == 2
    usage = [b["usage"] for _, k, b in run.transcript("1") if k == "UsageReport"]
    finals = [b["usage"] for _, k, b in run.transcript("1") if k == "FinalResult"]
    (second,) = finals
    assert row["input_tokens"] > second["input_tokens"]
    assert len(usage) > 0
    # The timeline says the turn went on after the restart, and ended as carried on.
    said = [m for (m,) in run.rows("SELECT message FROM timeline WHERE task = '1' ORDER BY id")]
    assert "agent script carries on its start turn after a restart" in said, said
    assert any(m.startswith("agent finished start turn (carried on after a restart)")
               for m in said), said  # fmt: skip


def _spawn(pids: Path, name: str) -> dict[str, object]:
    """A background sleep in the agent's group and a daemon that left it with setsid, both
    with the worktree as their cwd; their pids go to `pids`."""
    child, daemon = pids / f"{name}-child.pid", pids / f"{name}-daemon.pid"
    return {
        "run": [
            "sh",
            "-c",
            f"sleep 300 </dev/null >/dev/null 2>&1 & echo $! > {child}; "
            f"setsid sh -c 'echo $$ > {daemon}; exec sleep 300' </dev/null >/dev/null 2>&1 & "
            f"while [ ! -s {daemon} ]; do sleep 0.01; done",
        ]
    }


TWO_TASKS = """# Gameplan: orphans

## Patches

### Patch 1 [INFRA]: Start a server and get killed
Do it.

### Patch 2 [INFRA]: Start a server and finish
Do it.

## Dependency Graph

- Patch 1 [INFRA] -> []
- Patch 2 [INFRA] -> []
"""


def test_nothing_the_agents_started_outlives_a_crash_or_the_run(tmp_path: Path) -> None:
    run = crashable(tmp_path, "orphans")
    pids = tmp_path / "pids"
    pids.mkdir()
    script = {
        "tasks": {
            "1": {
                "start": [
                    {"actions": [_spawn(pids, "1"), {"hang": 300}]},
                    {"actions": _commit("one.txt", "one")},
                ]
            },
            "2": {"start": [{"actions": [_spawn(pids, "2"), *_commit("two.txt", "two")]}]},
        }
    }
    started: list[int] = []
    try:
        run.run(TWO_TASKS, script)
        wait_until("task 1's servers", lambda: results(run) == 1)
        run.kill()
        # The agent dies with its engine (as a CLI does when its stdout breaks), leaving
        # its group's leader gone and its children running.
        recorded = run.rows("SELECT pid FROM processes WHERE effect_id LIKE '1/%'")
        (leader,) = [pid for (pid,) in recorded]
        kill_all([leader])
        wait_until("the agent's end", lambda: not alive(leader))
        started = read_pids(pids)
        assert len(started) >= 2
        assert all(alive(p) for p in started[:2])
        run.resume()
        started = read_pids(pids)
        assert len(started) == 4
        assert [p for p in started if alive(p)] == []
    finally:
        run.stop()
        kill_all(read_pids(pids))


def test_ci_cut_off_by_a_crash_runs_once_more_alone_and_leaves_no_files(
    tmp_path: Path,
) -> None:
    run = crashable(tmp_path, "slow-ci")
    log = tmp_path / "ci"
    log.mkdir()
    starts, overlaps = log / "starts", log / "overlaps"
    # Each run notes a run still alive beside it (a zombie is dead: where PID 1 does not
    # reap, one lingers), then its own pid; the first one hangs.
    ci = (
        f'for p in $(cat {starts} 2>/dev/null); do grep -qs "State:.[^Z]" /proc/$p/status && '
        f"echo $p >> {overlaps}; done; echo $$ >> {starts}; "
        f"[ $(wc -l < {starts}) -gt 1 ] || exec sleep 300"
    )
    script = {"tasks": {"1": {"start": [{"actions": _commit("one.txt", "one")}]}}}
    first: list[int] = []
    try:
        run.run(one_task_plan(TITLE), script, "--ci", f"sh -c '{ci}'")
        wait_until("the first CI run", lambda: starts.exists() and starts.read_text().strip())
        first = [int(starts.read_text())]
        run.kill()
        tmpdir = Path(run.env["TMPDIR"])
        left = temp_leftovers(tmpdir) + list((run.project_dir / "tmp").glob("*/*"))
        assert left, "the killed CI run's export should still be there"
        assert alive(first[0])
        run.resume()
        pids = [int(p) for p in starts.read_text().split()]
        assert pids[0] == first[0]
        assert len(pids) == 2  # run once more, not twice
        assert not overlaps.exists(), overlaps.read_text()
        assert not alive(first[0])
        assert temp_leftovers(tmpdir) == []
        assert list((run.project_dir / "tmp").glob("*/*")) == []
    finally:
        run.stop()
        kill_all(first)
