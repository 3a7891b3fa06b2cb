"""Notifications: telling people when something wants them (desktop, webhook, bell).

The core decides *when* (`plait.core.notices`, `Notify` effects in the outbox); this
package decides *where* (`Channels`, from plait.toml's `[notify]` and the flags) and
sends (`Notifier`, run beside the engine).
"""

from plait.notify.channels import ALL_KINDS, Channels, webhook_url
from plait.notify.notifier import Notifier, send_message
from plait.notify.senders import Message, SendFailed, json_body, slack_body

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
