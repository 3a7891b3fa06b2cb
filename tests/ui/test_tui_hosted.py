"""`plait run` in a terminal: the TUI hosts the engine in this process. Quitting it while
the run is under way (the TUI asks first) stops the run cleanly, as Ctrl-C does: the
summary says it was stopped and how to go on, and the exit code is 130, so a chained
`plait run … && next` does not go on as if the run were done or needed a person (10).
Quitting a TUI that follows a run whose engine runs elsewhere interrupts nothing: 0.
Driven with Textual's Pilot in place of a terminal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from plait import exits
from plait.cli.faces import follow_in_tui, host_in_tui
from plait.engine.project import open_project
from plait.ui.tui import PlaitApp
from plait.ui.tui.dialogs import ConfirmScreen
from tests.api.helpers_live import Live, live_api, turn, until
from tests.ui.helpers_tui import screen_text, wait_for

SCRIPT: dict[str, Any] = {
    "tasks": {"slow": {"start": [turn("slow", "notes/slow.txt", "s\n", "Slow", {"sleep": 600})]}}
}


def test_quitting_the_tui_that_hosts_the_run_stops_it_as_an_interruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    live = Live.make(tmp_path, SCRIPT)
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / "plait-home"))
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", "t")
    live.ok("add", "Slow one", "--id", "slow", "--body", "x", "-p", "t")  # waits in the inbox

    def run_with_pilot(app: PlaitApp) -> Any:
        async def go() -> None:
            async with app.run_test(size=(160, 45)) as pilot:
                await wait_for(pilot, lambda: "working" in screen_text(app))
                await pilot.press("q")
                assert isinstance(app.screen, ConfirmScreen)
                await pilot.press("y")

        asyncio.run(go())
        return app.return_value

    monkeypatch.setattr(PlaitApp, "run", run_with_pilot)
    code = host_in_tui(open_project("t"), [], ids=None, token=None)
    out = capsys.readouterr().out
    assert code == exits.INTERRUPTED
    assert "outcome: stopped" in out
    assert "stopped; continue with `plait resume t`" in out


def test_quitting_the_tui_that_follows_an_engine_elsewhere_interrupts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    live = Live.make(tmp_path, SCRIPT)
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / "plait-home"))
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", "t")
    assert live.plait("up", "t").returncode == 0  # the engine runs in the background
    try:
        live.ok("add", "Slow one", "--id", "slow", "--body", "x", "-p", "t")
        until(lambda: live.rows("t")["slow"]["status"] == "working", what="slow at work")

        def run_with_pilot(app: PlaitApp) -> Any:
            async def go() -> None:
                async with app.run_test(size=(160, 45)) as pilot:
                    await wait_for(pilot, lambda: "working" in screen_text(app))
                    await pilot.press("q")  # nothing to confirm: the engine is not here

            asyncio.run(go())
            return app.return_value

        monkeypatch.setattr(PlaitApp, "run", run_with_pilot)
        api = live_api("t")
        try:
            code = follow_in_tui(api, ["slow"])
        finally:
            api.close()
        # It exited 130, as if the run had been stopped by a signal.
        assert code == exits.OK
        assert "the engine of t goes on with the plan's tasks" in capsys.readouterr().out
        assert live.rows("t")["slow"]["status"] == "working"  # and it does
    finally:
        live.plait("down", "t")
