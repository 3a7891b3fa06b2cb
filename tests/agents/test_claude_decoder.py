"""ClaudeStreamDecoder on captured Claude Code streams, garbage, huge lines, any chunking."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from plait.agents import (
    AgentErrorEvent,
    AgentEvent,
    ClaudeStreamDecoder,
    FinalResult,
    Garbage,
    LineSplitter,
    SessionStarted,
    TextOut,
    ToolCall,
    ToolResult,
    UsageReport,
)
from plait.core.model import Usage

DATA = Path(__file__).parent / "data"
FAKE = (DATA / "claude_fake.jsonl").read_bytes()
RESUME = (DATA / "claude_resume.jsonl").read_bytes()
NOAUTH = (DATA / "claude_noauth.txt").read_bytes()


T = TypeVar("T")


def decode(data: bytes) -> list[AgentEvent]:
    decoder = ClaudeStreamDecoder(clock=lambda: 1000.0)
    return [*decoder.feed(data), *decoder.close()]


def of_type(events: list[AgentEvent], kind: type[T]) -> list[T]:
    return [e for e in events if isinstance(e, kind)]


def result_line(**fields: object) -> bytes:
    base: dict[str, object] = {"type": "result", "subtype": "success", "is_error": True}
    return (json.dumps({**base, **fields}) + "\n").encode()


def test_successful_turn_maps_to_typed_events() -> None:
    events = decode(FAKE)
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "SessionStarted",
        "ToolCall",
        "UsageReport",
        "ToolResult",
        "TextOut",
        "UsageReport",
        "FinalResult",
    ]
    session = of_type(events, SessionStarted)[0]
    assert session.session_id == "3df29aac-390f-4187-b423-5343f5258f21"
    assert session.model == "claude-sonnet-5"
    call = of_type(events, ToolCall)[0]
    assert call.name == "Bash"
    assert call.input.startswith("echo hello > hello.txt")
    result = of_type(events, ToolResult)[0]
    assert (result.call_id, result.output, result.is_error) == (call.call_id, "committed", False)
    assert of_type(events, TextOut)[0].text == "Done: created hello.txt and committed."
    final = of_type(events, FinalResult)[0]
    assert final.ok
    assert final.session_id == session.session_id
    assert final.num_turns == 2
    assert final.usage == Usage(input_tokens=200, output_tokens=40, cost_usd=0.0012000000000000001)
    assert final.failure == ""
    assert all(e.raw for e in events)  # every event keeps its line for the transcript


def test_resumed_turn_reports_failed_tool_call_but_succeeds() -> None:
    events = decode(RESUME)
    result = of_type(events, ToolResult)[0]
    assert result.is_error
    assert "nothing to commit" in result.output
    assert of_type(events, FinalResult)[0].ok


def test_auth_failure_is_classified_and_trailing_garbage_kept() -> None:
    events = decode(NOAUTH)
    error = of_type(events, AgentErrorEvent)[0]
    assert error.failure == "auth"
    assert "Not logged in" in error.message
    final = of_type(events, FinalResult)[0]
    assert not final.ok
    assert final.failure == "auth"
    assert final.error == "Not logged in · Please run /login"
    # The capture ends with `time` output: garbage, not an exception.
    assert [g.text.split("\t")[0] for g in of_type(events, Garbage)] == ["real", "user", "sys"]


def test_usage_of_a_message_streamed_in_blocks_is_counted_once() -> None:
    usage = {"input_tokens": 10, "output_tokens": 5}
    lines = [
        {
            "type": "assistant",
            "message": {"id": "m1", "content": [{"type": "text", "text": "a"}], "usage": usage},
        },
        {
            "type": "assistant",
            "message": {
                "id": "m1",
                "content": [
                    {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "x.py"}}
                ],
                "usage": usage,
            },
        },
        {"type": "assistant", "message": {"id": "m2", "content": [], "usage": usage}},
    ]
    events = decode(b"".join(json.dumps(x).encode() + b"\n" for x in lines))
    reports = of_type(events, UsageReport)
    assert [r.usage.input_tokens for r in reports] == [10, 10]
    assert of_type(events, ToolCall)[0].input == "x.py"


def test_garbage_and_wrong_shapes_never_raise() -> None:
    junk = [
        b"not json at all",
        b"{broken json",
        b"[1, 2, 3]",
        b'"a string"',
        b"\xff\xfe\x00 binary",
        b'{"type": "assistant", "message": "not an object"}',
        b'{"type": "assistant", "message": {"content": "text", "usage": [1]}}',
        b'{"type": "assistant", "message": {"content": [1, null, {"type": "tool_use"}]}}',
        b'{"type": "user", "message": {"content": [{"type": "tool_result", "content": 7}]}}',
        b'{"type": "result", "usage": "x", "num_turns": "many", "is_error": "yes"}',
        b'{"type": "system", "subtype": "init", "session_id": 42}',
        b'{"type": "something_new", "data": {}}',
        b'{"no": "type"}',
        b"[" * 100_000,
        b"",
        b"   ",
    ]
    events = decode(b"\n".join(junk) + b"\n")
    garbage = of_type(events, Garbage)
    assert len(garbage) == 6  # the non-objects; blank lines and unknown types are ignored
    final = of_type(events, FinalResult)[0]
    assert not final.ok
    assert final.failure == "failed"
    assert of_type(events, ToolCall)[0].call_id == ""


def test_unterminated_last_line_is_decoded_on_close() -> None:
    decoder = ClaudeStreamDecoder()
    assert list(decoder.feed(FAKE.rstrip(b"\n"))) != []
    assert any(isinstance(e, FinalResult) for e in decoder.close())


def test_huge_line_is_dropped_once_with_bounded_memory() -> None:
    limit = 1 << 20
    decoder = ClaudeStreamDecoder(max_line=limit)
    splitter_peak = 0
    events: list[AgentEvent] = []
    chunk = b"x" * (256 * 1024)
    for _ in range(40):  # a 10 MiB line without a newline
        events += decoder.feed(chunk)
        splitter_peak = max(splitter_peak, decoder._lines.pending)
    events += decoder.feed(b"\n" + FAKE)
    events += decoder.close()
    assert splitter_peak <= limit
    garbage = of_type(events, Garbage)
    assert len(garbage) == 1
    assert "dropped" in garbage[0].text
    assert of_type(events, FinalResult)[0].ok  # what follows is decoded normally


def test_line_splitter_keeps_lines_up_to_the_limit() -> None:
    splitter = LineSplitter(max_line=4)
    out = [*splitter.feed(b"abcd\nabcde\nab\r\n"), *splitter.close()]
    assert out[0] == b"abcd"
    assert repr(out[1]) == "TOO_LONG"
    assert out[2] == b"ab\r"  # decoders strip the \r


STREAM = FAKE + b"garbage line\n" + NOAUTH + RESUME + b'{"type":"result","is_err'


def _key(events: list[AgentEvent]) -> list[tuple[str, str]]:
    return [(repr(e), e.raw) for e in events]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=30))
def test_chunking_never_changes_the_events(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(STREAM)]
    decoder = ClaudeStreamDecoder(clock=lambda: 1000.0)
    events: list[AgentEvent] = []
    for start, end in itertools.pairwise(bounds):
        events += decoder.feed(STREAM[start:end])
    events += decoder.close()
    assert _key(events) == _key(decode(STREAM))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    decoder = ClaudeStreamDecoder(max_line=64)
    for event in [*decoder.feed(data), *decoder.close()]:
        assert isinstance(event, AgentEvent)


def test_max_turns_and_error_texts_map_to_failure_classes() -> None:
    cases = {
        result_line(subtype="error_max_turns"): ("max_turns", None),
        result_line(result="API Error: 429 rate limit, try again in 30 seconds"): (
            "rate_limit",
            1030.0,
        ),
        result_line(result="API Error: 529 Overloaded"): ("overloaded", None),
        result_line(result="Claude AI usage limit reached|1767312000"): (
            "usage_limit",
            1767312000.0,
        ),
        result_line(result="5-hour limit reached, resets at 2026-01-02T00:00:00Z"): (
            "usage_limit",
            1767312000.0,
        ),
        result_line(result="Prompt is too long"): ("context_overflow", None),
        result_line(result="No conversation found with session ID: abc"): ("session", None),
        result_line(subtype="error_during_execution", errors=["boom"]): ("failed", None),
    }
    for line, (failure, reset) in cases.items():
        final = of_type(decode(line), FinalResult)[0]
        assert (final.ok, final.failure, final.reset_at) == (False, failure, reset), line
    boom = of_type(
        decode(result_line(subtype="error_during_execution", errors=["boom"])), FinalResult
    )[0]
    assert boom.error == "boom"


def _reference_lines(data: bytes, limit: int) -> list[object]:
    *complete, last = data.split(b"\n")
    out: list[object] = [line if len(line) <= limit else "TOO_LONG" for line in complete]
    if last:
        out.append(last if len(last) <= limit else "TOO_LONG")
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300).map(lambda b: b.replace(b"\x00", b"\n")),
    st.lists(st.integers(min_value=0, max_value=300), max_size=20),
    st.integers(min_value=1, max_value=40),
)
def test_line_splitter_matches_a_plain_split_under_any_chunking(
    data: bytes, cuts: list[int], limit: int
) -> None:
    splitter = LineSplitter(max_line=limit)
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    out: list[object] = []
    for start, end in itertools.pairwise(bounds):
        out += splitter.feed(data[start:end])
        assert splitter.pending <= limit
    out += splitter.close()
    assert [x if isinstance(x, bytes) else repr(x) for x in out] == _reference_lines(data, limit)
