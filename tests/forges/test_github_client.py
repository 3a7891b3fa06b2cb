"""The GitHub HTTP client against httpx.MockTransport: retries, limits, ETags, secrecy."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from plait.forges.github.budget import RateBudget
from plait.forges.github.client import GitHubClient, GitHubError, TransientError, graphql_url_for
from plait.forges.github.token import Token

SECRET = "ghp_supersecretvalue123"
NOW = 1_000_000.0

Handler = Callable[[httpx.Request], httpx.Response]


class Harness:
    def __init__(self, responses: list[httpx.Response]) -> None:
        self.responses = responses
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return self.responses.pop(0)

        self.client = GitHubClient(
            Token(SECRET),
            api_url="https://api.example.test",
            transport=httpx.MockTransport(handle),
            sleep=sleep,
            clock=lambda: NOW,
        )

    def run(self, coro: Any) -> Any:
        async def go() -> Any:
            try:
                return await coro
            finally:
                await self.client.aclose()

        return asyncio.run(go())


def limits(remaining: int, reset: float = NOW + 100, resource: str = "core") -> dict[str, str]:
    return {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(int(reset)),
        "x-ratelimit-resource": resource,
    }


def ok(data: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=data if data is not None else {}, headers=headers)


def test_server_errors_are_retried_for_reads() -> None:
    h = Harness([httpx.Response(502), httpx.Response(503), ok({"a": 1})])
    reply = h.run(h.client.rest("GET", "/repos/o/r"))
    assert (reply.data, len(h.requests)) == ({"a": 1}, 3)


def test_server_error_on_a_post_is_not_repeated() -> None:
    h = Harness([httpx.Response(502), ok()])
    with pytest.raises(TransientError):
        h.run(h.client.rest("POST", "/repos/o/r/issues/1/comments", body={"body": "x"}))
    assert len(h.requests) == 1


def test_secondary_limit_waits_retry_after() -> None:
    limited = httpx.Response(
        403, json={"message": "secondary rate limit"}, headers={"retry-after": "7"}
    )
    h = Harness([limited, ok()])
    h.run(h.client.rest("POST", "/repos/o/r/issues/1/comments", body={"body": "x"}))
    assert h.sleeps == [7.0]


def test_secondary_limit_without_retry_after_waits_a_minute() -> None:
    limited = httpx.Response(403, json={"message": "You have exceeded a secondary rate limit"})
    h = Harness([limited, ok()])
    h.run(h.client.rest("GET", "/repos/o/r"))
    assert h.sleeps == [60.0]


def test_primary_limit_waits_for_reset() -> None:
    h = Harness([httpx.Response(403, json={}, headers=limits(0, NOW + 42)), ok()])
    h.run(h.client.rest("GET", "/repos/o/r"))
    assert h.sleeps == [43.0]


def test_graphql_rate_limited_error_waits_for_the_graphql_reset() -> None:
    limited = httpx.Response(
        200,
        json={"errors": [{"type": "RATE_LIMITED", "message": "limit"}]},
        headers=limits(0, NOW + 10, "graphql"),
    )
    h = Harness([limited, ok({"data": {"viewer": {"login": "me"}}})])
    data = h.run(h.client.graphql("query { viewer { login } }"))
    assert (data, h.sleeps) == ({"viewer": {"login": "me"}}, [11.0])


def test_etag_304_answers_from_cache_and_is_free() -> None:
    h = Harness([ok([1, 2], etag='"v1"'), httpx.Response(304, headers={"etag": '"v1"'})])

    async def twice() -> tuple[Any, Any]:
        first = await h.client.rest("GET", "/repos/o/r/pulls", conditional=True)
        return first, await h.client.rest("GET", "/repos/o/r/pulls", conditional=True)

    first, second = h.run(twice())
    assert (first.not_modified, second.not_modified, second.data) == (False, True, [1, 2])
    assert h.requests[1].headers["if-none-match"] == '"v1"'
    spend = h.client.budget.spend
    assert (spend.rest_requests, spend.rest_not_modified) == (1, 1)


def test_token_is_sent_but_never_in_errors() -> None:
    h = Harness([httpx.Response(401, json={"message": "Bad credentials"})])
    with pytest.raises(GitHubError) as info:
        h.run(h.client.rest("GET", "/user"))
    assert h.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in f"{info.value} {info.value!r} {info.value.hint}"


def test_token_repr_hides_the_value() -> None:
    assert SECRET not in f"{Token(SECRET)} {Token(SECRET)!r}"


def test_graphql_errors_raise_with_the_message() -> None:
    h = Harness([ok({"errors": [{"message": "Field 'x' doesn't exist"}]})])
    with pytest.raises(GitHubError, match="doesn't exist"):
        h.run(h.client.graphql("query { x }"))


def test_graphql_not_found_alias_keeps_the_rest_of_the_batch() -> None:
    body = {"data": {"repository": {"pr0": None, "pr1": {"number": 2}}},
            "errors": [{"type": "NOT_FOUND", "path": ["repository", "pr0"]}]}  # fmt: skip
    h = Harness([ok(body)])
    data = h.run(h.client.graphql("query { x }"))
    assert data["repository"]["pr1"] == {"number": 2}


def test_rate_limit_headers_feed_the_budget() -> None:
    h = Harness([ok({}, **limits(4000))])
    h.run(h.client.rest("GET", "/repos/o/r"))
    # 4000 left, 20% of 5000 kept for the user: 3000 spendable.
    assert h.client.budget.spendable("core") == 3000


def test_poll_interval_stretches_when_the_budget_runs_low() -> None:
    h = Harness([ok({}, **limits(1010, NOW + 3000))])
    h.run(h.client.rest("GET", "/repos/o/r"))
    h.client.budget.last_cycle_points = 5
    # 10 points above the reserve, 5 per cycle: two cycles must last 3000 s.
    assert h.client.budget.suggested_poll_interval(30) == 1500


def test_poll_interval_is_the_base_with_plenty_left() -> None:
    h = Harness([ok({}, **limits(5000, NOW + 3600))])
    h.run(h.client.rest("GET", "/repos/o/r"))
    h.client.budget.last_cycle_points = 5
    assert h.client.budget.suggested_poll_interval(30) == 30


def test_enterprise_graphql_url() -> None:
    assert graphql_url_for("https://ghe.example/api/v3") == "https://ghe.example/api/graphql"


def test_github_com_graphql_url() -> None:
    assert graphql_url_for("https://api.github.com") == "https://api.github.com/graphql"


def test_the_budget_affords_above_the_reserve_and_waits_until_it_affords() -> None:
    budget = RateBudget(clock=lambda: clock[0])
    clock = [NOW]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    assert budget.affords(10**6)  # GitHub has not told yet: the first answer tells
    budget.observe_headers(limits(1003, NOW + 150))
    assert budget.affords(3)
    assert not budget.affords(4)  # 1000 of 5000 are the reserve
    asyncio.run(budget.wait_until_affords(3, sleep))
    assert slept == []
    asyncio.run(budget.wait_until_affords(5, sleep))
    assert slept == [60.0, 60.0, 30.0]  # a minute at a time, up to the reset
