"""The rate budget: what GitHub says is left, and how fast plait may keep polling.

GitHub meters REST (`core`) and GraphQL (`graphql`) separately. Every response carries
`x-ratelimit-{limit,remaining,reset,used,resource}`; GraphQL answers also carry `rateLimit`
when asked. plait keeps a reserve (20% by default) of each bucket for the user's own tools:
reads stop at the reserve, and `suggested_poll_interval` spreads what is left above it
evenly until the bucket resets, so polling slows down smoothly as the budget shrinks.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

Clock = Callable[[], float]


@dataclass(slots=True)
class Bucket:
    limit: int
    remaining: int
    reset: float  # epoch seconds


@dataclass(slots=True)
class Spend:
    """Counters of what plait spent, for `plait status` and the P5 benchmark."""

    rest_requests: int = 0  # answered 2xx/4xx: each costs one core point
    rest_not_modified: int = 0  # 304s: free
    graphql_requests: int = 0
    graphql_points: int = 0

    @property
    def points(self) -> int:
        return self.rest_requests + self.graphql_points


def _int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class RateBudget:
    def __init__(self, reserve: float = 0.2, clock: Clock = time.time) -> None:
        self.reserve = reserve
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}
        self.spend = Spend()
        self.last_cycle_points = 0

    def observe_headers(self, headers: Mapping[str, str]) -> None:
        limit = _int(headers, "x-ratelimit-limit")
        remaining = _int(headers, "x-ratelimit-remaining")
        reset = _int(headers, "x-ratelimit-reset")
        if limit is None or remaining is None or reset is None:
            return
        resource = headers.get("x-ratelimit-resource", "core")
        self.buckets[resource] = Bucket(limit=limit, remaining=remaining, reset=float(reset))

    def observe_graphql(self, rate: Mapping[str, object]) -> None:
        """Record a GraphQL `rateLimit { cost limit remaining resetAt }` object."""
        cost, limit, remaining = rate.get("cost"), rate.get("limit"), rate.get("remaining")
        reset_at = rate.get("resetAt")
        if isinstance(cost, int):
            self.spend.graphql_points += cost
        if isinstance(limit, int) and isinstance(remaining, int) and isinstance(reset_at, str):
            reset = datetime.fromisoformat(reset_at.replace("Z", "+00:00")).timestamp()
            self.buckets["graphql"] = Bucket(limit=limit, remaining=remaining, reset=reset)

    def reset_in(self, resource: str) -> float:
        bucket = self.buckets.get(resource)
        return max(0.0, bucket.reset - self.clock()) if bucket else 0.0

    def spendable(self, resource: str) -> int | None:
        """Points left above the reserve; None while GitHub has not told us yet."""
        bucket = self.buckets.get(resource)
        if bucket is None:
            return None
        if bucket.reset <= self.clock():
            return bucket.limit - int(bucket.limit * self.reserve)
        return bucket.remaining - int(bucket.limit * self.reserve)

    def affords(self, points: int, resource: str = "core") -> bool:
        """Whether `points` more requests stay above the reserve (yes while GitHub has not
        told us yet: the first answer tells)."""
        left = self.spendable(resource)
        return left is None or left >= points

    async def wait_until_affords(
        self, points: int, sleep: Callable[[float], Awaitable[None]], resource: str = "core"
    ) -> None:
        """Wait until `points` more requests stay above the reserve: sleep toward the
        bucket's reset, a minute at most at a time (a reset GitHub moves is seen)."""
        while not self.affords(points, resource):
            await sleep(min(max(self.reset_in(resource), 1.0), 60.0))

    def exhausted(self, resource: str) -> bool:
        left = self.spendable(resource)
        return left is not None and left <= 0

    def suggested_poll_interval(self, base: float = 30.0) -> float:
        """Seconds until the next poll: `base`, or longer so the budget lasts to its reset."""
        interval = base
        cost = max(1, self.last_cycle_points)
        for resource in ("graphql", "core"):
            left = self.spendable(resource)
            if left is None:
                continue
            wait = self.reset_in(resource)
            if left <= 0:
                interval = max(interval, wait)
                continue
            cycles = left / cost
            interval = max(interval, wait / cycles)
        return interval
