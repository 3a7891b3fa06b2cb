"""Text the TUI shows: made inert, shortened, coloured by meaning.

Everything shown comes from outside (agents' output, titles, review comments), so it
passes through `inert` first: an agent may print terminal control sequences (colours,
cursor moves, a title change, a bell), and a TUI that wrote them out would let the agent
redraw or retitle the user's terminal. Each control character becomes its visible
"control picture" (ESC shows as ␛), so the sequence reads as text and does nothing.
Strings reach widgets as `rich.text.Text`, never as markup: "[red]" in a title is text.
"""

from __future__ import annotations

import time

from rich.text import Text

from plait.core.money import usd
from plait.textsafe import inert


def plain(text: object, style: str = "") -> Text:
    """A widget-ready, markup-free text."""
    return Text(inert("" if text is None else str(text)), style=style)


_STYLES = {
    "merged": "green",
    "done": "green",
    "approved": "green",
    "needs-attention": "bold red",
    "failed": "bold red",  # a mission whose restart policy gave up
    "ci-failed": "red",
    "conflicting": "red",
    "stopped": "magenta",
    "resetting": "magenta",
    "over-budget": "bold magenta",  # waits for `plait budget` to raise a limit
    "skipped": "dim",
    "waiting": "dim",
    "queued": "dim",
    "ci": "blue",
    "in-review": "blue",
    "stacked": "blue",
}


def status_style(status: str) -> str:
    """The colour of a status badge: green landed, red needs a person, yellow at work."""
    return _STYLES.get(status, "yellow")


def badge(status: str | None) -> Text:
    word = status or ""
    return Text(f"● {word}" if word else "", style=status_style(word))


def tokens(n: object) -> str:
    value = int(str(n or 0))
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return str(value)


def money(amount: object) -> str:
    value = float(str(amount or 0.0))
    if not value:
        return ""
    return usd(value)


def duration(seconds: object) -> str:
    """A task's time, short; "" only when it has none (a task that never ran)."""
    value = float(str(seconds or 0.0))
    s = int(value)
    if s < 60:
        return f"{s}s" if s else "<1s" if value > 0 else ""
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def size(n: object) -> str:
    if n is None:
        return ""
    value = float(str(n))
    for unit in ("B", "K", "M", "G"):
        if value < 1024 or unit == "G":
            return f"{value:.0f}{unit}" if unit != "G" else f"{value:.1f}G"
        value /= 1024
    return ""


def clock(at: object) -> str:
    """The local time of day of a timestamp."""
    return time.strftime("%H:%M:%S", time.localtime(float(str(at or 0))))
