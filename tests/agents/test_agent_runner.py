"""run_turn's process handling: stalls, timeouts, cancellation, failures to start.

Liveness checks read /proc: a process that is gone, or a zombie nobody has reaped yet
(it has exited), counts as dead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from plait.agents import (
    AgentEvent,
    ClaudeBackend,
    ScriptBackend,
    ToolResult,
    TurnOutcome,
    TurnSpec,
    run_turn,
)
from plait.testing.loop_clock import SkippingLoop, run_skipping

Script = Callable[[object], str]

# The agent records its own pid and starts a background grandchild in its process group.
SPAWN = {
    "run": ["sh", "-c", "echo $PPID > agent.pid; sleep 300 >/dev/null 2>&1 & echo $! > child.pid"]
}


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def pids(repo: Path) -> list[int]:
    return [int((repo / name).read_text()) for name in ("agent.pid", "child.pid")]


def spec(repo: Path, **fields: object) -> TurnSpec:
    base: dict[str, object] = {"prompt": "p", "workdir": str(repo), "task_id": "T1"}
    return TurnSpec(**{**base, **fields})  # type: ignore[arg-type]


def hang_script(script_file: Script) -> ScriptBackend:
    return ScriptBackend(
        script=script_file({"default": {"start": [{"actions": [SPAWN, {"hang": 300}]}]}})
    )


HOUR = 3600.0


def hang_then_skip_an_hour(
    backend: ScriptBackend,
    turn: TurnSpec,
    env: dict[str, str],
    *,
    idle_timeout: float | None = None,
    turn_timeout: float | None = None,
) -> TurnOutcome:
    """Run the hanging agent with hour-long limits; once it has reported its spawn (its
    last output before going silent), skip the hour: the limit fires then, not because
    the machine was slow to start Python."""

    async def scenario(loop: SkippingLoop) -> TurnOutcome:
        spawned = asyncio.Event()

        def on_event(event: AgentEvent) -> None:
            if isinstance(event, ToolResult):
                spawned.set()

        task = asyncio.create_task(
            run_turn(
                backend,
                turn,
                on_event=on_event,
                idle_timeout=idle_timeout,
                turn_timeout=turn_timeout,
                base_env=env,
                kill_grace=1.0,
            )
        )
        await spawned.wait()
        loop.skip(HOUR)
        return await task

    return run_skipping(scenario)


def test_no_output_for_idle_timeout_is_a_stall_and_the_group_dies(
    repo: Path, agent_env: dict[str, str], script_file: Script
) -> None:
    outcome = hang_then_skip_an_hour(
        hang_script(script_file), spec(repo), agent_env, idle_timeout=HOUR
    )
    assert not outcome.ok
    assert outcome.failure == "stalled"
    assert "no output" in outcome.error
    assert outcome.exit_code is not None
    assert outcome.exit_code < 0  # killed by a signal
    agent, child = pids(repo)
    assert not alive(agent)
    assert not alive(child)


def test_turn_timeout_stops_the_turn(
    repo: Path, agent_env: dict[str, str], script_file: Script
) -> None:
    outcome = hang_then_skip_an_hour(
        hang_script(script_file), spec(repo), agent_env, turn_timeout=HOUR
    )
    assert outcome.failure == "timeout"
    assert not any(alive(p) for p in pids(repo))


def test_cancellation_kills_the_group_and_propagates(
    repo: Path, agent_env: dict[str, str], script_file: Script
) -> None:
    async def scenario() -> None:
        spawned = asyncio.Event()

        def on_event(event: AgentEvent) -> None:
            if isinstance(event, ToolResult):
                spawned.set()

        backend = hang_script(script_file)
        task = asyncio.create_task(
            run_turn(backend, spec(repo), on_event=on_event, base_env=agent_env, kill_grace=1.0)
        )
        await asyncio.wait_for(spawned.wait(), timeout=60)
        assert all(alive(p) for p in pids(repo))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert not any(alive(p) for p in pids(repo))


def test_a_failing_event_callback_still_kills_the_group(
    repo: Path, agent_env: dict[str, str], script_file: Script
) -> None:
    def on_event(event: AgentEvent) -> None:
        if isinstance(event, ToolResult):
            raise RuntimeError("callback bug")

    backend = hang_script(script_file)
    with pytest.raises(RuntimeError, match="callback bug"):
        asyncio.run(
            run_turn(backend, spec(repo), on_event=on_event, base_env=agent_env, kill_grace=1.0)
        )
    assert not any(alive(p) for p in pids(repo))


def test_leftover_background_processes_die_with_a_finished_turn(
    repo: Path, agent_env: dict[str, str], script_file: Script
) -> None:
    backend = ScriptBackend(script=script_file({"default": {"start": [{"actions": [SPAWN]}]}}))
    outcome = asyncio.run(run_turn(backend, spec(repo), base_env=agent_env, kill_grace=1.0))
    assert outcome.ok
    assert not any(alive(p) for p in pids(repo))


# A daemon that left the agent's process group with setsid, in the worktree and in a
# subfolder of it (its pid is the shell's, kept by exec).
ESCAPE = {
    "run": [
        "sh",
        "-c",
        "mkdir -p sub && for d in . sub; do (cd $d && setsid sh -c "
        "'echo $$ > escaped.pid; exec sleep 300' </dev/null >/dev/null 2>&1 &); done; "
        "while [ ! -s escaped.pid ] || [ ! -s sub/escaped.pid ]; do sleep 0.01; done",
    ]
}


def test_a_daemon_that_left_the_group_dies_with_the_turn(
    repo: Path, agent_env: dict[str, str], script_file: Script
) -> None:
    backend = ScriptBackend(script=script_file({"default": {"start": [{"actions": [ESCAPE]}]}}))
    outcome = asyncio.run(run_turn(backend, spec(repo), base_env=agent_env, kill_grace=1.0))
    assert outcome.ok, outcome.error
    escaped = [int((repo / d / "escaped.pid").read_text()) for d in (".", "sub")]
    assert not any(alive(p) for p in escaped)


def test_a_missing_executable_is_a_failed_turn_with_a_hint(
    repo: Path, agent_env: dict[str, str]
) -> None:
    backend = ClaudeBackend(executable=str(repo / "no-such-claude"))
    outcome: TurnOutcome = asyncio.run(run_turn(backend, spec(repo), base_env=agent_env))
    assert not outcome.ok
    assert outcome.failure == "crash"
    assert outcome.exit_code is None
    assert "no-such-claude" in outcome.error
    assert "install" in outcome.error
    missing = asyncio.run(run_turn(backend, spec(repo / "gone"), base_env=agent_env))
    assert "does not exist" in missing.error
