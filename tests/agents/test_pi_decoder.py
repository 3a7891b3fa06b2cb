"""PiStreamDecoder on `pi --mode json`: events, usage, and "exited 0 but the run failed"."""

from __future__ import annotations

import json
from pathlib import Path

from plait.agents import (
    AgentErrorEvent,
    AgentEvent,
    FinalResult,
    SessionStarted,
    TextOut,
    ToolCall,
    ToolResult,
    TurnSpec,
    UsageReport,
)
from plait.agents.pi import PiBackend, PiStreamDecoder

USAGE = {"input": 100, "output": 20, "cacheRead": 3, "cacheWrite": 0, "cost": {"total": 0.01}}
COMMAND = "echo hi > a.txt && git commit -qam a"


def assistant(content: list[object], stop: str, error: str = "") -> dict[str, object]:
    message: dict[str, object] = {
        "role": "assistant",
        "content": content,
        "usage": USAGE,
        "stopReason": stop,
    }
    if error:
        message["errorMessage"] = error
    return {"type": "message_end", "message": message}


CALL = {"type": "toolCall", "id": "toolu_1", "name": "bash", "arguments": {"command": COMMAND}}
RESULT = {"content": [{"type": "text", "text": "committed\n"}]}
OK_STREAM: list[object] = [
    {"type": "session", "version": 3, "id": "pi-1", "cwd": "/w"},
    {"type": "agent_start"},
    {
        "type": "message_end",
        "message": {"role": "user", "content": [{"type": "text", "text": "x"}]},
    },
    assistant([CALL], "toolUse"),
    {"type": "tool_execution_end", "toolCallId": "toolu_1", "result": RESULT, "isError": False},
    assistant([{"type": "text", "text": "Done."}], "stop"),
    {"type": "agent_end", "messages": []},
]
ERROR_RUN: list[object] = [
    {"type": "agent_start"},
    assistant([], "error", "429 rate_limit_error: Number of request tokens has exceeded"),
    {"type": "agent_end", "messages": []},
]


def decode(lines: list[object]) -> list[AgentEvent]:
    dec = PiStreamDecoder(clock=lambda: 1000.0)
    data = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
    return [e for i in range(0, len(data), 33) for e in dec.feed(data[i : i + 33])] + list(
        dec.close()
    )


def test_pi_run_maps_to_events_and_an_ok_result() -> None:
    events = decode(OK_STREAM)
    assert events[0] == SessionStarted(session_id="pi-1")
    assert ToolCall(call_id="toolu_1", name="bash", input=COMMAND) in events
    assert ToolResult(call_id="toolu_1", output="committed\n") in events
    assert TextOut(text="Done.") in events
    assert len([e for e in events if isinstance(e, UsageReport)]) == 2
    final = events[-1]
    assert isinstance(final, FinalResult)
    assert (final.ok, final.text, final.session_id, final.num_turns) == (True, "Done.", "pi-1", 2)
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.cache_read_tokens) == (200, 6)
    assert final.usage.cost_usd == 0.02


def test_pi_failed_run_that_exits_zero_is_not_ok() -> None:
    retry = {"type": "auto_retry_start", "attempt": 1, "errorMessage": "429 rate limited"}
    gave_up = {"type": "auto_retry_end", "success": False, "finalError": "429 rate limited"}
    events = decode([OK_STREAM[0], *ERROR_RUN, retry, *ERROR_RUN, gave_up])
    errors = [e for e in events if isinstance(e, AgentErrorEvent)]
    assert [e.failure for e in errors] == ["rate_limit", "rate_limit"]
    final = events[-1]
    assert isinstance(final, FinalResult)
    assert (final.ok, final.failure) == (False, "rate_limit")


def test_pi_error_stop_without_retry_is_classified() -> None:
    overflow = assistant([], "error", "prompt is too long: 250000 tokens > 200000 maximum")
    events = decode([{"type": "agent_start"}, overflow, {"type": "agent_end"}])
    final = events[-1]
    assert isinstance(final, FinalResult)
    assert (final.ok, final.failure) == (False, "context_overflow")


def test_pi_stream_without_agent_end_synthesizes_nothing() -> None:
    assert not any(isinstance(e, FinalResult) for e in decode(OK_STREAM[:4]))


def test_pi_backend_writes_provider_config_when_its_home_is_prepared(tmp_path: Path) -> None:
    home = tmp_path / "pi"
    backend = PiBackend(
        model="m1", base_url="http://h", api_key="k", config_home=str(home), max_retries=0
    )
    assert not home.exists()  # building a backend writes nothing
    backend.prepare_home()
    models = json.loads((home / "models.json").read_text())
    assert models["providers"]["plait"]["baseUrl"] == "http://h"
    assert json.loads((home / "settings.json").read_text())["retry"]["enabled"] is False
    spec = TurnSpec(prompt="go", workdir="/w", session_id="pi-1", effort="low")
    argv = backend.argv(spec)
    assert argv[:5] == ["pi", "-p", "--mode", "json", "--offline"]
    assert "plait/m1" in argv
    assert argv[-3:] == ["--session", "pi-1", "go"]
    env = backend.env({"PI_CODING_AGENT": "1"}, spec)
    assert env["PI_CODING_AGENT_DIR"] == str(home)
    assert "PI_CODING_AGENT" not in env
