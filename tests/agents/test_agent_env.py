"""Agent environments: nested-agent variables and forge tokens removed, task identity added."""

from __future__ import annotations

import os
import sys

from plait.agents import ClaudeBackend, ScriptBackend, TurnSpec, clean_env

SPEC = TurnSpec(prompt="do it", workdir="/tmp", task_id="T1", project="demo", kind="ci")
BASE = {
    "PATH": "/usr/bin",
    "HOME": "/home/dev",
    "CLAUDECODE": "1",
    "CLAUDE_CODE_ENTRYPOINT": "cli",
    "CODEX_SANDBOX": "seatbelt",
    "GITHUB_TOKEN": "ghp_secret",
    "GH_TOKEN": "gho_secret",
    "PLAIT_FORGE_TOKEN": "secret",
    "GIT_DIR": "/elsewhere/.git",
    "ANTHROPIC_API_KEY": "sk-keep",
    "PLAIT_TASK_ID": "stale",
}


def test_clean_env_removes_nested_agent_and_token_variables() -> None:
    env = clean_env(BASE, SPEC)
    for gone in ("CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT", "CODEX_SANDBOX", "GIT_DIR"):
        assert gone not in env
    for token in ("GITHUB_TOKEN", "GH_TOKEN", "PLAIT_FORGE_TOKEN"):
        assert token not in env
    assert env["PATH"] == "/usr/bin"
    assert env["ANTHROPIC_API_KEY"] == "sk-keep"  # the agent's own credentials stay
    assert (env["PLAIT_TASK_ID"], env["PLAIT_PROJECT"], env["PLAIT_TURN_KIND"]) == (
        "T1",
        "demo",
        "ci",
    )
    assert BASE["CLAUDECODE"] == "1"  # the base is not modified


def test_forge_token_passes_only_when_configured_and_extra_removals() -> None:
    env = clean_env(BASE, SPEC, pass_forge_token=True, remove=["ANTHROPIC_API_KEY"])
    assert env["GITHUB_TOKEN"] == "ghp_secret"
    assert env["PLAIT_FORGE_TOKEN"] == "secret"
    assert "ANTHROPIC_API_KEY" not in env
    assert "CLAUDECODE" not in env


def test_claude_env_marks_sandbox_when_root() -> None:
    env = ClaudeBackend().env(BASE, SPEC)
    assert "CLAUDECODE" not in env
    assert "GITHUB_TOKEN" not in env
    assert ("IS_SANDBOX" in env) == (os.geteuid() == 0)
    if os.geteuid() == 0:
        assert env["IS_SANDBOX"] == "1"
    assert "GITHUB_TOKEN" in ClaudeBackend(pass_forge_token=True).env(BASE, SPEC)


def test_claude_argv() -> None:
    argv = ClaudeBackend(executable="/opt/claude", model="m1", extra_args=("--x",)).argv(SPEC)
    assert argv[:3] == ["/opt/claude", "-p", "do it"]
    assert argv[argv.index("--output-format") + 1] == "stream-json"
    assert "--verbose" in argv
    assert "--dangerously-skip-permissions" in argv
    assert argv[argv.index("--max-turns") + 1] == "200"
    assert argv[argv.index("--model") + 1] == "m1"
    assert "--resume" not in argv
    assert argv[-1] == "--x"
    resumed = ClaudeBackend().argv(
        TurnSpec(prompt="-p fix", workdir=".", session_id="s-1", model="m2", max_turns=7)
    )
    assert resumed[resumed.index("--resume") + 1] == "s-1"
    assert resumed[resumed.index("--model") + 1] == "m2"
    assert resumed[resumed.index("--max-turns") + 1] == "7"
    assert resumed[2] == "-p fix"


def test_script_backend_argv_and_env() -> None:
    backend = ScriptBackend(python="/py")
    spec = TurnSpec(prompt="-x", workdir=".", task_id="T1", kind="conflict", onto="main",
                    session_id="s")  # fmt: skip
    argv = backend.argv(spec)
    assert argv[:4] == ["/py", "-P", "-m", "plait.agents.scripted"]
    assert argv[-2:] == ["-p", "-x"]
    assert argv[argv.index("--onto") + 1] == "main"
    assert argv[argv.index("--resume") + 1] == "s"
    assert "--script" not in argv
    env = backend.env({**BASE, "PYTHONPATH": "/extra"}, spec)
    assert env["PYTHONPATH"].split(os.pathsep)[1] == "/extra"
    assert "GITHUB_TOKEN" not in env
    assert ScriptBackend().argv(spec)[0] == sys.executable
