"""classify_failure: error prose to failure class and reset time."""

from __future__ import annotations

import pytest

from plait.agents import classify_failure


@pytest.mark.parametrize(
    ("text", "failure"),
    [
        ("API Error: 429 Too Many Requests", "rate_limit"),
        ('{"type":"error","error":{"type":"overloaded_error"}}', "overloaded"),
        ("You've hit your limit · resets 5am", "usage_limit"),
        ("insufficient_quota: check your plan", "usage_limit"),
        ("input length exceeds the context window", "context_overflow"),
        ("Invalid API key · Please run /login", "auth"),
        ("permission_error: not allowed", "permission"),
        ("No conversation found with session ID: 1f2e", "session"),
        ("No session found matching '0192ab'", "session"),
        ("Error resuming session: No previous sessions found for this project.", "session"),
        ("Error: Reached max turns (5)", "max_turns"),
        ("something odd happened at line 429000", ""),
        ("", ""),
    ],
)
def test_classes(text: str, failure: str) -> None:
    assert classify_failure(text)[0] == failure


def test_reset_times() -> None:
    assert classify_failure("usage limit reached|1767312000") == ("usage_limit", 1767312000.0)
    assert classify_failure("rate limited; try again in 2 minutes") == ("rate_limit", None)
    relative = classify_failure("rate limited; try again in 2 minutes", clock=lambda: 100.0)
    assert relative == ("rate_limit", 220.0)
    iso = classify_failure("usage limit, resets at 2026-01-02 00:00:00+00:00")
    assert iso == ("usage_limit", 1767312000.0)
    # Only limits carry a reset time.
    assert classify_failure("Prompt is too long |1767312000") == ("context_overflow", None)
