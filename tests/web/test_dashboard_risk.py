"""The dashboard shows a PR's risk tier: a project whose plait.toml has [risk], in a real
headless Chromium against a real engine (local forge, script agent)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from plait.testing.gitrepo import GitRepo
from tests.api.helpers_live import Live
from tests.web.helpers_web import web_url

TOML = '[risk]\nhuman = ["migrations/**"]\n\n[classes.DB]\npaths = ["migrations/**"]\n'
WAIT = 60_000


def test_a_human_tier_shows_on_the_task_page(tmp_path: Path, page: Page, shots_dir: Path) -> None:
    turn = {"say": "added", "actions": [
        {"write": "migrations/001.sql", "content": "CREATE …\n"}, {"commit": "Add a table"},
    ]}  # fmt: skip
    live = Live.make(tmp_path, {"tasks": {"table": {"start": [turn]}}})
    GitRepo(live.repo).commit({"plait.toml": TOML}, "risk rules")
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "risky")
    try:
        url = web_url(live, "risky")["url"]
        live.ok("add", "Add a table", "--id", "table", "--body", "Add it.", "-p", "risky")
        page.goto(f"{url}#/task/table")
        facts = page.locator("#task-facts")
        expect(facts.locator('dd[data-fact="risk"]')).to_have_text(
            "human (touches migrations/001.sql)", timeout=WAIT
        )
        expect(facts.locator('dd[data-fact="classes by path"]')).to_have_text("DB")
        waits = facts.locator('dd[data-fact="waits for"]')
        expect(waits).to_have_text("a person's merge (risk: human)", timeout=WAIT)
        page.screenshot(path=shots_dir / "risk-human.png", full_page=True)
        assert live.rows("risky")["table"]["risk"] == "human"
    finally:
        live.plait("down", "risky")
