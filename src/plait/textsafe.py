"""Text from outside (agents' output, people's messages) made safe to store and show.

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
