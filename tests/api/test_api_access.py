"""Who may talk to a project's engine: its owner over the 0600 Unix socket, and over
loopback HTTP only with the token (a browser: the cookie it sets, plus a header no other
site can make it send for commands)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.helpers_live import Live


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[Live, dict[str, str]]]:
    live = Live.make(tmp_path, {"default": {}})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "sec")
    up = live.plait("up", "sec", "--http", "0")
    assert up.returncode == 0, up.stderr
    info = json.loads((live.home() / "sec" / "engine.json").read_text())
    yield live, info
    live.plait("down", "sec")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_socket_token_and_engine_file_are_private(engine: tuple[Live, dict[str, str]]) -> None:
    live, info = engine
    assert _mode(Path(info["socket"])) == 0o600
    assert _mode(live.home() / "sec" / "api.token") == 0o600
    assert _mode(live.home() / "sec" / "engine.json") == 0o600


# An interpreter another user may run (the test's own venv may sit in a private home).
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
@pytest.mark.skipif(
    not (os.path.exists(SYSTEM_PYTHON) and os.stat(SYSTEM_PYTHON).st_mode & stat.S_IXOTH),
    reason=f"no {SYSTEM_PYTHON} that another user may run",
)
def test_another_user_cannot_reach_the_socket(engine: tuple[Live, dict[str, str]]) -> None:
    _, info = engine
    probe = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        f"    s.connect({info['socket']!r})\n"
        "except PermissionError:\n"
        "    sys.exit(13)\n"
        "sys.exit(0)\n"
    )
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", probe],
        user=65534,  # nobody
        capture_output=True,
        check=False,
    )
    assert done.returncode == 13, done.stderr


def test_loopback_http_needs_the_token(engine: tuple[Live, dict[str, str]]) -> None:
    live, info = engine
    token = (live.home() / "sec" / "api.token").read_text().strip()
    base = info["http"]
    assert base.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=base) as http:
        assert http.get("/api/tasks").status_code == 401
        assert http.get("/api/tasks", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert http.post("/api/tasks", json={"title": "x"}).status_code == 401
        ok = http.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        assert ok.json()["tasks"] == []
        # A first visit with ?token= trades it for an httponly cookie and drops it from the URL.
        first = http.get(f"/api/project?token={token}", follow_redirects=False)
        assert first.status_code == 303
        assert first.headers["location"] == "/api/project"
        assert "httponly" in first.headers["set-cookie"].lower()
        assert "samesite=strict" in first.headers["set-cookie"].lower()
        assert http.get("/api/project").status_code == 200  # the cookie now
        # A command with only the cookie is refused unless the dashboard's header says so.
        assert http.post("/api/tasks", json={"title": "x"}).status_code == 403
        added = http.post("/api/tasks", json={"title": "x", "body": "y"}, headers={"X-Plait": "1"})
        assert added.status_code == 200, added.text
    log = (live.home() / "sec" / "engine.log").read_text()
    assert token not in log


def test_an_unknown_endpoint_is_a_json_error_with_a_hint(
    engine: tuple[Live, dict[str, str]],
) -> None:
    live, info = engine
    token = (live.home() / "sec" / "api.token").read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=info["http"], headers=auth) as http:
        # Both were Starlette's plain "Not Found" / "Method Not Allowed".
        missing = http.get("/api/nothing")
        assert missing.status_code == 404
        assert missing.json()["error"] == "no such API endpoint: GET /api/nothing"
        assert "README" in missing.json()["hint"]
        wrong = http.delete("/api/tasks")
        assert wrong.status_code == 405
        assert wrong.json()["error"] == "not a method of this endpoint: DELETE /api/tasks"
        assert http.get("/api/nothing", headers={"Authorization": "Bearer no"}).status_code == 401


def test_a_bad_number_names_its_own_parameter(engine: tuple[Live, dict[str, str]]) -> None:
    """Found in a newcomer trial: `GET /api/timeline?after=abc` hinted "e.g. ?limit=50"."""
    live, info = engine
    token = (live.home() / "sec" / "api.token").read_text().strip()
    with httpx.Client(base_url=info["http"], headers={"Authorization": f"Bearer {token}"}) as h:
        for path, name in [("/api/timeline?after=abc", "after"), ("/api/tasks?limit=x", "limit"),
                           ("/api/swarm?last=many", "last")]:  # fmt: skip
            bad = h.get(path)
            assert bad.status_code == 400, path
            assert bad.json()["hint"].startswith(f"{name} is a whole number of at least"), path


def test_every_count_and_position_refuses_a_number_below_its_least(
    engine: tuple[Live, dict[str, str]],
) -> None:
    """Found in a newcomer trial: `transcript?limit=-1` was accepted (read as 0); so was
    every negative number, and `?last=0` gave the whole swarm log."""
    live, info = engine
    token = (live.home() / "sec" / "api.token").read_text().strip()
    auth = {"Authorization": f"Bearer {token}", "X-Plait": "1"}
    with httpx.Client(base_url=info["http"], headers=auth) as h:
        assert h.post("/api/tasks", json={"title": "x", "body": "y", "id": "t"}).status_code == 200
        counts = ["/api/tasks?limit", "/api/tasks/t/transcript?limit", "/api/timeline?limit",
                  "/api/timeline?last", "/api/swarm?last"]  # fmt: skip
        positions = ["/api/tasks?offset", "/api/tasks/t/transcript?after", "/api/timeline?after"]
        for where, least in [*((c, 1) for c in counts), *((p, 0) for p in positions)]:
            name = where.rsplit("?", 1)[1]
            bad = h.get(f"{where}={least - 1}")
            assert bad.status_code == 400, (where, bad.text)
            assert bad.json()["error"] == f"{name}={least - 1} is less than {least}", where
            hint = f"{name} is a whole number of at least {least}, e.g. ?{name}=50"
            assert bad.json()["hint"] == hint, where
            assert h.get(f"{where}={least}").status_code == 200, where


# The bodies the README's API section shows, sent as written there.
README_BODIES = [
    ("missions", {"prompt": "Find why the build got slow", "name": "slow-build"}),
    ("teams", {"name": "orders-api", "members": [
        {"name": "schema", "fields": {"prompt": "Design the orders table"}},
        {"name": "api", "fields": {"prompt": "Build the orders API"}, "depends_on": ["schema"]},
    ]}),
    ("plans", {"name": "tiny", "tasks": [
        {"id": "one", "title": "Add one", "description": "Write one.txt"},
        {"id": "two", "title": "Add two", "depends_on": ["one"]},
    ]}),
    ("tasks", {"title": "Fix the typo in README", "body": "it says teh"}),
]  # fmt: skip


def test_plans_and_teams_say_what_body_they_take(engine: tuple[Live, dict[str, str]]) -> None:
    """Found in a newcomer trial: `POST plans {"path": …}` hinted "send what plan_to_wire
    gives" (a function of plait's), and the README gave no body for plans, missions, teams."""
    live, info = engine
    token = (live.home() / "sec" / "api.token").read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=info["http"], headers=auth) as h:
        plan = h.post("/api/plans", json={"path": "plan.md"})
        assert plan.status_code == 400
        assert plan.json()["error"] == "not a plan: it has no 'tasks'"
        assert '"tasks": [{"id": "one"' in plan.json()["hint"]
        assert "`plait run PLAN -p PROJECT`" in plan.json()["hint"]
        team = h.post("/api/teams", json={"path": "team.toml"})
        assert team.status_code == 400
        assert '"members": [{"name": "schema"' in team.json()["hint"]
        assert "`plait apply BLUEPRINT`" in team.json()["hint"]
        readme = (Path(__file__).parents[2] / "README.md").read_text()
        for path, body in README_BODIES:
            assert f"POST {path} {json.dumps(body)}" in " ".join(readme.split()), path
            sent = h.post(f"/api/{path}", json=body)
            assert sent.status_code == 200, (path, sent.text)
