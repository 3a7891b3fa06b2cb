"""Reading an interrupted turn's attempts back from its transcript rows."""

from __future__ import annotations

import json

from plait.core.model import Usage
from plait.engine.interrupted import Interrupted, left_behind, prompt_row, read_attempts
from plait.store.sqlite import TranscriptEntry
from plait.workspaces.base import WorkState


def rows(*entries: tuple[float, str, object]) -> list[TranscriptEntry]:
    return [
        TranscriptEntry(
            n, "1", "1/3/agent", at, kind, body if isinstance(body, str) else json.dumps(body)
        )
        for n, (at, kind, body) in enumerate(entries, start=1)
    ]


def usage(tokens: int) -> dict[str, int]:
    return {"input_tokens": tokens, "output_tokens": 1}


def test_a_turn_never_tried_has_no_attempts() -> None:
    assert read_attempts([]) == Interrupted()


def test_attempts_add_up_and_the_last_session_wins() -> None:
    got = read_attempts(
        rows(
            (10.0, "Garbage", "not even json"),  # before any prompt: not an attempt's
            (100.0, "Prompt", prompt_row("do it", head_sha="abc", session_id="")),
            (101.0, "SessionStarted", {"session_id": "s-1", "model": "m"}),
            (102.0, "UsageReport", {"usage": usage(10), "cumulative": False}),
            (103.0, "UsageReport", {"usage": usage(5), "cumulative": False}),
            (104.0, "UsageReport", {"usage": usage(99), "cumulative": True}),
            (200.0, "Prompt", prompt_row("go on", head_sha="def", session_id="s-1")),
            (201.0, "SessionStarted", {"session_id": "s-2"}),
            (202.0, "UsageReport", {"usage": usage(7), "cumulative": False}),
            (206.0, "FinalResult", {"ok": True, "session_id": "s-2", "usage": usage(8)}),
        )
    )
    assert got.attempts == 2
    assert got.session_id == "s-2"
    assert got.head_sha == "abc"  # where the first attempt began
    assert got.seconds == 4.0 + 6.0
    # Summed reports of the first; the second's final total replaces its own reports.
    assert got.usage == Usage(input_tokens=23, output_tokens=3)


def test_an_attempt_that_said_nothing_has_no_session() -> None:
    got = read_attempts(rows((5.0, "Prompt", {"text": "old row without head"})))
    assert (got.attempts, got.session_id, got.head_sha, got.seconds) == (1, "", "", 0.0)


def test_what_was_left_is_listed() -> None:
    assert left_behind(WorkState(head_sha="x")) == ""
    text = left_behind(WorkState(head_sha="x", commits=("abc1234 Add a",), dirty=("b.py",)))
    assert text == "It had committed:\n- abc1234 Add a\nIt left uncommitted changes in:\n- `b.py`"
