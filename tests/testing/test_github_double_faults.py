"""GitHubDouble's injected faults: 5xx, held requests, primary/secondary rate limits, drops."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from plait.testing.github_double import Fault, GitHubDouble
from plait.testing.gitrepo import run_git

R = "/repos/acme/app"


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[GitHubDouble]:
    with GitHubDouble(root=tmp_path / "gh") as double:
        double.create_repo("acme", "app")
        yield double


@pytest.fixture
def api(gh: GitHubDouble) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gh.api_url, headers={"Authorization": "Bearer t"}) as client:
        yield client


def test_server_error_once_then_normal(gh: GitHubDouble, api: httpx.Client) -> None:
    fault = Fault.server_error(502)
    gh.inject(fault)
    assert [api.get(R).status_code, api.get(R).status_code] == [502, 200]
    assert fault.hits == 1


def test_faults_are_recorded(gh: GitHubDouble, api: httpx.Client) -> None:
    gh.inject(Fault.server_error(503))
    api.get(R)
    assert [(r.status, r.fault) for r in gh.requests] == [(503, "status")]


def test_faulted_requests_cost_nothing(gh: GitHubDouble, api: httpx.Client) -> None:
    gh.inject(Fault.server_error(500))
    api.get(R)
    assert gh.world.core.used == 0


def test_route_limits_a_fault_to_matching_requests(gh: GitHubDouble, api: httpx.Client) -> None:
    gh.inject(Fault.server_error(500, route="graphql"))
    rest = api.get(R).status_code
    graphql = api.post("/graphql", json={"query": "{ rateLimit { cost } }"}).status_code
    assert (rest, graphql) == (200, 500)


def test_regex_route_matches_method_and_path(gh: GitHubDouble, api: httpx.Client) -> None:
    gh.inject(Fault.server_error(500, route=r"^POST /repos/.*/pulls$"))
    assert api.get(f"{R}/pulls").status_code == 200
    assert api.post(f"{R}/pulls", json={}).status_code == 500


def test_unlimited_fault_holds_until_cleared(gh: GitHubDouble, api: httpx.Client) -> None:
    gh.inject(Fault.server_error(502, times=None))
    statuses = [api.get(R).status_code for _ in range(3)]
    gh.clear_faults()
    assert (statuses, api.get(R).status_code) == ([502, 502, 502], 200)


def test_timeout_holds_the_request_past_the_clients_patience(
    gh: GitHubDouble, api: httpx.Client
) -> None:
    gh.inject(Fault.timeout(30.0))
    with pytest.raises(httpx.ReadTimeout):
        api.get(R, timeout=0.2)


def test_lost_answer_does_the_request_then_hangs_up(gh: GitHubDouble, api: httpx.Client) -> None:
    bare = gh.repo_path("acme", "app")
    who = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")
    sha = run_git(*who, "commit-tree", "main^{tree}", "-p", "main", "-m", "topic", cwd=bare)
    run_git("update-ref", "refs/heads/topic", sha.strip(), cwd=bare)
    number = gh.open_pr("acme", "app", head="topic").number
    gh.inject(Fault.lost_answer(route=r"^POST "))
    with pytest.raises(httpx.RemoteProtocolError):
        api.post(f"{R}/issues/{number}/comments", json={"body": "hello"})
    bodies = [c["body"] for c in api.get(f"{R}/issues/{number}/comments").json()]
    assert bodies == ["hello"]  # it took effect
    assert [(r.method, r.fault) for r in gh.requests] == [("POST", "lost"), ("GET", None)]


def test_primary_rate_limit_on_rest(gh: GitHubDouble, api: httpx.Client) -> None:
    gh.inject(Fault.primary_rate_limit(reset_in=120))
    resp = api.get(R)
    assert (resp.status_code, resp.headers["x-ratelimit-remaining"]) == (403, "0")
    assert "rate limit" in resp.json()["message"]


def test_primary_rate_limit_can_answer_429(gh: GitHubDouble, api: httpx.Client) -> None:
    gh.inject(Fault.primary_rate_limit(status=429))
    assert api.get(R).status_code == 429


def test_primary_rate_limit_on_graphql_is_a_rate_limited_error(
    gh: GitHubDouble, api: httpx.Client
) -> None:
    gh.inject(Fault.primary_rate_limit(route="graphql"))
    resp = api.post("/graphql", json={"query": "{ rateLimit { cost } }"})
    assert (resp.status_code, resp.json()["errors"][0]["type"]) == (200, "RATE_LIMITED")
    assert resp.headers["x-ratelimit-remaining"] == "0"


def test_exhausted_graphql_bucket_refuses_queries(gh: GitHubDouble, api: httpx.Client) -> None:
    gh.set_rate_limit("graphql", remaining=0)
    resp = api.post("/graphql", json={"query": "{ rateLimit { cost } }"})
    assert resp.json()["errors"][0]["type"] == "RATE_LIMITED"


def test_secondary_rate_limit_sends_retry_after(gh: GitHubDouble, api: httpx.Client) -> None:
    gh.inject(Fault.secondary_rate_limit(retry_after=42))
    resp = api.get(R)
    assert (resp.status_code, resp.headers["retry-after"]) == (403, "42")
    assert "secondary rate limit" in resp.json()["message"]


def test_dropped_connection(gh: GitHubDouble, api: httpx.Client) -> None:
    gh.inject(Fault.drop())
    with pytest.raises(httpx.TransportError):
        api.get(R)
    assert api.get(R).status_code == 200
