"""Helpers for the TUI tests: a project made on a simulated clock (so every figure on
screen is the same on each run), waiting inside Pilot, and screen snapshots."""

from __future__ import annotations

import difflib
import io
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from plait.core import events as ev
from plait.core.controller import Decision
from plait.core.model import RunConfig, RunState
from plait.engine.settings import Settings
from plait.store import Store, project_paths
from plait.store.sqlite import Decided
from plait.testing.core_driver import Chaos, CoreDriver, specs_from
from plait.ui.headless import timeline_lines

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("PLAIT_UPDATE_SNAPSHOTS") == "1"

PLAN = {
    "schema": [],
    "api": ["schema"],
    "cli": ["api"],
    "docs": [],
    "tests": ["api", "docs"],
    "bench": [],
}
START = 1_800_000_000.0  # the simulated clock's start (2027-01-15 08:00 UTC)


def simulated_project(name: str) -> None:
    """A project in $PLAIT_HOME whose store holds part of a simulated run: some tasks
    landed, some at work, one waiting; a transcript; one PR with a web address."""
    paths = project_paths(name)
    paths.make_private()
    store = Store(paths.db)
    try:
        store.set_meta("settings", Settings(repo="/sim/repo").to_json())
        config = RunConfig(project=name, repo="/sim/repo", max_concurrency=3)
        d = CoreDriver(
            specs_from(PLAN),
            config=config,
            seed=3,
            chaos=Chaos(ci_fail=0.3, review=0.3),
            start_at=START,
        )

        def commit(event: ev.Event, old: RunState | None, decision: Decision) -> None:
            lines = timeline_lines(event, old, decision.state, decision.effects)
            store.commit_many([Decided(event, old, decision.state, decision.effects, None, lines)])

        d.observers.append(commit)
        d.run(until=lambda s: s.events > 25)
        _with_a_web_pr(store)
        for i, (kind, body) in enumerate(TRANSCRIPT):
            store.add_transcript("docs", "docs/1/agent", START + 100 + i, kind, body)
    finally:
        store.close()


TRANSCRIPT = [
    ("SessionStarted", '{"session_id": "s-1"}'),
    ("TextOut", '{"text": "I will add the **endpoint** first:\\n\\n- route\\n- test"}'),
    ("ToolCall", '{"name": "Bash", "input": "pytest -q tests/api"}'),
    ("ToolResult", '{"output": "3 passed", "is_error": false}'),
    ("TextOut", '{"text": "Done \\u001b[31mred\\u001b[0m and a ``` fence"}'),
    ("FinalResult", '{"ok": true}'),
]


def _with_a_web_pr(store: Store) -> None:
    """Give the first task with a PR a github-like address (the local forge has none)."""
    state = store.load()
    assert state is not None
    for tid, task in state.tasks.items():
        if task.pr is not None:
            pr = replace(task.pr, url=f"https://forge.example/sim/pull/{task.pr.number}")
            new = replace(state, tasks={**state.tasks, tid: replace(task, pr=pr)})
            store.commit(ev.Tick(at=state.now), state, new, ())
            return


@contextmanager
def utc() -> Iterator[None]:
    """Times on screen in UTC, whatever the machine's zone."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


async def wait_for(pilot: Pilot[Any], check: Callable[[], object], *, timeout: float = 60) -> None:
    """Let the app run until `check()` holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {check}"
        await pilot.pause(0.05)


def screen_text(app: App[Any]) -> str:
    """The screen as plain text, the way `export_screenshot` renders it."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True,
        color_system="truecolor", record=True, legacy_windows=False, safe_box=False,
    )  # fmt: skip
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


async def settle_on_snapshot(
    pilot: Pilot[Any], app: App[Any], name: str, *, timeout: float = 30
) -> None:
    """Let the app run until its screen reads as `snapshots/NAME.txt`, then compare (text
    and colours). A loaded machine can take longer than any fixed pause to draw a view;
    a screen that never matches still fails, with the diff."""
    txt_path = SNAPSHOTS / f"{name}.txt"
    if not UPDATE and txt_path.exists():
        want = txt_path.read_text().rstrip("\n")
        deadline = time.monotonic() + timeout
        while screen_text(app) != want and time.monotonic() < deadline:
            await pilot.pause(0.1)
    compare_snapshot(app, name)


def compare_snapshot(app: App[Any], name: str) -> None:
    """The screen against `snapshots/NAME.txt` (readable diffs) and `NAME.svg` (colours and
    layout). PLAIT_UPDATE_SNAPSHOTS=1 writes them afresh."""
    text, svg = screen_text(app), app.export_screenshot(title=name)
    txt_path, svg_path = SNAPSHOTS / f"{name}.txt", SNAPSHOTS / f"{name}.svg"
    if UPDATE or not txt_path.exists():
        if not UPDATE:
            pytest.fail(f"no snapshot {txt_path.name}: run with PLAIT_UPDATE_SNAPSHOTS=1")
        txt_path.write_text(text + "\n")
        svg_path.write_text(svg)
        return
    want = txt_path.read_text().rstrip("\n")
    if text != want:
        diff = "\n".join(difflib.unified_diff(want.splitlines(), text.splitlines(), lineterm=""))
        pytest.fail(f"screen {name} changed (PLAIT_UPDATE_SNAPSHOTS=1 to accept):\n{diff}")
    assert svg == svg_path.read_text(), f"colours or layout of {name} changed"
