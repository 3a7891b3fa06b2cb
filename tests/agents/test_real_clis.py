"""Each real agent CLI (pinned, from npm) runs turns through plait against the model-API double.

Per backend: a turn whose scripted shell call writes a file and commits in a real repo
(plait sees the session id, tool call and usage); a second turn resuming that session (the
double sees the earlier conversation); an injected 429 classified as `rate_limit`; a
stalled stream caught by the runner's idle watchdog. The CLIs are installed by
`tools/agent-clis/install` on first use (a no-op afterwards); the tests skip only when that
cannot run at all (no npm, no source checkout).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from plait.agents import AgentEvent, SessionStarted, ToolCall, ToolResult, TurnSpec
from plait.agents.runner import TurnOutcome, run_turn
from plait.core.model import Usage
from plait.testing.loop_clock import SkippingLoop, run_skipping
from plait.testing.model_api import Fault, ModelAPIDouble, Turn, shell_turn
from plait.testing.model_api_clis import (
    CLIS,
    AgentCLIsUnavailable,
    agent_clis_bin,
    cli_against,
)

from .conftest import git

TURN_USAGE = Usage(input_tokens=120, output_tokens=30, cache_read_tokens=8)
PROMPT_ONE = "Add one.txt and commit it (plait real-CLI test)."
PROMPT_TWO = "Now add two.txt and commit it."


def commit_turn(name: str) -> Turn:
    command = (
        f"printf '{name}\\n' > {name}.txt && git add {name}.txt && git commit -qm 'add {name}'"
    )
    return shell_turn(command, text=f"Added {name}.txt.", usage=TURN_USAGE)


# A test runs one or two CLI turns of at most 90 s each. An opencode test took 56 s for its
# two turns on two test workers on two cores beside other work, so 120 s was close; this
# bound still ends a hung test.
TEST_TIMEOUT = 240


@pytest.fixture(scope="session")
def clis_bin() -> Path:
    try:
        return agent_clis_bin()
    except AgentCLIsUnavailable as exc:
        pytest.skip(f"real agent CLIs unavailable: {exc}")


class Run:
    """Runs turns of one CLI against one double, keeping its config home across turns."""

    def __init__(
        self, api: ModelAPIDouble, cli: str, bin_dir: Path, tmp: Path, env: dict[str, str]
    ) -> None:
        self.backend, self.env = cli_against(
            api, cli, bin_dir, home=tmp / f"{cli}-home", base_env=env
        )
        self.events: list[AgentEvent] = []

    def turn(self, spec: TurnSpec, *, idle: float | None = None) -> TurnOutcome:
        self.events.clear()
        coro = run_turn(
            self.backend,
            spec,
            on_event=self.events.append,
            base_env=self.env,
            idle_timeout=idle,
            turn_timeout=90,
            kill_grace=1.0,
        )
        return asyncio.run(coro)


@pytest.mark.slow
@pytest.mark.timeout(TEST_TIMEOUT)
@pytest.mark.parametrize("cli", CLIS)
def test_turn_commits_then_resume_continues_session(
    cli: str, clis_bin: Path, tmp_path: Path, repo: Path, agent_env: dict[str, str]
) -> None:
    with ModelAPIDouble([commit_turn("one"), commit_turn("two")]) as api:
        run = Run(api, cli, clis_bin, tmp_path, agent_env)
        spec = TurnSpec(prompt=PROMPT_ONE, workdir=str(repo), task_id="t-1", max_turns=10)
        first = run.turn(spec)
        assert first.ok, f"{cli}: {first.failure}: {first.error}"
        assert git(repo, "log", "-1", "--format=%s", env=agent_env) == "add one"
        assert (repo / "one.txt").read_text() == "one\n"
        assert first.session_id
        assert any(isinstance(e, SessionStarted) for e in run.events)
        calls = [e for e in run.events if isinstance(e, ToolCall)]
        assert any("one.txt" in c.input for c in calls), calls
        assert any(isinstance(e, ToolResult) for e in run.events)
        # Two model responses (the tool call, the final text), each reporting TURN_USAGE.
        assert first.usage.output_tokens == 2 * TURN_USAGE.output_tokens, first.usage
        assert first.usage.input_tokens >= 2 * TURN_USAGE.input_tokens, first.usage

        resume = replace(spec, prompt=PROMPT_TWO, session_id=first.session_id)
        assert first.session_id in run.backend.argv(resume)
        second = run.turn(resume)
        assert second.ok, f"{cli}: {second.failure}: {second.error}"
        assert git(repo, "log", "-1", "--format=%s", env=agent_env) == "add two"
        assert second.session_id == first.session_id
        later = [r for r in api.model_requests() if r.turn == 1]
        assert later, api.requests
        assert all(PROMPT_ONE in json.dumps(r.body) for r in later), "prior turn not resent"
        assert api.exhausted == 0


# opencode retries a 429 itself, without limit, honouring `retry-after`, and prints nothing
# meanwhile: plait cannot classify it (the idle watchdog sees a stall); it is tested apart.
LIMIT_CLASSIFIED = tuple(c for c in CLIS if c != "opencode")


@pytest.mark.slow
@pytest.mark.timeout(TEST_TIMEOUT)
@pytest.mark.parametrize("cli", LIMIT_CLASSIFIED)
def test_rate_limit_is_classified(
    cli: str, clis_bin: Path, tmp_path: Path, repo: Path, agent_env: dict[str, str]
) -> None:
    with ModelAPIDouble([commit_turn("one")]) as api:
        api.inject(*[Fault(kind="rate_limit", reset_in=120)] * 12)
        run = Run(api, cli, clis_bin, tmp_path, agent_env)
        outcome = run.turn(TurnSpec(prompt=PROMPT_ONE, workdir=str(repo), max_turns=10))
        assert not outcome.ok
        assert outcome.failure == "rate_limit", f"{cli}: {outcome.failure}: {outcome.error}"
        assert git(repo, "log", "-1", "--format=%s", env=agent_env) == "initial"


@pytest.mark.slow
@pytest.mark.timeout(TEST_TIMEOUT)
def test_opencode_waits_out_a_rate_limit_and_completes(
    clis_bin: Path, tmp_path: Path, repo: Path, agent_env: dict[str, str]
) -> None:
    with ModelAPIDouble([commit_turn("one")]) as api:
        api.inject(Fault(kind="rate_limit", reset_in=1))
        run = Run(api, "opencode", clis_bin, tmp_path, agent_env)
        outcome = run.turn(TurnSpec(prompt=PROMPT_ONE, workdir=str(repo)))
        assert outcome.ok, f"{outcome.failure}: {outcome.error}"
        assert [r.fault for r in api.requests if r.fault] == ["rate_limit"]
        assert git(repo, "log", "-1", "--format=%s", env=agent_env) == "add one"


HOUR = 3600.0


@pytest.mark.slow
@pytest.mark.timeout(TEST_TIMEOUT)
@pytest.mark.parametrize("cli", CLIS)
def test_stalled_stream_is_detected(
    cli: str, clis_bin: Path, tmp_path: Path, repo: Path, agent_env: dict[str, str]
) -> None:
    """The stream falls silent mid-answer: the idle watchdog ends the turn as stalled.
    The watchdog waits an hour, and the test skips the loop's clock only once the double
    holds the stalled request: a CLI slow to start on a loaded machine (opencode prints
    nothing until a model step finished) can never be the silence that trips it."""
    with ModelAPIDouble([commit_turn("one")]) as api:
        api.inject(Fault(kind="stall", stall_seconds=60))
        run = Run(api, cli, clis_bin, tmp_path, agent_env)
        spec = TurnSpec(prompt=PROMPT_ONE, workdir=str(repo))

        async def scenario(loop: SkippingLoop) -> TurnOutcome:
            turn = asyncio.create_task(
                run_turn(
                    run.backend, spec, on_event=run.events.append, base_env=run.env,
                    idle_timeout=HOUR, turn_timeout=None, kill_grace=1.0,
                )
            )  # fmt: skip
            while not any(r.fault == "stall" for r in api.requests) and not turn.done():
                await asyncio.sleep(0.05)
            # Whatever the CLI prints on the stalled stream's first event restarts the
            # watch; skipping again until the turn ends makes the silence after it an hour.
            while not turn.done():
                await asyncio.sleep(0.5)
                loop.skip(HOUR)
                await asyncio.wait({turn}, timeout=1.0)
            return turn.result()

        outcome = run_skipping(scenario)
        assert outcome.failure == "stalled", f"{cli}: {outcome.failure}: {outcome.error}"
        assert [r.fault for r in api.requests if r.fault] == ["stall"]
