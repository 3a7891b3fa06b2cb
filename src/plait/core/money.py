"""How plait writes an amount of money: one rule for the CLI, the TUI, the headless lines
and the dashboard (whose `fmtCost` in ui/web/static/dom.js follows the same rule).

Cents from ten cents up ($1.50, $1,234.50); below that two significant digits, at least
to the cent ($0.05, $0.0025, $0.0001): a cheap turn or a small budget is not "$0.00".
"""

from __future__ import annotations

import math


def usd(value: float) -> str:
    """`value` dollars as text: "$1.50", "$0.0025", "$0.0001" ("$0.00" only for 0)."""
    if not math.isfinite(value):
        return f"${value}"
    size = abs(value)
    places = 2 if size >= 0.1 or size == 0 else max(2, 1 - math.floor(math.log10(size)))
    text = f"{size:,.{places}f}"
    if places > 2:
        text = text.rstrip("0")
        if len(text.partition(".")[2]) < 2:
            text = f"{size:,.2f}"
    return f"{'-' if value < 0 else ''}${text}"
