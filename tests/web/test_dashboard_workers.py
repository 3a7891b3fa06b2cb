"""The dashboard shows where a project's agent turns run when they run on `plait worker`s:
the workers and their slots, and, when the Temporal server is out of reach, that and what
to check — as `plait workers` says it. A local project shows no workers line.

Real parts: a Temporal dev server of this test's own, a `plait worker` process, `plait web`
with its engine, headless Chromium.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import Page, expect

from plait.testing.temporal import TemporalDevServer, TemporalUnavailable, temporal_cli
from tests.api.helpers_live import Live
from tests.cli.helpers_cli import cli_env
from tests.scaleout.workers import Workers
from tests.web.helpers_web import web_url

pytestmark = pytest.mark.timeout(240)
WAIT = 60_000
T = TypeVar("T")


def _off_loop(step: Callable[[], T]) -> T:
    """Run `step` (it asks the server with asyncio.run) outside Playwright's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(step).result()


def test_workers_and_a_lost_server_show_in_the_header(
    tmp_path: Path, page: Page, shots_dir: Path
) -> None:
    try:
        temporal_cli()
    except TemporalUnavailable as exc:
        pytest.skip(str(exc))
    queue = f"q{uuid.uuid4().hex[:10]}"
    live = Live.make(tmp_path, {"tasks": {}})
    server = _off_loop(TemporalDevServer(log=tmp_path / "server.log").start)
    executor = f"temporal://{server.address}/{queue}"
    try:
        live.ok("init", "--repo", str(live.repo), "--script", str(live.script),
                "--project", "far", "--executor", executor)  # fmt: skip
        url = web_url(live, "far")["url"]
        page.goto(url)
        line = page.locator("#workers")
        expect(line).to_contain_text(f"turns on {executor}: no workers", timeout=WAIT)
        workers = Workers.start(tmp_path, server, queue, ["wa"], env=cli_env(tmp_path), slots=3)
        _off_loop(workers.__enter__)
        try:
            expect(line).to_contain_text("1 worker (1 running), 0/3 slots busy", timeout=WAIT)
            expect(line).to_contain_text("wa@")
            page.screenshot(path=shots_dir / "workers.png", full_page=True)
            server.stop()
            expect(line).to_contain_text(f"Temporal at {server.address}", timeout=WAIT)
            expect(line).to_have_class("problem")
            expect(line).to_contain_text("temporal server start-dev")
            page.screenshot(path=shots_dir / "workers-lost.png", full_page=True)
        finally:
            workers.__exit__(None, None, None)
    finally:
        live.plait("down", "far")
        server.stop()


def test_a_local_project_shows_no_workers_line(tmp_path: Path, page: Page) -> None:
    live = Live.make(tmp_path, {"tasks": {}})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "here")
    try:
        url = web_url(live, "here")["url"]
        page.goto(url)
        expect(page.locator("#totals")).to_contain_text("agent script", timeout=WAIT)
        page.wait_for_timeout(500)  # the first /api/workers answer has come back
        expect(page.locator("#workers")).to_be_hidden()
    finally:
        live.plait("down", "here")
