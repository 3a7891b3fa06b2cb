"""Where notifications go, as plait.toml's `[notify]` and the flags say.

A webhook URL that carries a secret (Slack's do) is best written `env:NAME`: the URL is
read from that environment variable each time a notification goes out, so it never sits
in the project's store or in the repository.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from plait.core.notices import ALL_KINDS


@dataclass(frozen=True, slots=True, kw_only=True)
class Channels:
    on: tuple[str, ...] = ()  # the kinds people want to hear about; empty: none
    desktop: bool = False  # notify-send, where it is installed
    bell: bool = True  # the TUI rings the terminal bell
    webhook: str = ""  # an http(s) URL or env:NAME; "" for none
    format: str = "json"  # json (plait's own body) | slack (Slack's incoming webhooks)
    timeout: float = 10.0  # seconds per attempt
    retries: int = 5  # attempts per channel before giving up

    @property
    def enabled(self) -> bool:
        return bool(self.on)

    def wants(self, kind: str) -> bool:
        return kind in self.on


def webhook_url(spec: str, env: Mapping[str, str] | None = None) -> str:
    """The URL a webhook setting names ("" when `env:NAME` is not set)."""
    if spec.startswith("env:"):
        return (os.environ if env is None else env).get(spec[4:], "").strip()
    return spec


__all__ = ["ALL_KINDS", "Channels", "webhook_url"]
