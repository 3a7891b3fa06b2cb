"""Text from outside (agents' output, people's messages) made safe to store and show.

`inert` makes text safe for a terminal: an agent may print control sequences (colours,
cursor moves, a title change, a bell); each control character is shown as its visible
"control picture" instead (ESC as ␛), so the sequence reads as text and does nothing.

An agent's stream is JSON, and JSON can carry a lone UTF-16 surrogate ("\\ud800") that no
UTF-8 encoder takes: printed, sent as JSON or written to a terminal it raises. Such halves
become U+FFFD REPLACEMENT CHARACTER here, once, where agent text enters plait.
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def no_surrogates(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def clean_json(value: Any) -> Any:
    """`value` (decoded JSON) with every string passed through `no_surrogates`."""
    if isinstance(value, str):
        return no_surrogates(value)
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {no_surrogates(str(k)): clean_json(v) for k, v in value.items()}
    return value


# C0 controls but tab and newline, DEL, and the C1 controls (0x80-0x9f: 0x9b is a CSI).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟ (␛ for ESC)
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\x{code:02x}"


def inert(text: str) -> str:
    """`text` with every terminal control character shown instead of obeyed."""
    return _CONTROL.sub(_picture, text) if _CONTROL.search(text) else text
