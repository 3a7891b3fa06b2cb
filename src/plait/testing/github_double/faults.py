"""Faults the GitHub double injects: server errors, slow answers, rate limits, dropped
sockets, and answers lost (or held) after the request took effect.

    double.inject(Fault.server_error(502, route=r"^POST /repos/.*/pulls$"))
    double.inject(Fault.secondary_rate_limit(retry_after=30))      # the next request, any route
    double.inject(Fault.timeout(5.0, route="graphql", times=None))  # until cleared

`route` is a regular expression searched in `"METHOD /path"` (the path without `/api/v3`;
GraphQL requests read `POST /graphql`), or the shorthand `"graphql"`; None matches every
request. `times` is how many matching requests the fault takes (None: all of them, until
`clear_faults`). `hits` counts the requests it took.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["status", "timeout", "primary", "secondary", "drop", "lost", "late"]

SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
    "again. If you reach out to GitHub Support for help, please include the request ID."
)


@dataclass(slots=True, kw_only=True)
class Fault:
    kind: Kind
    status: int = 502
    seconds: float = 60.0  # timeout: how long to hold; rate limits: retry-after / reset in
    route: str | None = None
    times: int | None = 1
    hits: int = 0

    @classmethod
    def server_error(
        cls, status: int = 502, *, route: str | None = None, times: int | None = 1
    ) -> Fault:
        return cls(kind="status", status=status, route=route, times=times)

    @classmethod
    def timeout(cls, seconds: float, *, route: str | None = None, times: int | None = 1) -> Fault:
        """Hold the request `seconds`, then answer it normally (a client may give up first)."""
        return cls(kind="timeout", seconds=seconds, route=route, times=times)

    @classmethod
    def primary_rate_limit(
        cls, reset_in: float = 60.0, *, status: int = 403, route: str | None = None,
        times: int | None = 1,
    ) -> Fault:  # fmt: skip
        """Answer as if the bucket were empty: remaining 0, reset `reset_in` from now."""
        return cls(kind="primary", status=status, seconds=reset_in, route=route, times=times)

    @classmethod
    def secondary_rate_limit(
        cls, retry_after: float = 60.0, *, status: int = 403, route: str | None = None,
        times: int | None = 1,
    ) -> Fault:  # fmt: skip
        return cls(kind="secondary", status=status, seconds=retry_after, route=route, times=times)

    @classmethod
    def drop(cls, *, route: str | None = None, times: int | None = 1) -> Fault:
        """Close the connection without answering."""
        return cls(kind="drop", route=route, times=times)

    @classmethod
    def lost_answer(cls, *, route: str | None = None, times: int | None = 1) -> Fault:
        """Do what the request asks, then close the connection without answering: the
        client cannot tell whether it took effect (a timeout, without waiting for one)."""
        return cls(kind="lost", route=route, times=times)

    @classmethod
    def late_answer(
        cls, seconds: float, *, route: str | None = None, times: int | None = 1
    ) -> Fault:
        """Do what the request asks, then hold the answer `seconds`: a window in which a
        test kills the client after GitHub acted and before the client knew it."""
        return cls(kind="late", seconds=seconds, route=route, times=times)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.route is None:
            return True
        if self.route == "graphql":
            return path == "/graphql"
        return re.search(self.route, f"{method} {path}") is not None

    @property
    def spent(self) -> bool:
        return self.times is not None and self.hits >= self.times
