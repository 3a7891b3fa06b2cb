"""OpenCodeStreamDecoder on `opencode run --format json`: events, usage per step, failures."""

from __future__ import annotations

import json

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
from plait.agents.opencode import OpenCodeBackend, OpenCodeStreamDecoder

SES = "ses_abc"
TOKENS = {
    "total": 120,
    "input": 100,
    "output": 20,
    "reasoning": 0,
    "cache": {"write": 0, "read": 5},
}
COMMAND = "echo hi > a.txt && git commit -qam a"
TOOL_STATE = {
    "status": "completed",
    "input": {"command": COMMAND},
    "output": "committed\n",
}


def ev(kind: str, **part: object) -> dict[str, object]:
    return {"type": kind, "sessionID": SES, "part": {"sessionID": SES, **part}}


OK_STREAM: list[object] = [
    ev("step_start", type="step-start"),
    ev("tool_use", type="tool", tool="bash", callID="toolu_1", state=TOOL_STATE),
    ev("step_finish", type="step-finish", reason="tool-calls", tokens=TOKENS, cost=0.25),
    ev("step_start", type="step-start"),
    ev("text", type="text", text="Done."),
    ev("step_finish", type="step-finish", reason="stop", tokens=TOKENS, cost=0.25),
]


def decode(lines: list[object]) -> list[AgentEvent]:
    dec = OpenCodeStreamDecoder(clock=lambda: 1000.0)
    data = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
    return [*dec.feed(data[:50]), *dec.feed(data[50:]), *dec.close()]


def test_opencode_steps_map_to_events_and_a_synthesized_result() -> None:
    events = decode(OK_STREAM)
    assert events[0] == SessionStarted(session_id=SES)
    call = next(e for e in events if isinstance(e, ToolCall))
    assert (call.call_id, call.name, call.input) == ("toolu_1", "bash", COMMAND)
    assert ToolResult(call_id="toolu_1", output="committed\n") in events
    assert TextOut(text="Done.") in events
    usages = [e.usage for e in events if isinstance(e, UsageReport)]
    assert len(usages) == 2
    assert usages[0].cache_read_tokens == 5
    final = events[-1]
    assert isinstance(final, FinalResult)
    assert (final.ok, final.text, final.session_id, final.num_turns) == (True, "Done.", SES, 2)
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.cost_usd) == (200, 0.5)


def test_opencode_stream_ending_after_tool_calls_synthesizes_nothing() -> None:
    assert not any(isinstance(e, FinalResult) for e in decode(OK_STREAM[:3]))


def test_opencode_error_event_is_a_classified_failure() -> None:
    error = {
        "type": "error",
        "sessionID": SES,
        "error": {"name": "APIError", "data": {"message": "Overloaded", "statusCode": 529}},
    }
    events = decode([OK_STREAM[0], error])
    err = next(e for e in events if isinstance(e, AgentErrorEvent))
    assert err.failure == "overloaded"
    final = events[-1]
    assert isinstance(final, FinalResult)
    assert (final.ok, final.failure) == (False, "overloaded")


def test_opencode_auth_error_and_garbage() -> None:
    auth = {"type": "error", "error": {"name": "ProviderAuthError", "data": {"message": "nope"}}}
    dec = OpenCodeStreamDecoder()
    events = [*dec.feed(b"INFO starting\n" + json.dumps(auth).encode()), *dec.close()]
    final = events[-1]
    assert isinstance(final, FinalResult)
    assert final.failure == "auth"


def test_opencode_argv_and_env_point_at_a_provider() -> None:
    backend = OpenCodeBackend(model="m1", base_url="http://h/v1", config_home="/c")
    spec = TurnSpec(prompt="go", workdir="/w", session_id="ses_1", effort="high")
    argv = backend.argv(spec)
    assert argv[:5] == ["opencode", "run", "--format", "json", "--auto"]
    assert argv[argv.index("-m") : argv.index("-m") + 2] == ["-m", "plait/m1"]
    assert argv[argv.index("--session") : argv.index("--session") + 2] == ["--session", "ses_1"]
    assert argv[-2:] == ["--", "go"]
    env = backend.env({"OPENCODE": "1"}, spec)
    assert "OPENCODE" not in env
    assert env["PWD"] == "/w"
    assert env["XDG_DATA_HOME"] == "/c/data"
    config = json.loads(env["OPENCODE_CONFIG_CONTENT"])
    assert config["provider"]["plait"]["options"]["baseURL"] == "http://h/v1"
