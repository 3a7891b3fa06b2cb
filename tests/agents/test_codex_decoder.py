"""CodexStreamDecoder on codex's `exec --json` stream: events, cumulative usage, failures."""

from __future__ import annotations

import json

from plait.agents import (
    AgentErrorEvent,
    AgentEvent,
    FinalResult,
    Garbage,
    SessionStarted,
    TextOut,
    ToolCall,
    ToolResult,
    TurnSpec,
    UsageReport,
)
from plait.agents.codex import CodexBackend, CodexStreamDecoder

CMD = '/bin/bash -lc "echo hi > a.txt && git commit -qam a"'


def cmd_item(item_id: str, output: str, exit_code: int | None, status: str) -> dict[str, object]:
    return {
        "id": item_id,
        "type": "command_execution",
        "command": CMD,
        "aggregated_output": output,
        "exit_code": exit_code,
        "status": status,
    }


USAGE = {
    "input_tokens": 200,
    "cached_input_tokens": 20,
    "cache_write_input_tokens": 0,
    "output_tokens": 40,
    "reasoning_output_tokens": 10,
}
OK_STREAM: list[object] = [
    {"type": "thread.started", "thread_id": "th-1"},
    {"type": "item.completed", "item": {"id": "item_0", "type": "error", "message": "no meta"}},
    {"type": "turn.started"},
    {"type": "item.started", "item": cmd_item("item_1", "", None, "in_progress")},
    {"type": "item.completed", "item": cmd_item("item_1", "ok\n", 0, "completed")},
    {"type": "item.completed", "item": {"id": "item_2", "type": "agent_message", "text": "Done."}},
    {"type": "turn.completed", "usage": USAGE},
]
GAVE_UP = "exceeded retry limit, last status: 429 Too Many Requests. Please try again in 30s."


def decode(lines: list[object], *, chunk: int = 0) -> list[AgentEvent]:
    data = b"".join(
        json.dumps(x).encode() + b"\n" if not isinstance(x, bytes) else x for x in lines
    )
    dec = CodexStreamDecoder(clock=lambda: 1000.0)
    if chunk:
        out = [e for i in range(0, len(data), chunk) for e in dec.feed(data[i : i + chunk])]
    else:
        out = list(dec.feed(data))
    return out + list(dec.close())


def test_codex_turn_maps_to_typed_events() -> None:
    events = decode(OK_STREAM)
    assert SessionStarted(session_id="th-1") in events
    call = next(e for e in events if isinstance(e, ToolCall))
    assert (call.call_id, call.name) == ("item_1", "shell")
    assert "echo hi" in call.input
    result = next(e for e in events if isinstance(e, ToolResult))
    assert (result.output, result.is_error) == ("ok\n", False)
    assert TextOut(text="Done.") in events
    usage = next(e for e in events if isinstance(e, UsageReport))
    assert usage.cumulative
    assert usage.usage.input_tokens == 180  # cached input is counted apart
    assert usage.usage.cache_read_tokens == 20
    assert usage.usage.reasoning_tokens == 10
    final = events[-1]
    assert isinstance(final, FinalResult)
    assert (final.ok, final.text, final.session_id, final.num_turns) == (True, "Done.", "th-1", 1)
    assert final.usage is None  # cumulative usage stays in the UsageReport


def test_codex_decoder_is_chunking_independent() -> None:
    whole = decode(OK_STREAM)
    for size in (1, 7, 64):
        assert decode(OK_STREAM, chunk=size) == whole


def test_codex_failed_command_is_an_error_result() -> None:
    events = decode([{"type": "item.completed", "item": cmd_item("i", "", 1, "failed")}])
    assert [type(e) for e in events] == [ToolCall, ToolResult]
    assert isinstance(events[1], ToolResult)
    assert events[1].is_error


def test_codex_reconnecting_is_not_final_but_giving_up_is() -> None:
    stream = [
        {"type": "thread.started", "thread_id": "th-2"},
        {"type": "turn.started"},
        {"type": "error", "message": "Reconnecting... 1/5 (unexpected status 429)"},
        {"type": "error", "message": GAVE_UP},
        {"type": "turn.failed", "error": {"message": GAVE_UP}},
    ]
    events = decode(stream)
    errors = [e for e in events if isinstance(e, AgentErrorEvent)]
    assert [e.failure for e in errors] == ["rate_limit"] * 3
    final = events[-1]
    assert isinstance(final, FinalResult)
    assert (final.ok, final.failure, final.reset_at) == (False, "rate_limit", 1030.0)


def test_codex_stream_cut_mid_turn_synthesizes_nothing() -> None:
    events = decode(OK_STREAM[:5])
    assert not any(isinstance(e, FinalResult) for e in events)


def test_codex_garbage_and_huge_lines_are_survived() -> None:
    dec = CodexStreamDecoder(max_line=100)
    events = list(dec.feed(b"not json\n" + b"x" * 1000 + b"\n" + json.dumps(OK_STREAM[0]).encode()))
    events += list(dec.close())
    assert [type(e) for e in events] == [Garbage, Garbage, SessionStarted]


def test_codex_argv_fresh_and_resumed() -> None:
    backend = CodexBackend(model="gpt-x", base_url="http://127.0.0.1:1/v1", max_retries=0)
    spec = TurnSpec(prompt="-do it", workdir="/w", effort="high")
    argv = backend.argv(spec)
    assert argv[:2] == ["codex", "exec"]
    assert argv[-2:] == ["--", "-do it"]
    assert "--dangerously-bypass-approvals-and-sandbox" in argv
    assert 'model_reasoning_effort="high"' in argv
    assert any("request_max_retries = 0" in a for a in argv)
    resumed = backend.argv(TurnSpec(prompt="more", workdir="/w", session_id="th-1"))
    assert resumed[:3] == ["codex", "exec", "resume"]
    assert resumed[-3:] == ["--", "th-1", "more"]
    env = backend.env({"CLAUDECODE": "1", "PATH": "/bin"}, spec)
    assert "CLAUDECODE" not in env
    assert env["PWD"] == "/w"
    assert env["PLAIT_CODEX_API_KEY"]
