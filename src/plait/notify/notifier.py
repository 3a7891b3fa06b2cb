"""The notifier: sends the `Notify` effects the core decided, beside the engine, never in
its way.

How this works. The engine hands each `Notify` effect over (`put`, which never waits) once
its decision is committed, and again after a restart while its outbox row is pending.
Each goes out on its own task, bounded by a semaphore, to every channel the settings name;
a channel that fails is tried again after 1, 2, 4… seconds (at most a minute apart) up to
`retries` times, with a timeout on every attempt, and a channel that succeeded is not sent
to again. Then the notifier reports `NotificationSent` (ok, or the errors) to the engine,
whose commit closes the outbox row. A crash between sending and that commit sends again
with the same id, which the webhook carries as `Idempotency-Key`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from plait.core import effects as fx
from plait.core import events as ev
from plait.notify.channels import Channels, webhook_url
from plait.notify.senders import Message, SendFailed, post_webhook, show_desktop

log = logging.getLogger(__name__)

Report = Callable[[ev.Event], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]
Send = Callable[[Message], Awaitable[None]]
_MAX_WAIT = 60.0


class Notifier:
    def __init__(
        self,
        channels: Channels | None = None,
        *,
        project: str = "",
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
        env: Mapping[str, str] | None = None,
        concurrency: int = 4,
    ) -> None:
        self.channels = channels or Channels()
        self.project = project
        self.clock = clock
        self.sleep = sleep
        self.env = env
        self._queue: asyncio.Queue[fx.Notify] = asyncio.Queue()
        self._taken: set[str] = set()  # ids handed over and not reported yet
        self._limit = asyncio.Semaphore(concurrency)
        self._settled = asyncio.Event()
        self._settled.set()

    # ---- the engine's side ------------------------------------------------------------
    def put(self, effect: fx.Notify) -> None:
        """Take a notification to send (a second hand-over of the same id is ignored)."""
        if effect.id in self._taken:
            return
        self._taken.add(effect.id)
        self._settled.clear()
        self._queue.put_nowait(effect)

    async def serve(self, report: Report) -> None:
        """Send what is handed over until cancelled."""
        async with asyncio.TaskGroup() as tg:
            while True:
                effect = await self._queue.get()
                tg.create_task(self._deliver(effect, report))

    async def drain(self, timeout: float) -> None:
        """Wait (at most `timeout`) until everything handed over has been reported."""
        try:
            async with asyncio.timeout(timeout):
                await self._settled.wait()
        except TimeoutError:
            log.warning("%d notification(s) still unsent; they go out at the next start",
                        len(self._taken))  # fmt: skip

    # ---- sending ------------------------------------------------------------------------
    async def _deliver(self, effect: fx.Notify, report: Report) -> None:
        try:
            async with self._limit:
                errors = await send_message(
                    self.channels, self._message(effect), env=self.env, sleep=self.sleep
                )
            result = ev.NotificationSent(
                at=self.clock(),
                effect_id=effect.id,
                task=effect.task,
                ok=not errors,
                error="; ".join(errors),
            )
            await report(result)
        finally:
            self._taken.discard(effect.id)
            if not self._taken:
                self._settled.set()

    def _message(self, effect: fx.Notify) -> Message:
        return Message(
            id=effect.id,
            kind=effect.kind,
            project=self.project,
            task=effect.task,
            title=effect.title,
            text=effect.text,
            url=effect.url,
        )


async def send_message(
    channels: Channels,
    m: Message,
    *,
    env: Mapping[str, str] | None = None,
    sleep: Sleep = asyncio.sleep,
) -> list[str]:
    """Send `m` on every channel that wants it, each with its retries; the errors of the
    channels that failed in the end (empty: all went out)."""
    if not channels.wants(m.kind):
        return []
    sends: dict[str, Send] = {}
    if channels.webhook:
        url = webhook_url(channels.webhook, env)
        if not url:
            return [f"webhook: {channels.webhook[4:]} is not set in the engine's environment"]
        sends["webhook"] = lambda m: _post(channels, url, m)
    if channels.desktop:
        sends["desktop"] = lambda m: show_desktop(m, timeout=channels.timeout)
    errors = []
    for name, send in sends.items():
        error = await _with_retries(channels, name, send, m, sleep)
        if error:
            errors.append(error)
    return errors


async def _post(channels: Channels, url: str, m: Message) -> None:
    import httpx  # here: `plait ps` and the like import this package and send nothing

    async with httpx.AsyncClient(trust_env=False) as client:
        await post_webhook(client, url, m, fmt=channels.format, timeout=channels.timeout)


async def _with_retries(channels: Channels, name: str, send: Send, m: Message, sleep: Sleep) -> str:
    """ "" once `send` succeeded; else the last error, after the retries ran out."""
    wait = 1.0
    for attempt in range(1, channels.retries + 1):
        try:
            async with asyncio.timeout(channels.timeout + 1.0):
                await send(m)
            return ""
        except (SendFailed, TimeoutError, OSError) as exc:
            reason = exc.reason if isinstance(exc, SendFailed) else f"{name}: {exc!r}"
            final = isinstance(exc, SendFailed) and exc.final
            if final or attempt == channels.retries:
                log.warning("notification %s (%s) not sent by %s after %d attempt(s): %s",
                            m.id, m.title, name, attempt, reason)  # fmt: skip
                return reason
            log.info("notification %s: %s; trying again in %gs", m.id, reason, wait)
        await sleep(wait)
        wait = min(_MAX_WAIT, wait * 2)
    return ""
