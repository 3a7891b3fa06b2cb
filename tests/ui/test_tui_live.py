"""Every key of the TUI, pressed through Textual's Pilot against a real background engine
(`plait up`, script agent) in another process: the app talks to it over its socket, and
each command's effect is read back through the API, as any other client would see it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, OptionList, TabbedContent

from plait.ui.tui import PlaitApp
from plait.ui.tui.detail import TaskScreen
from plait.ui.tui.dialogs import ConfirmScreen, FormScreen, PickScreen
from plait.ui.tui.help import HelpScreen
from tests.api.helpers_live import Live, live_api, turn, until
from tests.ui.helpers_tui import screen_text, wait_for

SLEEP = {"sleep": 600}
SCRIPT: dict[str, Any] = {
    "tasks": {
        "slow": {
            "start": [turn("slow start", "notes/slow.txt", "slow\n", "Slow", SLEEP)],
            "continue": [turn("going on", "notes/slow2.txt", "s\n", "Slow 2", SLEEP)],
            "human": [turn("heard", "notes/heard.txt", "h\n", "Heard", SLEEP)],
        },
        "quick": {"start": [turn("did **quick**", "notes/quick.txt", "q\n", "Quick")]},
    },
    "default": {"start": [turn("did it", "notes/other.txt", "o\n", "Other")]},
}
SIZE = (160, 45)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Project `t` with its engine up: `quick` landed, `slow` at work (its agent sleeps);
    and a second project, `other`, with no engine."""
    tmp = tmp_path_factory.mktemp("tui")
    live = Live.make(tmp, SCRIPT)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAIT_HOME", str(tmp / "plait-home"))
        for name in ("t", "other"):
            live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", name)
        assert live.plait("up", "t").returncode == 0
        try:
            live.ok("add", "Quick", "--id", "quick", "--body", "x", "-p", "t")
            assert live.plait("wait", "quick", "-p", "t", "--timeout", "60").returncode == 0
            live.ok("add", "Slow one", "--id", "slow", "--body", "x", "-p", "t")
            until(lambda: _row("slow")["status"] == "working", what="slow at work")
            yield live
        finally:
            live.plait("down", "t")


def _showing(app: PlaitApp, kind: type[object]) -> bool:
    return isinstance(app.screen, kind)


def _row(task: str) -> dict[str, Any]:
    api = live_api("t")
    try:
        return api.task(task)
    finally:
        api.close()


def _drive(body: Callable[[PlaitApp, Pilot[Any]], Awaitable[None]], **kw: Any) -> PlaitApp:
    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.table.row_count >= 2)
            await body(app, pilot)

    app = PlaitApp("t", **kw)
    asyncio.run(go())
    return app


async def _select(app: PlaitApp, pilot: Pilot[Any], task: str) -> None:
    await pilot.press("1")
    app.table.move_cursor(row=0)
    for _ in range(app.table.row_count):
        if app.table.selected() == task:
            return
        await pilot.press("j")
    assert app.table.selected() == task


async def _fill(pilot: Pilot[Any], **values: str) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, FormScreen)
    for name, value in values.items():
        screen.query_one(f"#f-{name}", Input).value = value
    await pilot.press("ctrl+s")


async def _pick(pilot: Pilot[Any], key: str) -> None:
    """Choose `key` in the open pick list, moving down to it as a person would."""
    options = pilot.app.screen.query_one(OptionList)
    for _ in range(options.option_count):
        at = options.highlighted
        if at is not None and options.get_option_at_index(at).id == key:
            break
        await pilot.press("down")
    await pilot.press("enter")


async def _until(pilot: Pilot[Any], check: Callable[[], object]) -> None:
    """Wait for something the engine (another process) does."""

    async def off_loop() -> object:
        return await asyncio.to_thread(check)

    deadline = asyncio.get_running_loop().time() + 60
    while not await off_loop():
        assert asyncio.get_running_loop().time() < deadline, f"timed out: {check}"
        await pilot.pause(0.2)


def test_task_keys_steer_the_engine(live: Live) -> None:
    async def body(app: PlaitApp, pilot: Pilot[Any]) -> None:
        await _select(app, pilot, "slow")
        await pilot.press("m")
        await _fill(pilot, text="Please also update the notes")
        await _until(pilot, lambda: "human" in _row("slow")["queue"])
        # The engine queues the message before it answers the app: the app says so after.
        await wait_for(pilot, lambda: "message delivered to slow's agent" in app.said)

        await pilot.press("b")
        await _fill(pilot, text="Everyone: rebase soon")
        await wait_for(pilot, lambda: any("1 working task" in s for s in app.said))

        await pilot.press("x")
        await _until(pilot, lambda: _row("slow")["status"] == "stopped")
        await pilot.press("r")
        await _until(pilot, lambda: _row("slow")["stopped"] is None)
        await pilot.press("R")
        await wait_for(pilot, lambda: any("counters are cleared" in s for s in app.said))

        await pilot.press("D")
        assert _showing(app, ConfirmScreen)
        await pilot.press("n")  # nothing happens
        assert not _showing(app, ConfirmScreen)
        await pilot.press("D", "y")
        await wait_for(pilot, lambda: any("starts over from main" in s for s in app.said))

        await pilot.press("o")
        await wait_for(pilot, lambda: any("slow has no PR yet" in s for s in app.said))
        await _select(app, pilot, "quick")
        await pilot.press("o")
        await wait_for(
            pilot, lambda: any("local forge, which has no web page" in s for s in app.said)
        )

        await pilot.press("a")
        await _fill(pilot, title="Added from the TUI", body="Write it.", after="quick")
        await _until(pilot, lambda: _row("added-from-the-tui")["depends_on"] == ["quick"])

        await pilot.press("A")
        app.screen.query_one("#f-merge", Checkbox).value = True
        await _fill(pilot, pr="1")
        await wait_for(pilot, lambda: any("PR #1 is merged" in s for s in app.said))

    _drive(body)


def test_detail_view_follows_the_transcript(live: Live) -> None:
    async def body(app: PlaitApp, pilot: Pilot[Any]) -> None:
        await _select(app, pilot, "quick")
        await pilot.press("enter")
        assert isinstance(app.screen, TaskScreen)
        await wait_for(pilot, lambda: "did quick" in screen_text(app))  # Markdown, rendered
        text = screen_text(app)
        assert "plait/t/quick" in text
        assert "PR          #1 (local forge: no web page)" in text
        await pilot.press("end", "escape")
        assert not isinstance(app.screen, TaskScreen)

    _drive(body)


def test_views_sort_filter_help_and_projects(live: Live) -> None:
    async def body(app: PlaitApp, pilot: Pilot[Any]) -> None:
        tabs = app.query_one(TabbedContent)
        await pilot.press("2")
        assert tabs.active == "timeline"
        await wait_for(pilot, lambda: "merged PR #1 into main" in screen_text(app))
        await pilot.press("3")
        await wait_for(pilot, lambda: "● quick" in screen_text(app))
        await pilot.press("1")
        assert tabs.active == "tasks"

        await pilot.press("home", "j")
        assert app.table.cursor_row == 1
        await pilot.press("k")
        assert app.table.cursor_row == 0
        await pilot.press("s")
        assert app.table.sort_by == "status"
        await pilot.press("S")
        assert app.table.reverse

        await pilot.press("f")
        assert isinstance(app.screen, PickScreen)
        options = app.screen.query_one(OptionList)
        merged = next(
            i for i in range(options.option_count) if options.get_option_at_index(i).id == "merged"
        )
        options.highlighted = merged
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.table.status_filter == "merged")
        shown = [app.table.row_of(t) for t in app.table._shown]
        assert {r["status"] for r in shown if r} == {"merged"}

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("x")  # a dialog's keys are its own: nothing is killed
        await pilot.press("escape")

        await pilot.press("p")
        assert isinstance(app.screen, PickScreen)
        await _pick(pilot, "other")
        await wait_for(pilot, lambda: app.project == "other" and "offline" in screen_text(app))
        await pilot.press("p")
        await _pick(pilot, "t")
        await wait_for(pilot, lambda: app.project == "t" and " live " in screen_text(app))

    _drive(body)
    assert _row("quick")["status"] == "merged"


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
def test_quitting_leaves_a_background_engine_running(live: Live, key: str) -> None:
    async def body(app: PlaitApp, pilot: Pilot[Any]) -> None:
        await pilot.press(key)

    app = _drive(body)
    assert app.return_value is None
    assert _row("slow")["status"]  # the engine still answers


def test_quitting_a_hosted_engine_asks_first(live: Live) -> None:
    from plait.ui.tui import Hosting

    async def body(app: PlaitApp, pilot: Pilot[Any]) -> None:
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        assert "quitting stops it" in screen_text(app)
        await pilot.press("n")
        assert app.is_running
        await pilot.press("q", "y")

    app = _drive(body, hosting=Hosting(project="t", running=lambda: True))
    assert app.return_value == "stop"


def test_an_engine_that_stopped_between_two_looks_is_no_error(live: Live, tmp_path: Path) -> None:
    """Found trying plait: when a `plait run` in a terminal settled, its TUI showed "the
    engine of … did not answer: [Errno 2] No such file or directory … restart it with
    `plait down …; plait up …`" beside "the run is over": a look at the API raced the
    engine's end. An engine that no longer runs is said once, calmly, and the store shows."""
    from plait.api.aclient import AsyncLiveAPI, AsyncOfflineAPI

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.api, AsyncOfflineAPI))
            # As the app holds it while the engine it talked to goes away: its socket is gone.
            offline, app.api = app.api, AsyncLiveAPI("other", str(tmp_path / "gone.sock"))
            assert offline is not None
            await offline.close()
            assert await app.call_api(lambda api: api.tasks()) is None
            await wait_for(pilot, lambda: isinstance(app.api, AsyncOfflineAPI))

    app = PlaitApp("other")
    asyncio.run(go())
    assert not [said for said in app.said if "did not answer" in said], list(app.said)
    assert "the engine of other stopped; showing its store" in app.said
