"""GeminiStreamDecoder on `gemini -o stream-json` events (the documented shapes)."""

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
)
from plait.agents.gemini import GeminiBackend, GeminiStreamDecoder

STATS = {"total_tokens": 240, "input_tokens": 200, "output_tokens": 40, "cached": 10}
COMMAND = "echo hi > a.txt && git commit -qam a"
OK_STREAM: list[object] = [
    {"type": "init", "session_id": "g-1", "model": "gemini-x"},
    {"type": "message", "role": "user", "content": "go"},
    {
        "type": "tool_use",
        "tool_name": "run_shell_command",
        "tool_id": "t1",
        "parameters": {"command": COMMAND},
    },
    {"type": "tool_result", "tool_id": "t1", "status": "success", "output": "committed"},
    {"type": "message", "role": "assistant", "content": "All ", "delta": True},
    {"type": "message", "role": "assistant", "content": "done.", "delta": True},
    {"type": "result", "status": "success", "stats": STATS},
]
QUOTA = "[API Error: Quota exceeded for quota metric 'requests per minute'. Retry after 30s.]"


def decode(lines: list[object]) -> list[AgentEvent]:
    dec = GeminiStreamDecoder(clock=lambda: 1000.0)
    data = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
    return [*dec.feed(b"Warning: noise\n" + data), *dec.close()]


def test_gemini_stream_maps_to_events_and_result() -> None:
    events = decode(OK_STREAM)
    assert SessionStarted(session_id="g-1", model="gemini-x") in events
    assert ToolCall(call_id="t1", name="run_shell_command", input=COMMAND) in events
    assert ToolResult(call_id="t1", output="committed") in events
    assert TextOut(text="done.") in events
    final = events[-1]
    assert isinstance(final, FinalResult)
    assert (final.ok, final.text, final.session_id) == (True, "All done.", "g-1")
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.cache_read_tokens) == (190, 10)


def test_gemini_per_minute_quota_is_a_rate_limit_with_reset() -> None:
    error = {"type": "result", "status": "error", "error": {"type": "Error", "message": QUOTA}}
    events = decode([OK_STREAM[0], error])
    final = events[-1]
    assert isinstance(final, FinalResult)
    assert (final.ok, final.failure, final.reset_at) == (False, "rate_limit", 1030.0)


def test_gemini_daily_quota_is_a_usage_limit_and_max_turns_by_type() -> None:
    daily = {"type": "error", "severity": "error", "message": "exhausted your daily quota"}
    assert [e.failure for e in decode([daily]) if isinstance(e, AgentErrorEvent)] == ["usage_limit"]
    turns = {"type": "result", "status": "error", "error": {"type": "FatalTurnLimitedError"}}
    final = decode([turns])[-1]
    assert isinstance(final, FinalResult)
    assert final.failure == "max_turns"


def test_gemini_without_result_synthesizes_nothing() -> None:
    assert not any(isinstance(e, FinalResult) for e in decode(OK_STREAM[:-1]))


def test_gemini_backend_points_at_a_base_url(tmp_path: Path) -> None:
    backend = GeminiBackend(
        model="gx", base_url="http://h", config_home=str(tmp_path / "g"), max_retries=0
    )
    assert not (tmp_path / "g").exists()  # building a backend writes nothing
    backend.prepare_home()
    settings = json.loads((tmp_path / "g" / ".gemini" / "settings.json").read_text())
    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert settings["general"]["maxAttempts"] == 1
    spec = TurnSpec(prompt="go", workdir="/w", session_id="g-1")
    argv = backend.argv(spec)
    assert argv[:7] == ["gemini", "-p", "go", "-o", "stream-json", "--yolo", "--skip-trust"]
    assert argv[-2:] == ["--resume", "g-1"]
    env = backend.env({}, spec)
    assert (env["GOOGLE_GEMINI_BASE_URL"], env["GEMINI_CLI_HOME"]) == (
        "http://h",
        str(tmp_path / "g"),
    )
