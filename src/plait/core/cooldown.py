"""Backend cool-downs: a rate or usage limit pauses one agent backend, not the task.

A limit answer moves the backend one step up a ladder of waits (honouring a reset time
the CLI gave, if later); the task keeps its operation and its session and tries the same
turn again when the wait is over. A successful turn on that backend clears the ladder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Waits at each step of the ladder, as multiples of the first (30 s by default: 30 s,
# 1 min, 2 min, 5 min, 10 min, 20 min, 30 min).
LADDER: tuple[float, ...] = (1.0, 2.0, 4.0, 10.0, 20.0, 40.0, 60.0)
# Usage limits rarely lift within minutes; start higher when no reset time is given
# (as a multiple of the first step: 15 min by default).
USAGE_LIMIT_FLOOR = 30.0

LIMIT_FAILURES = frozenset({"rate_limit", "overloaded", "usage_limit"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Cooldown:
    until: float
    level: int
    reason: str


def cool_down(
    cooldowns: Mapping[str, Cooldown],
    backend: str,
    *,
    failure: str,
    now: float,
    reset_at: float | None,
    base: float = 30.0,
) -> dict[str, Cooldown]:
    prev = cooldowns.get(backend)
    level = min((prev.level if prev else 0) + 1, len(LADDER))
    wait = LADDER[level - 1] * base
    if failure == "usage_limit":
        wait = max(wait, USAGE_LIMIT_FLOOR * base)
    until = now + wait
    if reset_at is not None and reset_at > now:
        # A reset time the provider gave wins over our guess (plus a little slack).
        until = reset_at + 1.0
    out = dict(cooldowns)
    out[backend] = Cooldown(until=until, level=level, reason=failure)
    return out


def recovered(cooldowns: Mapping[str, Cooldown], backend: str) -> Mapping[str, Cooldown]:
    if backend not in cooldowns:
        return cooldowns
    return {k: v for k, v in cooldowns.items() if k != backend}


def cooling(cooldowns: Mapping[str, Cooldown], backend: str, now: float) -> bool:
    c = cooldowns.get(backend)
    return c is not None and c.until > now
