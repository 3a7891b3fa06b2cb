"""Notifications: telling people when something wants them (desktop, webhook, bell).

The core decides *when* (`plait.core.notices`, `Notify` effects in the outbox); this
package decides *where* (`Channels`, from plait.toml's `[notify]` and the flags) and
sends (`Notifier`, run beside the engine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.lazy import attributes
from plait.notify.channels import ALL_KINDS, Channels, webhook_url

if TYPE_CHECKING:
    from plait.notify.notifier import Notifier, send_message
    from plait.notify.senders import Message, SendFailed, json_body, slack_body

# The senders (and asyncio, httpx under them) load on first use: every `plait` command
# reads a project's settings, which hold its `Channels`, and most commands send nothing.
_LATER = {
    "Notifier": "plait.notify.notifier",
    "send_message": "plait.notify.notifier",
    "Message": "plait.notify.senders",
    "SendFailed": "plait.notify.senders",
    "json_body": "plait.notify.senders",
    "slack_body": "plait.notify.senders",
}

__getattr__ = attributes(__name__, _LATER)


__all__ = [
    "ALL_KINDS",
    "Channels",
    "Message",
    "Notifier",
    "SendFailed",
    "json_body",
    "send_message",
    "slack_body",
    "webhook_url",
]
