"""The notifier against a real webhook receiver on loopback and a real `notify-send`
stand-in on PATH: bodies, the idempotency header, retries with a cap, no waiting for real
(the sleep is recorded), and nothing sent twice for one hand-over."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from plait.core import effects as fx
from plait.core import events as ev
from plait.notify import Channels, Notifier, send_message
from plait.notify.senders import Message
from plait.testing.webhook import WebhookReceiver

ATTENTION = fx.Notify(
    id="notify/7/attention/a",
    task="a",
    kind="attention",
    title="p: task a needs attention",
    text="CI failed 3 times",
    url="http://forge/pr/1",
)


def _run(
    channels: Channels, *effects: fx.Notify, env: dict[str, str] | None = None
) -> tuple[list[ev.Event], list[float]]:
    """Hand `effects` to a notifier, let it finish; what it reported and how long it
    would have slept."""
    reported: list[ev.Event] = []
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> None:
        notifier = Notifier(channels, project="p", sleep=sleep, env=env, clock=lambda: 5.0)

        async def report(event: ev.Event) -> None:
            reported.append(event)

        serving = asyncio.ensure_future(notifier.serve(report))
        for effect in effects:
            notifier.put(effect)
        await notifier.drain(30.0)
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving

    asyncio.run(main())
    return reported, slept


def test_a_webhook_gets_the_json_body_and_the_stable_id_as_idempotency_key() -> None:
    with WebhookReceiver() as hook:
        reported, slept = _run(Channels(on=("attention",), webhook=hook.url), ATTENTION)
        [got] = hook.delivered()
    assert got.headers["Idempotency-Key"] == ATTENTION.id
    assert got.body == {
        "id": ATTENTION.id,
        "kind": "attention",
        "project": "p",
        "task": "a",
        "title": "p: task a needs attention",
        "text": "CI failed 3 times",
        "url": "http://forge/pr/1",
    }
    assert reported == [
        ev.NotificationSent(at=5.0, effect_id=ATTENTION.id, task="a", ok=True, error="")
    ]
    assert slept == []


def test_the_slack_format_is_a_text_message() -> None:
    with WebhookReceiver() as hook:
        _run(Channels(on=("attention",), webhook=hook.url, format="slack"), ATTENTION)
        [got] = hook.delivered()
    assert got.body == {
        "text": "*p: task a needs attention*\nCI failed 3 times\n<http://forge/pr/1|http://forge/pr/1>"
    }


def test_failures_are_retried_with_growing_waits_then_it_gets_through() -> None:
    with WebhookReceiver(answers=[500, 503, 429]) as hook:
        reported, slept = _run(Channels(on=("attention",), webhook=hook.url), ATTENTION)
        assert len(hook.received) == 4
        assert len(hook.delivered()) == 1
    assert slept == [1.0, 2.0, 4.0]
    assert isinstance(reported[0], ev.NotificationSent)
    assert reported[0].ok


def test_it_gives_up_after_its_retries_and_says_why() -> None:
    with WebhookReceiver(answers=[500] * 10) as hook:
        reported, slept = _run(Channels(on=("attention",), webhook=hook.url, retries=3), ATTENTION)
        assert len(hook.received) == 3
    [result] = reported
    assert isinstance(result, ev.NotificationSent)
    assert not result.ok
    assert result.error == "webhook answered HTTP 500"
    assert slept == [1.0, 2.0]


def test_a_receiver_that_refuses_is_not_asked_again() -> None:
    with WebhookReceiver(answers=[404]) as hook:
        reported, _ = _run(Channels(on=("attention",), webhook=hook.url), ATTENTION)
        assert len(hook.received) == 1
    assert isinstance(reported[0], ev.NotificationSent)
    assert not reported[0].ok


def test_one_hand_over_is_one_notification() -> None:
    with WebhookReceiver() as hook:
        reported, _ = _run(Channels(on=("attention",), webhook=hook.url), ATTENTION, ATTENTION)
        assert len(hook.received) == 1
    assert len(reported) == 1


def test_kinds_nobody_asked_for_are_not_sent() -> None:
    with WebhookReceiver() as hook:
        reported, _ = _run(Channels(on=("idle",), webhook=hook.url), ATTENTION)
        assert hook.received == []
    assert isinstance(reported[0], ev.NotificationSent)
    assert reported[0].ok


def test_a_webhook_url_can_come_from_the_environment() -> None:
    channels = Channels(on=("attention",), webhook="env:PLAIT_TEST_HOOK")
    reported, _ = _run(channels, ATTENTION, env={})
    assert isinstance(reported[0], ev.NotificationSent)
    assert reported[0].error == "webhook: PLAIT_TEST_HOOK is not set in the engine's environment"
    with WebhookReceiver() as hook:
        _run(channels, ATTENTION, env={"PLAIT_TEST_HOOK": hook.url})
        assert len(hook.delivered()) == 1


@pytest.fixture
def notify_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[list[str]]]:
    """A `notify-send` on PATH that writes its arguments down."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "notify-send.log"
    script = bin_dir / "notify-send"
    script.write_text(
        "#!/usr/bin/env python3\nimport json, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def calls() -> list[list[str]]:
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    return calls


def test_the_desktop_gets_a_popup(notify_send: Callable[[], list[list[str]]]) -> None:
    reported, _ = _run(Channels(on=("attention",), desktop=True), ATTENTION)
    assert notify_send() == [
        ["--app-name=plait", "--urgency=critical", "--", ATTENTION.title, ATTENTION.text]
    ]
    assert isinstance(reported[0], ev.NotificationSent)
    assert reported[0].ok


def test_without_notify_send_the_desktop_is_skipped_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    m = Message(id="x", kind="idle", project="p", task="", title="t", text="x")
    errors = asyncio.run(send_message(Channels(on=("idle",), desktop=True), m, sleep=_no_sleep))
    assert errors == ["notify-send is not installed"]


def _no_sleep(seconds: float) -> Awaitable[None]:
    raise AssertionError("a channel that is not installed is not tried again")
