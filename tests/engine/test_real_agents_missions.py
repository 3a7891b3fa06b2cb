"""A mission with the real Claude Code CLI against the model-API double, end to end.

The real `plait` command in subprocesses: `init` with the claude backend aimed at the
double, a background engine, `plait mission`, `plait wait`, `plait result`. The mission's
turn runs a shell command through Claude Code's Bash tool that uses the plait CLI from
inside the agent (the memory), proving the agent sees its project, its identity and the
`plait` command.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from plait.testing.gitrepo import GitRepo
from plait.testing.model_api import ModelAPIDouble, shell_turn
from plait.testing.model_api_clis import cli_options, plait_run_args
from tests.engine.test_real_agents_e2e import plait

pytestmark = pytest.mark.slow

PROMPT = "Survey the repository and leave a note"
ANSWER = "The repository holds a README and nothing else."


def test_a_claude_mission_answers_and_uses_the_plait_cli(tmp_path: Path, clis_bin: Path) -> None:
    note = 'plait memory add "The repository has only a README" --tag survey'
    turn = shell_turn(note, 'echo "$PLAIT_TASK_NAME" > "$HOME/name.txt"', text=ANSWER)
    with ModelAPIDouble(routes={PROMPT: [turn]}) as api:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PLAIT_"))}
        base.update(HOME=str(tmp_path), PLAIT_HOME=str(tmp_path / "plait-home"))
        options, env = cli_options(api, "claude", clis_bin, home=tmp_path / "claude", base_env=base)
        repo = GitRepo.init(tmp_path / "repo", files={"README.md": "# survey\n"})
        init = [
            "init",
            "--repo",
            str(repo.path),
            "--project",
            "real",
            *plait_run_args("claude", options),
        ]
        assert plait(init, env, timeout=120).returncode == 0
        assert plait(["up", "real"], env, timeout=120).returncode == 0
        try:
            started = plait(
                ["mission", PROMPT, "--name", "survey", "-p", "real", "--json"], env, timeout=120
            )
            assert started.returncode == 0, started.stderr
            assert json.loads(started.stdout)["id"] == "m1"
            waited = plait(["wait", "survey", "-p", "real"], env, timeout=170)
            assert waited.returncode == 0, (waited.stdout, waited.stderr)
            result = json.loads(
                plait(["result", "m1", "-p", "real", "--json"], env, timeout=120).stdout
            )
            notes = json.loads(
                plait(["memory", "list", "-p", "real", "--json"], env, timeout=120).stdout
            )
        finally:
            plait(["down", "real"], env, timeout=120)
    assert result["answer"] == ANSWER
    assert result["exit_code"] == 0
    assert result["status"] == "done"
    assert (tmp_path / "name.txt").read_text().strip() == "survey"
    assert [(n["task"], n["tags"]) for n in notes] == [("m1", ["survey"])]
