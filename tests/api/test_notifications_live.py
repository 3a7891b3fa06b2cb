"""Notifications from a real engine to a webhook receiver on loopback: exactly one per
needs-attention episode, across a SIGKILL of the engine in the middle of sending one and
a clean restart after (the outbox keeps it; its id, sent as Idempotency-Key, stays)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from plait.testing.gitrepo import run_git
from plait.testing.webhook import WebhookReceiver
from tests.api.helpers_live import Live, until

FAILING = {"say": "cannot", "actions": [{"fail": "failed", "message": "the tests do not build"}]}
SCRIPT = {"tasks": {"bad": {"start": [FAILING]}}}


def _config(url: str) -> str:
    return (
        "[limits]\nfailures = 1\n\n"
        f'[notify]\non = ["attention"]\nwebhook = "{url}"\nretries = 30\ntimeout = 5\n'
    )


def _engine_pid(live: Live, project: str) -> int:
    info = json.loads((live.home() / project / "engine.json").read_text())
    return int(info["pid"])


def test_one_notification_per_needs_attention_episode_across_restarts(tmp_path: Path) -> None:
    live = Live.make(tmp_path, SCRIPT)
    with WebhookReceiver(answers=[503] * 1000) as hook:
        (live.repo / "plait.toml").write_text(_config(hook.url))
        run_git("add", "plait.toml", cwd=live.repo)
        run_git("commit", "-qm", "notify", cwd=live.repo)
        live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", "nt")
        assert live.plait("up", "nt").returncode == 0
        live.ok("add", "Bad one", "--id", "bad", "--body", "x", "-p", "nt")

        # The receiver refuses: the notification is tried, and the engine dies meanwhile.
        until(lambda: hook.received, what="a first (refused) delivery")
        first_key = hook.keys()[0]
        os.kill(_engine_pid(live, "nt"), signal.SIGKILL)
        until(lambda: live.json("projects")[0]["engine"] is False, what="the engine to be gone")
        assert not hook.delivered()

        # Restarted, it sends the same notification again (same id) and it gets through.
        hook.accept()
        assert live.plait("up", "nt").returncode == 0
        [got] = hook.wait_for(1)
        assert got.headers["Idempotency-Key"] == first_key
        assert got.body["kind"] == "attention"
        assert got.body["task"] == "bad"
        assert "the tests do not build" in got.body["text"]
        assert set(hook.keys()) == {first_key}

        # A clean restart sends nothing again; a new episode is a new notification.
        assert live.plait("down", "nt").returncode == 0
        assert live.plait("up", "nt").returncode == 0
        assert live.rows("nt")["bad"]["status"] == "needs-attention"
        live.ok("send", "bad", "try once more", "-p", "nt")
        second = hook.wait_for(2)[1]
        assert live.plait("down", "nt").returncode == 0

    assert second.headers["Idempotency-Key"] != first_key
    assert len(hook.delivered()) == 2
    assert len(set(hook.keys())) == 2
    log = (live.home() / "nt" / "engine.log").read_text()
    assert "Traceback" not in log
