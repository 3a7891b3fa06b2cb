"""The TUI's views pinned as snapshots, on a project whose store holds a simulated run
(so every figure is the same on every run), read offline through the store's API; and
the pure pieces the views are drawn from."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.text import Text

from plait.textsafe import inert
from plait.ui.tui import PlaitApp
from plait.ui.tui.detail import TaskScreen, entry_markdown
from plait.ui.tui.dialogs import Field, keys_line
from plait.ui.tui.graph import graph_lines
from plait.ui.tui.help import HelpScreen
from plait.ui.tui.text import duration
from tests.ui.helpers_tui import (
    screen_text,
    settle_on_snapshot,
    simulated_project,
    utc,
    wait_for,
)

SIZE = (150, 40)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / "home"))
    simulated_project("sim")
    with utc():
        yield "sim"


def _snap(project: str, *keys: str, name: str, opened: list[str] | None = None) -> None:
    async def go() -> None:
        app = PlaitApp(project, open_url=(opened or []).append)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.table.row_count == 6)
            await pilot.press(*keys)
            await pilot.pause(0.3)
            if isinstance(app.screen, TaskScreen):
                screen = app.screen
                await wait_for(pilot, lambda: screen.after > 0)
                await pilot.pause(0.3)
            app.clear_notifications()
            await pilot.pause(0.1)
            await settle_on_snapshot(pilot, app, name)

    asyncio.run(go())


def test_task_list(project: str) -> None:
    _snap(project, name="tasks")


def test_timeline(project: str) -> None:
    _snap(project, "2", name="timeline")


def test_graph(project: str) -> None:
    _snap(project, "3", name="graph")


def test_task_detail_with_transcript(project: str) -> None:
    _snap(project, "j", "j", "j", "enter", name="detail")


def test_help_lists_every_key(project: str) -> None:
    async def go() -> None:
        app = PlaitApp(project)
        async with app.run_test(size=(120, 60)) as pilot:
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.pause(0.2)
            await settle_on_snapshot(pilot, app, "help")
            text = screen_text(app)
            for binding in app.BINDINGS:
                assert binding.description in text  # type: ignore[union-attr]
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

    asyncio.run(go())


def test_a_pr_with_a_web_address_opens_in_the_browser(project: str) -> None:
    opened: list[str] = []

    async def go() -> None:
        app = PlaitApp(project, open_url=opened.append)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.table.row_count == 6)
            for _ in range(6):
                row = app.table.row_of(app.table.selected() or "")
                if row and row.get("pr_url"):
                    break
                await pilot.press("j")
            await pilot.press("o")
            await wait_for(pilot, lambda: opened)

    asyncio.run(go())
    assert opened[0].startswith("https://forge.example/sim/pull/")


# ---- the pure parts -------------------------------------------------------------------------
def test_control_sequences_are_shown_not_obeyed() -> None:
    assert inert("a\x1b[31mred\x1b[0m\x07") == "a␛[31mred␛[0m␇"
    assert inert("\x9b2J title\x1b]0;pwned\x07") == "\\x9b2J title␛]0;pwned␇"
    assert inert("tabs\tand\nlines stay") == "tabs\tand\nlines stay"
    assert inert("\x7f") == "\u2421"


def test_transcript_code_blocks_cannot_be_closed_by_their_content() -> None:
    md = entry_markdown({"kind": "ToolResult", "line": "    → ```` x ```", "event": {}})
    assert md is not None
    assert md.startswith("`````\n")
    assert md.endswith("\n`````")
    assert entry_markdown({"kind": "UsageReport", "line": None, "event": {}}) is None
    said = entry_markdown({"kind": "TextOut", "line": "x", "event": {"text": "\x1b[2Jhi"}})
    assert said == "␛[2Jhi"


def test_the_graph_hangs_each_task_under_what_it_waits_for() -> None:
    nodes = [
        {"id": "a", "title": "A", "status": "merged", "depends_on": []},
        {"id": "b", "title": "B", "status": "working", "depends_on": ["a"], "stacked_on": "a"},
        {"id": "c", "title": "C", "status": "waiting", "depends_on": ["a", "b"]},
        {"id": "d", "title": "D", "status": "waiting", "depends_on": []},
        {"id": "e", "title": "[red]E", "status": "waiting", "depends_on": ["a"]},
    ]
    lines = [t.plain for t in graph_lines(nodes)]
    assert lines == [
        "● a  A  merged",
        "├── ● b  B  working  stacked on a",
        "├── ● c  C  waiting  also after b",
        "└── ● e  [red]E  waiting",
        "● d  D  waiting",
    ]
    assert all(isinstance(t, Text) for t in graph_lines(nodes))


def test_a_task_that_took_under_a_second_still_shows_its_time() -> None:
    """Found trying plait: tasks that ran 0.4 s showed an empty Time cell in the TUI while
    `plait ps` said 0.4s, as if they had not run; only a task that never ran shows none."""
    assert [duration(s) for s in (0.0, None, 0.4, 1.2, 61.0)] == ["", "", "<1s", "1s", "1m01s"]


def test_a_form_says_enter_goes_to_the_next_field_when_there_is_one() -> None:
    """Found trying plait: the Add dialog said "Enter: send", but Enter in "What to do"
    moved to the next field (a key typed next landed in "After tasks")."""
    add = [Field("title", "Title"), Field("body", "What to do"), Field("after", "After")]
    assert keys_line(add) == (
        "Enter: next field, on the last one send · ctrl+s: send · Esc: cancel"
    )
    message = [Field("text", "Message"), Field("merge", "Merge", check=True)]
    assert keys_line(message) == "Enter: send · Esc: cancel"
