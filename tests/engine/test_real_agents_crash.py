"""kill -9 of the engine during a real claude turn: the resumed run continues that
session instead of starting the turn over.

The real Claude Code CLI runs against the `ModelAPIDouble`. The task's first turn writes
the module and its test, then runs a long `sleep`; the engine is SIGKILLed while it does
(once claude's saved session holds the sleep's tool call). `plait resume` then resumes
that session with the "you were interrupted" prompt, which the double answers with the
turn's second scripted turn (commit), so a restarted turn would show as a replay of the
first.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from plait.core.model import Usage
from plait.testing.model_api import ModelAPIDouble, shell_turn
from plait.testing.model_api_clis import (
    cli_options,
    plait_run_args,
)
from tests.engine.crash_helpers import alive, wait_until

from .test_real_agents_e2e import CI, _py, _test, git, make_repo, plait, scrubbed_env

TITLE = "Add the beta module"
WRITE = f"{_py('beta.py', 'VALUE = 2')} && {_test('beta', 2)}"
SLEEP = "sleep 120"
COMMIT = "git add beta.py tests/test_beta.py && git commit -qm 'Add beta'"
USAGE = Usage(input_tokens=100, output_tokens=20)


def plan_text() -> str:
    return (
        "# Gameplan: crash\n\n## Patches\n\n"
        f"### Patch 1 [INFRA]: {TITLE}\n\nWrite the module and its unittest test.\n\n"
        "## Dependency Graph\n\n- Patch 1 [INFRA] -> []\n"
    )


def saved_session_holds(home: Path, text: str) -> bool:
    return any(text in p.read_text(errors="replace") for p in home.glob("projects/*/*.jsonl"))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_claude_continues_the_session_a_crash_cut_off(clis_bin: Path, tmp_path: Path) -> None:
    first = shell_turn(WRITE, SLEEP, text="Never reached.", usage=USAGE)
    second = shell_turn(COMMIT, text="Committed after the interruption.", usage=USAGE)
    with ModelAPIDouble(routes={TITLE: [first, second]}) as api:
        home = tmp_path / "claude-home"
        options, env = cli_options(
            api, "claude", clis_bin, home=home, base_env=scrubbed_env(tmp_path / "home")
        )
        env["PLAIT_HOME"] = str(tmp_path / "plait-home")
        repo = make_repo(tmp_path / "repo", env)
        (tmp_path / "plan.md").write_text(plan_text())
        argv = [sys.executable, "-m", "plait.cli", "run", str(tmp_path / "plan.md")]
        argv += ["--repo", str(repo), "--project", "crash", "--ci", CI, "--json"]
        argv += plait_run_args("claude", options)
        with subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as engine:
            try:
                wait_until("claude's sleep", lambda: saved_session_holds(home, SLEEP), 120)
                engine.send_signal(signal.SIGKILL)
            finally:
                if engine.poll() is None:
                    engine.kill()
        db = Path(env["PLAIT_HOME"]) / "projects" / "crash" / "plait.db"
        claude_pids = _recorded_pids(db)
        resumed = plait(["resume", "crash", "--json"], env, timeout=240)
        assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
        summary = json.loads(resumed.stdout.strip().splitlines()[-1])
        assert summary["outcome"] == "merged", summary
        # Each scripted turn was played once: the first was not replayed from the start.
        assert api.route_turns_started(TITLE) == 2
        assert api.exhausted == 0

    logs = plait(["logs", "1", "--project", "crash", "--json"], env, timeout=60)
    entries = [json.loads(line) for line in logs.stdout.splitlines() if line.strip()]
    prompts = [e for e in entries if e["kind"] == "Prompt"]
    assert [p["event"]["text"].splitlines()[0] for p in prompts] == [
        f"# Task: {TITLE}",
        f"# Carry on: {TITLE}",
    ]
    assert prompts[0]["effect"] == prompts[1]["effect"]
    sessions = [e["event"]["session_id"] for e in entries if e["kind"] == "SessionStarted"]
    assert len(sessions) == 2
    assert sessions[0] == sessions[1]  # the same session, continued
    (row,) = summary["tasks"]
    assert row["turns"] == 2
    assert "beta.py" in git(repo, "ls-tree", "-r", "--name-only", "main", env=env).split()
    assert not any(alive(p) for p in claude_pids)


def _recorded_pids(db: Path) -> list[int]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [int(pid) for (pid,) in conn.execute("SELECT pid FROM processes")]
