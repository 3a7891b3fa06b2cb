"""Agents that misbehave, through plait's executors (issue 14, R3): each is detected and
contained. The agent is a shell program speaking the script agent's stream (claude's
stream-json), so each misbehaviour is exact; the worktrees, git and processes are real.

Elsewhere: a silent hang (tests/agents/test_agent_runner.py, the idle timeout), real CLIs
stalling (tests/engine/test_real_agents_faults.py), main touched
(tests/engine/test_agent_touches_main.py), the decoder's line cap
(tests/agents/test_decoder_speed_equivalence.py and plait.agents.stream).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shlex
import tracemalloc
from pathlib import Path

from plait.agents import TurnSpec
from plait.core import events as ev
from plait.engine.executors import Executors

from .test_executors import ScriptBacked, _git_home, agent_effect, make_executors

__all__ = ["_git_home"]  # the autouse fixture: git in an isolated home

RESULT = json.dumps(
    {"type": "result", "subtype": "success", "is_error": False, "result": "done",
     "session_id": "s1", "num_turns": 1}
)  # fmt: skip
ERROR_RESULT = json.dumps(
    {"type": "result", "subtype": "success", "is_error": True, "result": "I could not do it",
     "session_id": "s1", "num_turns": 1}
)  # fmt: skip
WORK = "echo x > f.txt && git add f.txt && git commit -qm f"
INIT = json.dumps({"type": "system", "subtype": "init", "session_id": "s1", "cwd": "."})


class Shell(ScriptBacked):
    """An agent that runs `program` (sh) in its worktree instead of the script agent."""

    def __init__(self, program: str, script: Path) -> None:
        super().__init__(script)
        self.program = program

    def argv(self, spec: TurnSpec) -> list[str]:
        return ["sh", "-c", self.program]


def _shell_executors(tmp_path: Path, program: str) -> Executors:
    """Executors whose agent is `program`, without timeouts."""
    script = tmp_path / "script.json"
    script.write_text("{}")
    return make_executors(tmp_path, Shell(program, script), idle_timeout=None, turn_timeout=None)


def _turn(tmp_path: Path, program: str) -> ev.AgentFinished:
    async def scenario() -> ev.Event:
        executors = _shell_executors(tmp_path, program)
        effect = await agent_effect(executors, "t")
        return await executors.run(effect)

    done = asyncio.run(scenario())
    assert isinstance(done, ev.AgentFinished), done
    return done


def _say(*lines: str) -> str:
    return " ; ".join(f"printf '%s\\n' {shlex.quote(line)}" for line in lines)


def test_an_agent_that_prints_100_mb_costs_bounded_memory(tmp_path: Path) -> None:
    """100 MB on one line, then 100 MB in short lines, then its result: plait reads it
    all without holding it (the peak of Python's allocations stays far below)."""
    big_line = "head -c 100000000 /dev/zero | tr '\\0' x; echo"
    many = "yes 'just some chatter from the agent' | head -c 100000000; echo"
    program = f"{_say(INIT)}; {big_line}; {many}; {WORK}; {_say(RESULT)}"
    tracemalloc.start()
    try:
        done = _turn(tmp_path, program)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert done.ok, done.error
    assert done.commits_ahead == 1
    assert peak < 40 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB of Python allocations"


def test_an_agent_that_exits_0_after_reporting_failure_failed(tmp_path: Path) -> None:
    done = _turn(tmp_path, f"{_say(INIT, ERROR_RESULT)}; exit 0")
    assert not done.ok
    assert done.failure == "failed"
    assert "could not do it" in done.error


def test_an_agent_that_exits_0_without_a_result_failed(tmp_path: Path) -> None:
    done = _turn(tmp_path, f"{_say(INIT)}; exit 0")
    assert not done.ok
    assert "without a result" in done.error


def test_an_agent_that_deletes_its_worktree_fails_the_turn_cleanly(tmp_path: Path) -> None:
    """The worktree is gone: the turn fails with what happened (no traceback out of the
    executor), and the next prepare of the task makes the worktree again."""
    program = f'{_say(INIT)}; rm -rf "$PWD"; {_say(RESULT)}'

    async def scenario() -> tuple[ev.Event, object]:
        executors = _shell_executors(tmp_path, program)
        effect = await agent_effect(executors, "t")
        done = await executors.run(effect)
        again = await agent_effect(executors, "t")
        return done, again

    done, again = asyncio.run(scenario())
    assert not getattr(done, "ok", False), done
    assert Path(getattr(again, "worktree", "")).is_dir()


def test_the_turn_after_an_agent_deleted_its_worktree_gets_it_back(tmp_path: Path) -> None:
    """The core retries a failed turn in the same worktree, without preparing it again
    (as `plait run` does): the executor makes it again, with the commits the agent made."""
    marker = tmp_path / "deleted-once"
    first = f'touch {marker}; {_say(INIT)}; {WORK}; rm -rf "$PWD"; {_say(RESULT)}'
    program = f"if [ -e {marker} ]; then {_say(INIT, RESULT)}; else {first}; fi"

    async def scenario() -> tuple[ev.Event, ev.Event, str]:
        executors = _shell_executors(tmp_path, program)
        effect = await agent_effect(executors, "t")
        done = await executors.run(effect)
        again = await executors.run(dataclasses.replace(effect, id="t/3/agent"))
        return done, again, effect.worktree

    done, again, worktree = asyncio.run(scenario())
    assert not getattr(done, "ok", True), done
    assert isinstance(again, ev.AgentFinished), again
    assert again.ok, again.error
    assert Path(worktree).is_dir()
    assert again.commits_ahead == 1  # the commit made before the worktree went is kept
