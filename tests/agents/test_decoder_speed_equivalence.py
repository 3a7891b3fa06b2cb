"""The fast stream decoders decode exactly what the straightforward ones did.

How this works: `data/equivalence/expected_events.json` was generated from the decoders as
they were before they were tuned for speed (P6 in bench/README.md), by running this module as a
script. It holds, per case (a decoder fed one input stream), a digest of every event's
`repr` and `raw`, and the full event list for each backend's own captured streams. The
inputs are built here from the captured streams: as is, mixed with garbage lines, with
every JSON field replaced by values of the wrong shape, with a small line limit, and fed
in random chunks (chunking must never change the events). Regenerate only on purpose:
`python -m tests.agents.test_decoder_speed_equivalence` (from the repository root).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plait.agents import (
    AgentErrorEvent,
    AgentEvent,
    FinalResult,
    SessionStarted,
    StreamDecoder,
    TextOut,
    ToolCall,
    ToolResult,
    UsageReport,
)
from plait.agents.claude import ClaudeStreamDecoder
from plait.agents.codex import CodexStreamDecoder
from plait.agents.gemini import GeminiStreamDecoder
from plait.agents.opencode import OpenCodeStreamDecoder
from plait.agents.pi import PiStreamDecoder
from plait.agents.stream import DEFAULT_MAX_LINE
from plait.core.model import Usage

DATA = Path(__file__).parent / "data"
EQUIV = DATA / "equivalence"
FIXTURE = EQUIV / "expected_events.json"

DecoderFactory = Callable[[int], StreamDecoder]
DECODERS: dict[str, DecoderFactory] = {
    "claude": lambda n: ClaudeStreamDecoder(max_line=n, clock=lambda: 1000.0),
    "codex": lambda n: CodexStreamDecoder(max_line=n, clock=lambda: 1000.0),
    "opencode": lambda n: OpenCodeStreamDecoder(max_line=n, clock=lambda: 1000.0),
    "pi": lambda n: PiStreamDecoder(max_line=n, clock=lambda: 1000.0),
    "gemini": lambda n: GeminiStreamDecoder(max_line=n, clock=lambda: 1000.0),
}
OWN = {
    "claude": ("claude_fake.jsonl", "claude_noauth.txt", "claude_resume.jsonl"),
    "codex": ("codex_fake.jsonl", "codex_noauth.txt"),
    "opencode": ("opencode_fake.jsonl", "opencode_noauth2.txt"),
    "pi": ("pi_fake.jsonl", "pi_noauth3.txt"),
    "gemini": ("gemini_shapes.jsonl",),
}
SHARED = ("extra_shapes.jsonl",)

# Lines a misbehaving CLI (or a wrapper around it) might print between events.
GARBAGE = (
    b"",
    b"   ",
    b"not json at all",
    b"[1, 2, 3]",
    b'"a string"',
    b"null",
    b"{bad json",
    b"{}",
    b'{"type": null}',
    b'{"type": 7, "message": []}',
    b'  {"type":"turn.started"}  \r',
    b'{"type":"x"}\x0c',
    b'{"a":1}, {"b":2}',
    b'{"type":"text","part":{"text":"caf\xc3\xa9 \xff\xfe"}}',
    b'{"type":"text","part":{"text":"\xed\xa0\x80"}}',
    b'{\x00"\x00}\x00',
    b'\xef\xbb\xbf{"type":"agent_start"}',
    b'{"type":"error","message":NaN}',
    b'{"type":"result","type":"user"}',
    b'\t{"type": "agent_end"}\t',
    b"\xc2\xa0{}\xc2\xa0",
)
DEEP = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
MUTANTS: tuple[object, ...] = (None, 0, -1, 2.5, True, "", "x", [], {}, ["x"], {"type": "text"})


def read(name: str) -> bytes:
    for base in (DATA, EQUIV):
        if (base / name).is_file():
            return (base / name).read_bytes()
    raise FileNotFoundError(name)


def garbage_mixed(data: bytes) -> bytes:
    """`data` with a garbage line before every line, one absurdly nested object, CRLFs."""
    out = [DEEP]
    for i, line in enumerate(data.split(b"\n")):
        out.append(GARBAGE[i % len(GARBAGE)])
        out.append(line + b"\r" if i % 3 == 1 else line)
    return b"\n".join(out)


def _paths(value: object, prefix: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield (*prefix, index)
            yield from _paths(inner, (*prefix, index))


def _replaced(value: object, path: tuple[object, ...], new: object) -> object:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: _replaced(v, rest, new) if k == head else v for k, v in value.items()}
    assert isinstance(value, list)
    return [_replaced(v, rest, new) if i == head else v for i, v in enumerate(value)]


def mutations(data: bytes) -> bytes:
    """Every JSON line of `data`, then a copy for each field replaced by each wrong shape."""
    out: list[bytes] = []
    for line in data.split(b"\n"):
        out.append(line)
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        for path in _paths(obj):
            for new in MUTANTS:
                out.append(json.dumps(_replaced(obj, path, new)).encode())
    return b"\n".join(out)


@cache
def cases() -> dict[str, tuple[str, bytes, int]]:
    """name → (decoder, input stream, max_line)."""
    found: dict[str, tuple[str, bytes, int]] = {}
    every = [n for names in OWN.values() for n in names] + list(SHARED)
    for dec, own in OWN.items():
        for name in every:
            data = read(name)
            found[f"{dec}/{name}"] = (dec, data, DEFAULT_MAX_LINE)
            found[f"{dec}/{name}/garbage"] = (dec, garbage_mixed(data), DEFAULT_MAX_LINE)
            found[f"{dec}/{name}/short-lines"] = (dec, garbage_mixed(data), 160)
            found[f"{dec}/{name}/unterminated"] = (dec, data.rstrip(b"\n"), DEFAULT_MAX_LINE)
        for name in (*own, *SHARED):
            found[f"{dec}/{name}/mutations"] = (dec, mutations(read(name)), DEFAULT_MAX_LINE)
    return found


def decode(dec: str, data: bytes, max_line: int, cuts: list[int] | None = None) -> list[AgentEvent]:
    decoder = DECODERS[dec](max_line)
    bounds = [0, *sorted(cuts or []), len(data)]
    events: list[AgentEvent] = []
    for start, end in itertools.pairwise(bounds):
        events += decoder.feed(data[start:end])
    events += decoder.close()
    return events


def _short(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def listing(events: list[AgentEvent]) -> list[list[str]]:
    """Each event as [its repr, a digest of its raw line] (raw is neither in repr nor ==)."""
    return [[repr(e), _short(e.raw)] for e in events]


def digest(events: list[AgentEvent]) -> str:
    return _short(json.dumps(listing(events)))


def expected() -> dict[str, dict[str, object]]:
    loaded: dict[str, dict[str, object]] = json.loads(FIXTURE.read_text())
    return loaded


def test_every_case_decodes_to_the_recorded_events() -> None:
    want = expected()
    built = cases()
    assert set(built) == set(want), "the cases changed: regenerate the fixture on purpose"
    for name, (dec, data, max_line) in built.items():
        events = decode(dec, data, max_line)
        if "events" in want[name]:
            assert listing(events) == want[name]["events"], name
        assert (len(events), digest(events)) == (want[name]["count"], want[name]["digest"]), name


def test_random_chunkings_decode_to_the_recorded_events() -> None:
    want = expected()
    rng = random.Random(6)
    for name, (dec, data, max_line) in cases().items():
        if name.endswith("/mutations"):
            continue  # large; chunking is covered by the other variants of the same lines
        cuts: list[int] = []
        while (cuts[-1] if cuts else 0) < len(data):
            cuts.append((cuts[-1] if cuts else 0) + rng.choice((1, 2, 7, 64, 300, 4096)))
        events = decode(dec, data, max_line, [c for c in cuts if c < len(data)])
        assert digest(events) == want[name]["digest"], name


_GARBAGE_CASES = sorted(n for n in cases() if n.endswith(("/garbage", "/short-lines")))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_GARBAGE_CASES), st.lists(st.integers(min_value=0), max_size=25))
def test_any_chunking_decodes_to_the_recorded_events(name: str, raw_cuts: list[int]) -> None:
    dec, data, max_line = cases()[name]
    cuts = [c % (len(data) + 1) for c in raw_cuts]
    assert digest(decode(dec, data, max_line, cuts)) == expected()[name]["digest"], name


def regenerate() -> None:
    """Record what the current decoders produce (run on the reference decoders only)."""
    table: dict[str, dict[str, object]] = {}
    for name, (dec, data, max_line) in sorted(cases().items()):
        events = decode(dec, data, max_line)
        entry: dict[str, object] = {"count": len(events), "digest": digest(events)}
        own_plain = name.split("/")[1] in OWN[dec] and name.count("/") == 1
        if own_plain:
            entry["events"] = listing(events)
        table[name] = entry
    FIXTURE.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(table)} cases to {FIXTURE}", file=sys.stderr)


if __name__ == "__main__":
    regenerate()


def test_non_finite_numbers_in_any_field_never_raise() -> None:
    """json reads NaN, Infinity and 1e400 (as floats); a count field holding one used to
    raise OverflowError out of the decoder."""
    odd = (float("nan"), float("inf"), float("-inf"))
    for dec, own in OWN.items():
        for name in (*own, *SHARED):
            out: list[bytes] = []
            for line in read(name).split(b"\n"):
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                for path in _paths(obj):
                    out += [json.dumps(_replaced(obj, path, new)).encode() for new in odd]
            data = b"\n".join(out).replace(b"Infinity", b"1e400")
            events = decode(dec, data, DEFAULT_MAX_LINE)
            assert all(isinstance(e, AgentEvent) for e in events)


def test_events_leave_raw_out_of_equality_hash_and_repr() -> None:
    """The recorded listings hold repr and a digest of raw apart; transcripts and tests
    compare events by what they mean, not by the line they came from."""
    usage = Usage(input_tokens=3, cost_usd=0.5)
    pairs: list[tuple[AgentEvent, AgentEvent]] = [
        (SessionStarted(session_id="s", raw="r"), SessionStarted(session_id="s")),
        (TextOut(text="t", raw="r"), TextOut(text="t")),
        (
            ToolCall(call_id="c", name="n", input="i", raw="r"),
            ToolCall(call_id="c", name="n", input="i"),
        ),
        (
            ToolResult(call_id="c", output="o", is_error=True, raw="r"),
            ToolResult(call_id="c", output="o", is_error=True),
        ),
        (
            UsageReport(usage=usage, cumulative=True, raw="r"),
            UsageReport(usage=usage, cumulative=True),
        ),
        (
            FinalResult(ok=False, usage=usage, reset_at=1.0, raw="r"),
            FinalResult(ok=False, usage=usage, reset_at=1.0),
        ),
        (AgentErrorEvent(message="m", raw="x"), AgentErrorEvent(message="m")),
    ]
    for with_raw, without in pairs:
        assert (with_raw, hash(with_raw), repr(with_raw)) == (without, hash(without), repr(without))
        assert "raw" not in repr(with_raw)
        assert with_raw.raw
        assert not without.raw
        assert with_raw != TextOut(text="other")
        with pytest.raises(AttributeError):
            with_raw.raw = "changed"  # type: ignore[misc]
    assert repr(TextOut(text="t")) == "TextOut(text='t')"
    assert TextOut(text="t").payload() == {"text": "t"}
