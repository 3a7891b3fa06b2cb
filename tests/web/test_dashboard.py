"""The dashboard in a real headless Chromium against a real engine with the script agent:
it follows a task from working to merged without reloading, sends a message, kills and
retries, broadcasts, shows the timeline and the graph, escapes what agents and titles
contain, and is refused without the token. Screenshots are kept (the run prints where).

A task's agent waits inside its turn at a gate (a file the test creates), so the test —
not the clock — decides when a turn ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.api.helpers_live import Live
from tests.web.helpers_web import gate, web_url

HOSTILE = '<img src=x onerror="window.__pwned = 1"> & <b>bold</b>'
WAIT = 60_000  # ms a task may take to land (worktree, turn, PR, merge, cleanup)


def _commit(name: str, say: str, *first: dict[str, Any]) -> dict[str, Any]:
    return {
        "say": say,
        "actions": [*first, {"write": f"{name}.txt", "content": f"{name}\n"}, {"commit": name}],
    }


def _script(gates: Path) -> dict[str, Any]:
    tasks = {
        "follow-me": {"start": [_commit("follow", "followed", gate(gates / "follow"))]},
        "chat": {
            "start": [_commit("chat", "first", gate(gates / "chat"))],
            "human": [_commit("chat-more", "read your message")],
        },
        "stop-me": {
            "start": [_commit("stop", "never", gate(gates / "never"))],
            "continue": [_commit("stop-more", "carried on")],
        },
        "hostile": {"start": [_commit("hostile", f"I did it: {HOSTILE}\n\n**Done**: `x.txt`.")]},
    }
    for name in ("base", "top", "side", "thrifty", "late", "later"):
        tasks[name] = {"start": [_commit(name, f"did {name}")]}
    for name in ("cast-a", "cast-b"):  # both wait at one gate, for the broadcast
        tasks[name] = {
            "start": [_commit(name, "started", gate(gates / "cast"))],
            "human": [_commit(f"{name}-more", "heard it")],
        }
    return {"tasks": tasks}


@dataclass
class Board:
    live: Live
    url: str  # with the token
    gates: Path

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    def at(self, fragment: str) -> str:
        return f"{self.url}#{fragment}"

    def open_gate(self, name: str) -> None:
        (self.gates / name).touch()

    def add(self, task: str, title: str, *args: str) -> None:
        self.live.ok("add", title, "--id", task, "--body", f"Do {task}.", "-p", "board", *args)


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    tmp = tmp_path_factory.mktemp("board")
    gates = tmp / "gates"
    gates.mkdir()
    live = Live.make(tmp, _script(gates))
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "board")
    try:
        yield Board(live=live, url=web_url(live, "board")["url"], gates=gates)
    finally:
        live.plait("down", "board")
        live.plait("down", "other")


def _status(page: Page, task: str) -> Any:
    return expect(page.locator(f'#task-rows tr[data-task="{task}"]'))


def test_follows_a_task_from_working_to_merged_without_reloading(
    board: Board, page: Page, shots_dir: Path
) -> None:
    page.goto(board.url)
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.__samePage = true")
    loads: list[str] = []
    page.on("load", lambda p: loads.append(p.url))

    page.click("#add-open")  # the dashboard's own form adds the task
    page.fill("#add-title", "Follow me")
    page.fill("#add-body", "Write follow.txt.")
    page.click("#add-submit")
    expect(page.locator("#toast")).to_contain_text("added task follow-me")
    row = page.locator('#task-rows tr[data-task="follow-me"]')
    expect(row).to_have_attribute("data-status", "working")
    expect(row.locator("td").nth(2)).to_have_text("script")
    # Said where it came from, as the TUI's "tui" (found trying plait: it said "cli").
    assert board.live.json("ps", "-p", "board")[0]["origin"] == "web"
    page.screenshot(path=shots_dir / "list-working.png", full_page=True)

    board.open_gate("follow")
    expect(row).to_have_attribute("data-status", "merged", timeout=WAIT)
    expect(row.locator("td").nth(3)).to_have_text(re.compile(r"^#\d+$"))  # its PR
    expect(row.locator("td").nth(7)).to_have_text("1")  # turns
    expect(page.locator("#totals")).to_contain_text("1 merged")
    page.screenshot(path=shots_dir / "list-merged.png", full_page=True)
    assert page.evaluate("window.__samePage") is True
    assert loads == []


def test_sends_a_message_to_a_working_agent(board: Board, page: Page, shots_dir: Path) -> None:
    board.add("chat", "Chat with me")
    page.goto(board.at("/task/chat"))
    expect(page.locator("#task-status")).to_have_text("working")
    expect(page.locator("#transcript")).to_contain_text("while [ ! -e")  # live, mid-turn

    page.fill("#send-text", "Please also greet the reviewers.")
    page.click("#send")
    expect(page.locator("#toast")).to_contain_text("message delivered to chat's agent")
    expect(page.locator('dd[data-fact="queue"]')).to_have_text("human")
    page.screenshot(path=shots_dir / "detail-message-queued.png", full_page=True)

    board.open_gate("chat")
    expect(page.locator("#transcript")).to_contain_text("Please also greet the reviewers.")
    expect(page.locator('dd[data-fact="answer"]')).to_have_text("read your message", timeout=WAIT)
    expect(page.locator("#task-status")).to_have_text("merged", timeout=WAIT)
    page.screenshot(path=shots_dir / "detail-answered.png", full_page=True)


def test_kills_and_retries_a_task(board: Board, page: Page, shots_dir: Path) -> None:
    board.add("stop-me", "Stop me")
    page.goto(board.at("/task/stop-me"))
    expect(page.locator("#transcript")).to_contain_text("while [ ! -e")  # inside its turn

    page.click("#kill")
    expect(page.locator("#task-status")).to_have_text("stopped")
    expect(page.locator("#kill")).to_be_disabled()
    page.screenshot(path=shots_dir / "detail-stopped.png", full_page=True)
    page.click("text=← all tasks")
    _status(page, "stop-me").to_have_attribute("data-status", "stopped")

    page.click('#task-rows tr[data-task="stop-me"] a')
    page.click("#retry")
    expect(page.locator("#toast")).to_contain_text("stop-me goes again")
    # The killed turn is continued (the script's `continue` turn), not started over.
    expect(page.locator("#transcript")).to_contain_text("carried on", timeout=WAIT)
    expect(page.locator("#task-status")).to_have_text("merged", timeout=WAIT)


def test_broadcasts_to_every_working_agent(board: Board, page: Page, shots_dir: Path) -> None:
    page.goto(board.url)
    board.add("cast-a", "Cast A")
    board.add("cast-b", "Cast B")
    for task in ("cast-a", "cast-b"):
        _status(page, task).to_have_attribute("data-status", "working")

    page.click("#broadcast-open")
    page.fill("#broadcast-text", "Stop and write down what you learned.")
    page.click("#broadcast-submit")
    expect(page.locator("#toast")).to_contain_text("message delivered to 2 working tasks")
    for task in ("cast-a", "cast-b"):
        row = page.locator(f'#task-rows tr[data-task="{task}"]')
        expect(row.locator("td").nth(5)).to_have_text("human")  # the queue column
    page.screenshot(path=shots_dir / "broadcast.png", full_page=True)

    board.open_gate("cast")
    for task in ("cast-a", "cast-b"):
        _status(page, task).to_have_attribute("data-status", "merged", timeout=WAIT)
        assert board.live.json("result", task, "-p", "board")["answer"] == "heard it"


def test_shows_the_timeline_and_the_graph(board: Board, page: Page, shots_dir: Path) -> None:
    board.add("base", "Base work")
    page.goto(board.at("/timeline"))
    expect(page.locator("#live")).to_have_text("live")
    board.add("top", "On top", "--after", "base")
    board.add("side", "Beside", "--after", "base")
    timeline = page.locator("#timeline-rows")
    # What happened before the page opened comes from the stored timeline, once; what
    # happens after arrives over the event stream.
    expect(timeline.locator("tr", has_text="added 1 task: base")).to_have_count(1)
    expect(timeline.locator("tr", has_text="added 1 task: top")).to_have_count(1)
    _status_in_timeline = timeline.locator("tr", has=page.locator(".badge", has_text="merged"))
    expect(_status_in_timeline.first).to_be_visible(timeout=WAIT)
    page.screenshot(path=shots_dir / "timeline.png", full_page=True)

    page.click("nav a[data-view=graph]")
    graph = page.locator("#graph")
    for task in ("base", "top", "side"):
        expect(graph.locator(f'a[data-task="{task}"]')).to_be_visible()
    assert graph.locator("path.edge").count() >= 2
    expect(graph.locator('a[data-task="top"]')).to_have_class("node s-merged", timeout=WAIT)
    page.screenshot(path=shots_dir / "graph.png", full_page=True)
    graph.locator('a[data-task="top"]').click()
    expect(page.locator('dd[data-fact="depends on"]')).to_have_text("base")


def test_shows_what_titles_and_agents_say_as_text(
    board: Board, page: Page, shots_dir: Path
) -> None:
    body = "<script>window.__pwned = 2</script>"
    board.live.ok("add", HOSTILE, "--id", "hostile", "--body", body, "-p", "board")
    page.goto(board.at("/task/hostile"))
    expect(page.locator("#task-title")).to_have_text(HOSTILE)
    expect(page.locator("#task-description")).to_have_text(body)
    expect(page.locator("#transcript")).to_contain_text(f"I did it: {HOSTILE}", timeout=WAIT)
    # What the agent wrote as Markdown is read as Markdown, built from text nodes.
    expect(page.locator("#transcript strong")).to_have_text("Done")
    expect(page.locator("#transcript code")).to_have_text("x.txt")
    page.click("text=← all tasks")
    expect(page.locator('#task-rows tr[data-task="hostile"] td').last).to_have_text(HOSTILE)
    page.screenshot(path=shots_dir / "escaped.png", full_page=True)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main b, main script").count() == 0


def test_is_refused_without_the_token(board: Board, page: Page, shots_dir: Path) -> None:
    for path in ("/", "/static/app.js", "/api/tasks", "/api/events", "/?token=wrong"):
        response = page.goto(board.origin + path)
        assert response is not None
        assert response.status == 401, path
    expect(page.locator("body")).to_contain_text("plait web")
    page.screenshot(path=shots_dir / "refused.png")

    # With the cookie, a command another page could make the browser send (no X-Plait
    # header) is refused too; the dashboard's own header passes.
    page.goto(board.url)
    expect(page.locator("#live")).to_have_text("live")
    assert "token" not in page.url
    posted = (
        "h => fetch('/api/tasks', {method: 'POST', headers: h, body: '{}'}).then(r => r.status)"
    )
    assert page.evaluate(posted, {}) == 403
    assert page.evaluate(posted, {"X-Plait": "1"}) == 400  # reached the API: no title


def test_two_projects_dashboards_at_once(board: Board, page: Page) -> None:
    """A browser sends a cookie of 127.0.0.1 to every port: each engine's cookie has a
    name of its own, so opening a second project's dashboard keeps the first one working."""
    live = board.live
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "other")
    other = web_url(live, "other")["url"]
    page.goto(board.url)
    expect(page.locator("#project")).to_have_text("board")
    second = page.context.new_page()
    second.goto(other)
    expect(second.locator("#project")).to_have_text("other")
    assert page.evaluate("fetch('/api/project').then(r => r.status)") == 200
    page.reload()
    expect(page.locator("#project")).to_have_text("board")
    expect(page.locator("#banner")).to_be_hidden()


def test_shows_budgets_and_a_task_held_back_by_the_projects(
    board: Board, page: Page, shots_dir: Path
) -> None:
    board.add("thrifty", "Thrifty")
    page.goto(board.at("/task/thrifty"))
    expect(page.locator("#task-status")).to_have_text("merged", timeout=WAIT)
    # The project has spent more than one token by now: no new turn may start.
    board.live.ok("budget", "--tokens", "1", "-p", "board")
    board.add("late", "Late")
    board.live.ok("budget", "--task", "late", "--tokens", "5000", "-p", "board")
    page.goto(board.at("/task/late"))
    facts = page.locator("#task-facts")
    expect(facts).to_contain_text("5,000 tokens", timeout=WAIT)
    expect(facts).to_contain_text("over: the project's budget is reached", timeout=WAIT)
    row = page.locator('#task-rows tr[data-task="late"]')
    expect(row).to_have_attribute("data-status", "over-budget", timeout=WAIT)
    page.screenshot(path=shots_dir / "over-budget.png", full_page=True)
    board.add("later", "Later", "--after", "late")
    page.goto(board.at("/task/later"))
    expect(page.locator('#task-facts dd[data-fact="waits for"]')).to_have_text("after late")
    board.live.ok("budget", "--tokens", "0", "-p", "board")
    expect(page.locator("#task-status")).to_have_text("merged", timeout=WAIT)
    page.goto(board.at("/task/late"))
    expect(page.locator("#task-status")).to_have_text("merged", timeout=WAIT)
