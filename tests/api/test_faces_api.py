"""What the faces (TUI, dashboard) need from the API, against a real background engine:
the durable timeline and how the event stream continues it, the dependency graph, a
broadcast to every working task, and the asyncio client."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plait.api.aclient import AsyncLiveAPI, AsyncOfflineAPI, open_async_api
from plait.api.client import LiveAPI, OfflineAPI
from plait.api.commands import CommandError
from plait.engine.project import open_project
from tests.api.helpers_live import Live, live_api, turn, until

SLEEP = {"sleep": 60}
SCRIPT = {
    "tasks": {
        "slow": {
            "start": [turn("slow start", "notes/slow.txt", "slow\n", "Slow", SLEEP)],
            "human": [turn("heard you", "notes/heard.txt", "heard\n", "Heard")],
            # Still busy after a restart, so the test's last kill finds it working.
            "continue": [turn("slow done", "notes/slow-more.txt", "s\n", "Slow more", SLEEP)],
        },
    },
}
for _name in ("quick", "after"):
    SCRIPT["tasks"][_name] = {"start": [turn("did it", f"notes/{_name}.txt", f"{_name}\n", _name)]}


def _sleeping(live: Live, project: str, task: str) -> bool:
    out = live.plait("logs", task, "-p", project, "--json")
    return out.returncode == 0 and '"sleep 60"' in out.stdout


class _Stream:
    """The engine's event stream, read in a thread while the test goes on."""

    def __init__(self, api: LiveAPI) -> None:
        self.messages: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._read, args=(api,), daemon=True)
        self.thread.start()

    def _read(self, api: LiveAPI) -> None:
        for message in api.events():
            self.messages.append(message)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    live = Live.make(tmp_path, SCRIPT)
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / "plait-home"))
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "f")
    yield live
    live.plait("down", "f")


def _entries(api: LiveAPI | OfflineAPI, **query: Any) -> list[dict[str, Any]]:
    return list(api.timeline(limit=5000, **query)["entries"])


def test_timeline_graph_and_broadcast_on_a_live_engine(home: Live) -> None:
    live = home
    assert live.plait("up", "f").returncode == 0
    api = live_api("f")
    stream = _Stream(api)
    until(lambda: stream.messages or api.project(), what="the stream to open")
    live.ok("add", "Quick", "--id", "quick", "--body", "x", "-p", "f")
    live.ok("add", "After", "--id", "after", "--after", "quick", "--body", "x", "-p", "f")
    live.ok("add", "Slow one", "--id", "slow", "--body", "x", "-p", "f")
    assert live.plait("wait", "quick", "after", "-p", "f", "--timeout", "90").returncode == 0
    until(lambda: _sleeping(live, "f", "slow"), what="the slow agent to sleep")

    graph = {t["id"]: t for t in api.graph()["tasks"]}
    assert list(graph) == ["quick", "after", "slow"]
    assert graph["after"]["depends_on"] == ["quick"]
    assert graph["quick"]["status"] == "merged"
    assert graph["slow"]["status"] == "working"

    # Every line the stream carried is in the timeline, under the same seq.
    timeline = _entries(api)
    keyed = {(e["seq"], e["task"], e["message"]) for e in timeline}
    said = [m for m in stream.messages if m.get("message")]
    assert said
    for m in said:
        assert (m["seq"], m["task"], m["message"]) in keyed, m
    assert any(e["message"].startswith("merged PR #") for e in timeline)

    reply = api.broadcast("Please check the tests too")
    assert reply["queued"] is False
    assert [t["id"] for t in reply["tasks"]] == ["slow"]  # the landed ones are not working
    assert "human" in api.task("slow")["queue"]
    slow_lines = [e["message"] for e in _entries(api, task="slow")]
    assert "message from a human: Please check the tests too" in slow_lines
    assert _entries(api, task="quick") == [e for e in _entries(api) if e["task"] == "quick"]

    with pytest.raises(CommandError, match="message is empty"):
        api.broadcast("  ")
    before = _entries(api)
    last_seq = api.timeline(last=1)["next"]
    api.close()
    assert live.plait("down", "f").returncode == 0

    # Offline: the same timeline from the store; a broadcast waits in the inbox.
    proj = open_project("f")
    offline = OfflineAPI(proj)
    try:
        assert _entries(offline)[: len(before)] == before
        assert {t["id"] for t in offline.graph()["tasks"]} == {"quick", "after", "slow"}
        queued = offline.broadcast("And the docs")
        assert queued["queued"] is True
        assert "plait up f" in queued["message"]
    finally:
        proj.close()

    # A new engine goes on numbering where the last one stopped.
    assert live.plait("up", "f").returncode == 0
    api = live_api("f")
    stream = _Stream(api)
    until(lambda: api.project(), what="the engine")
    live.ok("kill", "slow", "-p", "f")
    until(lambda: any(m.get("message") for m in stream.messages), what="a line on the stream")
    assert min(m["seq"] for m in stream.messages) > last_seq
    lines = [e["message"] for e in _entries(api, task="slow")]
    assert "message from a human: And the docs" in lines  # the queued broadcast, decided
    api.close()


def test_the_async_client_answers_like_the_sync_one(home: Live) -> None:
    live = home

    async def offline() -> None:
        api = open_async_api(open_project("f"))
        assert isinstance(api, AsyncOfflineAPI)
        try:
            assert (await api.project())["mode"] == "stopped"
            with pytest.raises(CommandError, match="no task is working"):
                await api.broadcast("hello")
            with pytest.raises(CommandError, match="only a running engine"):
                await api.adopt(3, merge=False)
            assert [m async for m in api.events()] == []
        finally:
            await api.close()

    asyncio.run(offline())
    assert live.plait("up", "f").returncode == 0

    async def online() -> None:
        api = open_async_api(open_project("f"))
        assert isinstance(api, AsyncLiveAPI)
        seen: list[dict[str, Any]] = []

        async def follow() -> None:
            async for message in api.events():
                seen.append(message)
                if message.get("status") == "merged":
                    return

        try:
            reader = asyncio.create_task(follow())
            await asyncio.sleep(0.2)
            added = await api.add({"title": "Quick", "id": "quick", "body": "x"})
            assert added["task"] == "quick"
            await asyncio.wait_for(reader, 90)
            assert (await api.task("quick"))["status"] == "merged"
            assert [r["id"] for r in await api.tasks(status="merged")] == ["quick"]
            async with asyncio.timeout(30):  # merged shows while the worktree goes
                while not await api.settled(["quick"]):
                    await asyncio.sleep(0.1)
            page = await api.transcript("quick")
            assert any(e["line"] == "did it" for e in page["entries"])
            timeline = await api.timeline(task="quick")
            streamed = {(m["seq"], m["message"]) for m in seen if m.get("task") == "quick"}
            upto = max(m["seq"] for m in seen)  # the reader stopped at the merge
            kept = {(e["seq"], e["message"]) for e in timeline["entries"] if e["seq"] <= upto}
            assert kept == streamed
            assert (await api.graph())["tasks"][0]["id"] == "quick"
            with pytest.raises(CommandError, match="quick is merged"):
                await api.command("kill", "quick")
            assert (await api.result("quick"))["merge_sha"]
        finally:
            await api.close()

    asyncio.run(online())
