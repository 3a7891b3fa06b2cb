"""`plait web`: it finds or starts the engine, makes it serve the dashboard on loopback
behind the token, and prints the URL once — checked over plain HTTP, no browser."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.api.helpers_live import Live, until
from tests.cli.helpers_cli import cli_env, plait
from tests.web.helpers_web import web_url


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    live = Live.make(tmp_path, {"default": {}})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "site")
    yield live
    live.plait("down", "site")


def _engine_info(live: Live) -> dict[str, object]:
    info: dict[str, object] = json.loads((live.home() / "site" / "engine.json").read_text())
    return info


def _split(url: str) -> tuple[str, str]:
    """(the origin, the token) of a URL `plait web` printed."""
    parts = urlsplit(url)
    assert parts.path == "/"
    assert parts.query.startswith("token=")
    return f"{parts.scheme}://{parts.netloc}", parts.query.removeprefix("token=")


def test_starts_the_engine_and_serves_the_page_behind_the_token(live: Live) -> None:
    reply = web_url(live, "site")
    assert reply["started"] is True
    origin, token = _split(reply["url"])
    assert token == (live.home() / "site" / "api.token").read_text().strip()
    assert _engine_info(live)["http"] == origin
    assert _engine_info(live)["mode"] == "background"

    with httpx.Client(base_url=origin, follow_redirects=True) as http:
        assert http.get("/").status_code == 401
        assert "plait web" in http.get("/").text  # a person is told what to open
        assert http.get("/static/app.js").status_code == 401
        first = http.get(f"/?token={token}")  # follows the redirect, with the cookie
        assert first.status_code == 200
        assert str(first.url) == f"{origin}/"  # the token left the address at once
        assert '<script type="module" src="/static/app.js">' in first.text
        assert "script-src 'self'" in first.headers["content-security-policy"]
        script = http.get("/static/app.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert http.get("/static/style.css").headers["content-type"].startswith("text/css")
        assert http.get("/static/nothing.js").status_code == 404
        assert http.get("/static/..%2F__init__.py").status_code == 404

    again = web_url(live, "site")  # a second call finds the same listener
    assert (again["url"], again["started"]) == (reply["url"], False)


def test_a_running_engine_without_http_is_asked_to_open_it(live: Live) -> None:
    live.ok("up", "site")
    assert _engine_info(live)["http"] is None
    out = live.ok("web", "site")
    lines = out.strip().splitlines()
    assert len(lines) == 1, out  # the URL, once; the engine was not started by it
    url = lines[0].removeprefix("dashboard of site: ")
    origin, token = _split(url)
    assert _engine_info(live)["http"] == origin
    with httpx.Client(base_url=origin) as http:
        assert (
            http.get("/api/project", headers={"Authorization": f"Bearer {token}"}).json()["project"]
            == "site"
        )
        # Opening listeners is the owner's own call, on the Unix socket only.
        opened = http.post(
            "/api/http", json={"port": 0}, headers={"Authorization": f"Bearer {token}"}
        )
        assert opened.status_code == 404


def test_port_in_use_is_one_clear_line(live: Live) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = live.plait("web", "site", "--port", str(port))  # no engine yet: it starts one
        assert out.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port}" in out.stderr
        assert "Traceback" not in out.stderr
        live.ok("up", "site")
        out = live.plait("web", "site", "--port", str(port))  # a running engine is asked
        assert out.returncode == 2
        assert out.stderr.startswith(f"plait: cannot listen on 127.0.0.1:{port}")
        assert "Traceback" not in out.stderr
    # Asked for another port while one is open: the open one is kept, and that is said.
    first = web_url(live, "site")
    other = live.plait("web", "site", "--port", str(port))
    assert other.returncode == 0
    assert first["url"] in other.stdout
    assert f"not port {port}" in other.stderr


def test_no_such_project(live: Live) -> None:
    out = live.plait("web", "nope")
    assert out.returncode == 5
    assert out.stderr.startswith("plait: ")
    assert "Traceback" not in out.stderr


def test_the_token_visit_redirects_only_to_this_origin(live: Live) -> None:
    origin, token = _split(web_url(live, "site")["url"])
    with httpx.Client() as http:
        odd = http.get(f"{origin}//elsewhere.example/x?token={token}&q=a%26b")
        assert odd.status_code == 303
        # Never "//elsewhere.example…" (another site); the other parameters kept intact.
        assert odd.headers["location"] == "/elsewhere.example/x?q=a%26b"


def test_open_hands_the_url_to_the_browser(live: Live, tmp_path: Path) -> None:
    seen = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {seen}\n')
    browser.chmod(0o755)
    # Python's webbrowser runs $BROWSER with the URL.
    out = plait("web", "site", "--open", home=live.tmp, env=cli_env(live.tmp, BROWSER=str(browser)))
    assert out.returncode == 0, out.stderr
    url = out.stdout.splitlines()[0].removeprefix("dashboard of site: ")
    until(seen.exists, timeout=60, what="the browser to be started")
    assert seen.read_text() == url
