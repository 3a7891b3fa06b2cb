"""Classify an agent CLI's error text into one of `FAILURE_CLASSES`, with any reset time.

Agent CLIs report provider trouble as prose ("API Error: 429 …", "Claude AI usage limit
reached|1767312000", "Prompt is too long"). The scheduler reacts per class (cool a backend
down, start a fresh session, ask a human), so every backend funnels its error text through
`classify_failure`. Only error messages are classified, never tool output or agent prose:
a test log saying "permission denied" must not look like a provider failure.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

# First match wins: the more specific classes come before the broader ones ("usage limit"
# messages often also say "rate limit"; an overflow is reported as an invalid request).
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "session",
        re.compile(
            r"no conversation found|session (?:\S+ )?not found|could not resume|unknown session|"
            r"no session found|no previous sessions? found|error resuming session"
        ),
    ),
    (
        "context_overflow",
        re.compile(
            r"prompt is too long|context[ _](?:length|window)|maximum context|"
            r"context_length_exceeded|too many tokens|input is too long"
        ),
    ),
    (
        "usage_limit",
        re.compile(
            r"usage limit|usage_limit|hit your limit|(?:hour|daily|weekly|monthly) limit reached|"
            r"limit reached\|\d|quota|insufficient_quota"
        ),
    ),
    ("rate_limit", re.compile(r"rate[ _-]?limit|\b429\b|too many requests")),
    ("overloaded", re.compile(r"overloaded|\b529\b|server is busy|capacity")),
    (
        "auth",
        re.compile(
            r"authenticat|not logged in|/login\b|invalid api key|invalid x-api-key|"
            r"api key|unauthori[sz]ed|\b401\b"
        ),
    ),
    ("permission", re.compile(r"permission_error|permission denied|\b403\b|forbidden")),
    ("max_turns", re.compile(r"max(?:imum)?[ _-]turns|maximum number of turns")),
)

_EPOCH = re.compile(r"\|(\d{9,11})(?!\d)")
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?",
)
_RELATIVE = re.compile(
    r"(?:try again|retry|resets?|available)\s*(?:in|after|:)\s*(\d+(?:\.\d+)?)\s*"
    r"(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b",
)
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_TIMED_CLASSES = frozenset({"rate_limit", "usage_limit", "overloaded"})


def classify_failure(
    text: str, *, clock: Callable[[], float] | None = None
) -> tuple[str, float | None]:
    """(failure class or "" when unrecognized, reset time in epoch seconds or None).

    `clock` resolves relative reset times ("try again in 5 minutes"); without it only
    absolute ones (an epoch after `|`, an ISO timestamp) are returned.
    """
    lowered = text.lower()
    for failure, pattern in _RULES:
        if pattern.search(lowered):
            reset = reset_time(text, clock=clock) if failure in _TIMED_CLASSES else None
            return failure, reset
    return "", None


def reset_time(text: str, *, clock: Callable[[], float] | None = None) -> float | None:
    """When a limit named in `text` resets, if the text says so."""
    if m := _EPOCH.search(text):
        return float(m.group(1))
    if m := _ISO.search(text):
        try:
            when = datetime.fromisoformat(m.group(0).replace(" ", "T"))
        except ValueError:
            when = None
        if when is not None:
            return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    if clock is not None and (m := _RELATIVE.search(text.lower())):
        unit = _UNIT_SECONDS[m.group(2)[0]]
        return clock() + float(m.group(1)) * unit
    return None
