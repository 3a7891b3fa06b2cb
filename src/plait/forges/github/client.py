"""HTTP to GitHub: auth, conditional requests, retries and the rate budget.

How this works: every request goes through `_send`, which retries what GitHub documents as
retryable — 5xx and network errors (backoff), secondary rate limits (`Retry-After`, or a
minute without one), primary rate limits (`x-ratelimit-remaining: 0`: wait for
`x-ratelimit-reset`) and GraphQL `RATE_LIMITED` errors. A write whose outcome is unknown
(5xx or a timeout after the request went out) is NOT retried here unless the caller says it
is idempotent: the caller re-checks the forge first (markers, "already exists") instead.
`rest(..., conditional=True)` sends the last ETag; a 304 answers from the cache and costs no
rate-limit point. The token lives only in the httpx client's default headers: error
messages carry the method, path, status and GitHub's message, never headers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from plait.errors import ForgeError
from plait.forges.github.budget import Clock, RateBudget
from plait.forges.github.token import Token

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Json = Any  # GitHub's JSON: dicts, lists and scalars, checked where read

SECONDARY_DEFAULT_WAIT = 60.0  # GitHub: without Retry-After, wait at least a minute
MAX_WAIT = 3700.0  # never sleep longer than one primary-limit window


class GitHubError(ForgeError):
    """GitHub refused a request. `status` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, *, status: int, hint: str = "", data: Json = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.data = data


class TransientError(GitHubError):
    """The request may or may not have taken effect; retry the whole step later."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    data: Json
    headers: Mapping[str, str] = field(default_factory=dict)
    not_modified: bool = False


def graphql_url_for(api_url: str) -> str:
    """GitHub.com: `<api>/graphql`; Enterprise (`https://host/api/v3`): `https://host/api/graphql`."""
    api = api_url.rstrip("/")
    if api.endswith("/api/v3"):
        return api.removesuffix("/v3") + "/graphql"
    return api + "/graphql"


def _message(data: Json, text: str) -> str:
    if isinstance(data, dict):
        msg = str(data.get("message", "")) or text
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            details = [e.get("message") or e.get("code") for e in errors if isinstance(e, dict)]
            msg = f"{msg}: {'; '.join(str(d) for d in details if d)}"
        return msg[:500]
    return text[:500]


class GitHubClient:
    def __init__(
        self,
        token: Token,
        *,
        api_url: str = "https://api.github.com",
        graphql_url: str | None = None,
        reserve: float = 0.2,
        max_attempts: int = 6,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.time,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.graphql_endpoint = graphql_url or graphql_url_for(self.api_url)
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.clock = clock
        self.budget = RateBudget(reserve=reserve, clock=clock)
        self._etags: dict[str, tuple[str, Json]] = {}
        self._http = httpx.AsyncClient(
            headers={
                "Authorization": f"Bearer {token.reveal()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "plait",
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=True,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    # ---- public calls ------------------------------------------------------------------------
    async def rest(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Json = None,
        conditional: bool = False,
        idempotent: bool | None = None,
        ok: tuple[int, ...] = (),
    ) -> Reply:
        """Call a REST endpoint. Statuses in `ok` come back as a Reply instead of raising."""
        url = path if path.startswith("http") else f"{self.api_url}{path}"
        key = f"{url}?{sorted((params or {}).items())}"
        headers: dict[str, str] = {}
        cached = self._etags.get(key) if conditional else None
        if cached is not None:
            headers["If-None-Match"] = cached[0]
        safe = method in ("GET", "HEAD") if idempotent is None else idempotent
        response = await self._send(
            lambda: self._http.request(
                method, url, params=dict(params or {}), json=body, headers=headers
            ),
            what=f"{method} {path}",
            idempotent=safe,
        )
        if response.status_code == 304 and cached is not None:
            self.budget.spend.rest_not_modified += 1
            return Reply(304, cached[1], response.headers, not_modified=True)
        self.budget.spend.rest_requests += 1
        data = _decode(response)
        if response.status_code >= 400:
            if response.status_code in ok:
                return Reply(response.status_code, data, response.headers)
            raise GitHubError(
                f"GitHub refused {method} {path}: {response.status_code} "
                f"{_message(data, response.text)}",
                status=response.status_code,
                hint=_hint(response.status_code),
                data=data,
            )
        etag = response.headers.get("etag")
        if conditional and etag:
            self._etags[key] = (etag, data)
        return Reply(response.status_code, data, response.headers)

    async def graphql(
        self, query: str, variables: Mapping[str, Json] | None = None, *, mutation: bool = False
    ) -> dict[str, Json]:
        """Run a GraphQL document; returns `data`. Records `rateLimit` when the query asks."""
        payload = {"query": query, "variables": dict(variables or {})}
        for attempt in range(1, self.max_attempts + 1):
            response = await self._send(
                lambda: self._http.post(self.graphql_endpoint, json=payload),
                what="GraphQL",
                idempotent=not mutation,
            )
            self.budget.spend.graphql_requests += 1
            data = _decode(response)
            if response.status_code >= 400 or not isinstance(data, dict):
                raise GitHubError(
                    f"GitHub refused a GraphQL request: {response.status_code} "
                    f"{_message(data, response.text)}",
                    status=response.status_code,
                    hint=_hint(response.status_code),
                    data=data,
                )
            result = data.get("data")
            if isinstance(result, dict) and isinstance(result.get("rateLimit"), dict):
                self.budget.observe_graphql(result["rateLimit"])
            errors = data.get("errors") or []
            if any(isinstance(e, dict) and e.get("type") == "RATE_LIMITED" for e in errors):
                if attempt == self.max_attempts:
                    break
                await self._wait(self.budget.reset_in("graphql") + 1, "GraphQL rate limit")
                continue
            # A PR number that does not exist nulls its alias; the rest of the batch stands.
            if isinstance(result, dict) and all(
                isinstance(e, dict) and e.get("type") == "NOT_FOUND" for e in errors
            ):
                return result
            if errors:
                raise GitHubError(
                    f"GraphQL errors: {_message({'errors': errors}, '')}",
                    status=response.status_code,
                    hint="a GitHub API change or missing permission; see the message",
                    data=data,
                )
            return result if isinstance(result, dict) else {}
        raise TransientError("GraphQL rate limit persisted", status=403, hint=_hint(403))

    async def text(self, path: str) -> str:
        """GET a plain-text resource (job logs); follows GitHub's redirect to storage."""
        url = path if path.startswith("http") else f"{self.api_url}{path}"
        response = await self._send(
            lambda: self._http.get(url), what=f"GET {path}", idempotent=True
        )
        self.budget.spend.rest_requests += 1
        if response.status_code >= 400:
            raise GitHubError(
                f"GitHub refused GET {path}: {response.status_code}",
                status=response.status_code,
                hint=_hint(response.status_code),
            )
        return response.text

    # ---- retries -----------------------------------------------------------------------------
    async def _send(
        self,
        request: Callable[[], Awaitable[httpx.Response]],
        *,
        what: str,
        idempotent: bool,
    ) -> httpx.Response:
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            try:
                response = await request()
            except httpx.TransportError as exc:
                # A connect failure never reached GitHub; anything later might have.
                sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if last or (sent and not idempotent):
                    raise TransientError(
                        f"{what}: no answer from GitHub ({type(exc).__name__})",
                        status=0,
                        hint="check the network; plait retries the step",
                    ) from None
                await self._wait(_backoff(attempt), f"{what}: {type(exc).__name__}")
                continue
            self.budget.observe_headers(response.headers)
            wait = self._limit_wait(response)
            if wait is not None:
                if last:
                    raise TransientError(
                        f"{what}: rate limited by GitHub",
                        status=response.status_code,
                        hint=_hint(403),
                    )
                await self._wait(wait, f"{what}: rate limited ({response.status_code})")
                continue
            if response.status_code >= 500:
                if last or not idempotent:
                    raise TransientError(
                        f"{what}: GitHub answered {response.status_code}",
                        status=response.status_code,
                        hint="GitHub is having trouble; plait retries the step",
                    )
                await self._wait(_backoff(attempt), f"{what}: {response.status_code}")
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait if this response is a rate limit, else None."""
        if response.status_code not in (403, 429):
            return None
        retry_after = response.headers.get("retry-after")
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                return SECONDARY_DEFAULT_WAIT
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset", "")
            try:
                return max(0.0, float(reset) - self.clock()) + 1.0
            except ValueError:
                return SECONDARY_DEFAULT_WAIT
        if response.status_code == 429 or "secondary rate limit" in response.text.lower():
            return SECONDARY_DEFAULT_WAIT
        return None

    async def _wait(self, seconds: float, why: str) -> None:
        seconds = min(seconds, MAX_WAIT)
        log.info("github: waiting %.1fs (%s)", seconds, why)
        await self.sleep(seconds)


def _backoff(attempt: int) -> float:
    return float(min(30.0, 2 ** (attempt - 1)) * (0.5 + random.random() / 2))


def _decode(response: httpx.Response) -> Json:
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _hint(status: int) -> str:
    if status == 401:
        return "the GitHub token is invalid or expired: set a new one (GITHUB_TOKEN or --token)"
    if status in (403, 429):
        return "GitHub rate limit or missing permission; plait backs off and retries"
    if status == 404:
        return "check the repository name and that the token can see it"
    return "see GitHub's message above"
