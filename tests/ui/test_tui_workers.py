"""The TUI shows where a project's agent turns run when they run on `plait worker`s: the
workers and their slots, and, when the Temporal server goes away, that in red with what to
check — the line the dashboard shows, from the same `/api/workers`.

Real parts: a Temporal dev server of this test's own, a `plait worker` process, a
background engine (`plait up`), the TUI driven through Textual's Pilot.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from plait.api.views import workers_line
from plait.testing.temporal import TemporalDevServer, TemporalUnavailable, temporal_cli
from plait.ui.tui import PlaitApp
from tests.api.helpers_live import Live
from tests.cli.helpers_cli import cli_env
from tests.scaleout.workers import Workers
from tests.ui.helpers_tui import screen_text, wait_for

pytestmark = pytest.mark.timeout(240)


def _line(app: PlaitApp) -> str:
    shown = app.workers_line
    return str(shown.render()) if shown.display else ""


def test_the_workers_line_follows_the_workers_and_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        temporal_cli()
    except TemporalUnavailable as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / "plait-home"))
    queue = f"q{uuid.uuid4().hex[:10]}"
    live = Live.make(tmp_path, {"tasks": {}})
    server = TemporalDevServer(log=tmp_path / "server.log").start()
    executor = f"temporal://{server.address}/{queue}"
    try:
        live.ok("init", "--repo", str(live.repo), "--script", str(live.script),
                "-p", "far", "--executor", executor)  # fmt: skip
        live.ok("up", "far")
        with Workers.start(tmp_path, server, queue, ["wa"], env=cli_env(tmp_path), slots=2):

            async def go() -> None:
                async with app.run_test(size=(160, 30)) as pilot:
                    await wait_for(pilot, lambda: "1 worker (1 running)" in _line(app))
                    assert f"turns on {executor}" in _line(app)
                    assert "0/2 slots busy" in _line(app)
                    assert "wa@" in screen_text(app)
                    server.stop()
                    await wait_for(pilot, lambda: f"Temporal at {server.address}" in _line(app))
                    assert "temporal server start-dev" in _line(app)

            app = PlaitApp("far")
            asyncio.run(go())
    finally:
        live.plait("down", "far")
        server.stop()


def test_a_local_project_has_no_workers_line() -> None:
    assert workers_line({"executor": "local", "workers": []}) is None


def test_the_line_counts_workers_by_state_and_busy_slots_of_running_ones() -> None:
    def worker(name: str, state: str, busy: int) -> dict[str, Any]:
        return {"name": name, "host": "h", "state": state, "slots": 2, "busy": busy}

    view = {"executor": "temporal://t:7233/q",
            "workers": [worker("a", "running", 1), worker("b", "lost", 2)]}  # fmt: skip
    text, problem = workers_line(view) or ("", True)
    assert not problem
    assert text.startswith("turns on temporal://t:7233/q: 2 workers (1 lost, 1 running), 1/2 slots")
    assert "a@h (running, 1/2) · b@h (lost, 2/2)" in text
    gone = {**view, "problem": {"error": "cannot reach Temporal", "hint": "is it up?"}}
    assert workers_line(gone) == (
        "turns on temporal://t:7233/q: cannot reach Temporal — is it up?",
        True,
    )
