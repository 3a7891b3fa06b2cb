"""A real headless Chromium (Debian's, driven by Playwright) and a real engine serving the
dashboard, for the dashboard's tests.

`tools/chromium/install` installs Debian's `chromium` through apt-get when it is missing
(as root); a machine where that cannot be done skips these tests, saying why. Screenshots
go to one folder under pytest's temp dir, printed at the end of the run.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "tools" / "chromium" / "install"
# What the machine's closed network needs: no background connections Chromium would make
# (and retry) on its own, no sandbox as root in a container. (`headless=True` adds
# `--headless`.)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_SHOTS: list[Path] = []


@pytest.fixture(scope="session")
def chromium_path() -> str:
    done = subprocess.run(
        [str(INSTALL), "--quiet"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode == 3:
        pytest.skip(f"no chromium for the dashboard tests: {done.stderr.strip()}")
    assert done.returncode == 0, f"tools/chromium/install failed:\n{done.stderr}"
    return done.stdout.strip().splitlines()[-1]


# Module scope, not session: while Playwright's sync API is started it runs an event loop
# in this thread, and every later test calling asyncio.run() would fail.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    # Each launch runs on a new, empty profile (user data dir) that Playwright removes.
    browser = playwright.chromium.launch(
        executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a context of its own: no cookie from another test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"the dashboard's script failed: {errors}"


@pytest.fixture(scope="session")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dashboard-screenshots")
    _SHOTS.append(path)
    return path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for path in _SHOTS:
        if any(path.iterdir()):
            terminalreporter.write_line(f"dashboard screenshots: {path}")
