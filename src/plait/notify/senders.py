"""The two ways a notification leaves plait: a webhook POST and a desktop popup.

Hand-written rather than through a notification library (apprise was the candidate):
each sender is a few lines over what plait already has (httpx, asyncio subprocesses), it
must carry the notification's stable id as an `Idempotency-Key` header so a receiver can
drop the resend that follows a crash, and it must never block the engine's event loop —
apprise sends synchronously (requests) and reaches the desktop through D-Bus bindings
rather than `notify-send`, so it would need a thread pool and more dependencies for less
control over the body, the header and the timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    id: str  # stable: the same for a resend
    kind: str
    project: str
    task: str
    title: str
    text: str
    url: str = ""


class SendFailed(Exception):
    """A channel refused or did not answer. `final`: trying again cannot help."""

    def __init__(self, reason: str, *, final: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final


def json_body(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "kind": m.kind,
        "project": m.project,
        "task": m.task or None,
        "title": m.title,
        "text": m.text,
        "url": m.url or None,
    }


def slack_body(m: Message) -> dict[str, Any]:
    """Slack's incoming-webhook shape (also read by Mattermost, Discord's /slack, …)."""
    link = f"\n<{m.url}|{m.url}>" if m.url else ""
    return {"text": f"*{_slack_escape(m.title)}*\n{_slack_escape(m.text)}{link}"}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def post_webhook(
    client: httpx.AsyncClient, url: str, m: Message, *, fmt: str, timeout: float
) -> None:
    import httpx  # here: `plait ps` and the like import this package and send nothing

    body = slack_body(m) if fmt == "slack" else json_body(m)
    headers = {"Idempotency-Key": m.id, "User-Agent": "plait"}
    try:
        reply = await client.post(url, json=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise SendFailed(f"webhook: {type(exc).__name__}: {exc}") from None
    if reply.is_success:
        return
    # A client error other than a timeout or a rate limit is the receiver saying no.
    final = 400 <= reply.status_code < 500 and reply.status_code not in (408, 429)
    raise SendFailed(f"webhook answered HTTP {reply.status_code}", final=final)


async def show_desktop(m: Message, *, timeout: float, program: str = "notify-send") -> None:
    path = shutil.which(program)
    if path is None:
        raise SendFailed(f"{program} is not installed", final=True)
    urgency = "critical" if m.kind in ("attention", "budget") else "normal"
    argv = [path, "--app-name=plait", f"--urgency={urgency}", "--", m.title, m.text]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            _, err = await proc.communicate()
    except TimeoutError:
        raise SendFailed(f"{program} did not finish within {timeout:g}s") from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip()[-300:]
        raise SendFailed(f"{program} failed (exit {proc.returncode}): {detail}")
