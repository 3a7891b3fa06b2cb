"""Helpers every stream decoder shares: bounded line splitting and forgiving JSON access.

How this works: agent CLIs print one JSON object per line. `LineSplitter` cuts a byte stream
into lines without ever holding more than `max_line` bytes of an unfinished line: a longer
line is dropped up to its newline and reported once (`TOO_LONG`), so a runaway agent that
prints 100 MB without a newline costs at most `max_line` bytes of memory. The `get_*`
helpers read fields from parsed JSON without raising on a wrong shape, because a decoder
must turn anything at all into events or nothing, never into an exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Final

DEFAULT_MAX_LINE: Final = 8 * 1024 * 1024


class TooLong:
    """Marker yielded (once per line) instead of a line longer than the limit."""

    def __repr__(self) -> str:
        return "TOO_LONG"


TOO_LONG: Final = TooLong()


class LineSplitter:
    """Split a byte stream into lines (without the newline), bounded in memory."""

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        if max_line < 1:
            raise ValueError("max_line must be positive")
        self.max_line = max_line
        self._buf = bytearray()
        self._dropping = False  # inside a line already reported as too long

    @property
    def pending(self) -> int:
        """Bytes held for an unfinished line (never more than `max_line`)."""
        return len(self._buf)

    def feed(self, data: bytes) -> Iterator[bytes | TooLong]:
        start, end = 0, len(data)
        while start < end:
            nl = data.find(b"\n", start)
            stop = end if nl < 0 else nl
            if nl >= 0 and not self._buf and not self._dropping and stop - start <= self.max_line:
                yield data[start:stop]  # fast path: a whole line inside this chunk, one copy
                start = nl + 1
                continue
            if not self._dropping:
                if len(self._buf) + (stop - start) > self.max_line:
                    self._buf.clear()
                    self._dropping = True
                    yield TOO_LONG
                else:
                    self._buf += data[start:stop]
            if nl < 0:
                return
            if not self._dropping:
                yield bytes(self._buf)
            self._buf.clear()
            self._dropping = False
            start = nl + 1

    def close(self) -> Iterator[bytes | TooLong]:
        """The unterminated last line, if any."""
        if self._buf and not self._dropping:
            yield bytes(self._buf)
        self._buf.clear()
        self._dropping = False


def parse_line(line: bytes) -> tuple[str, dict[str, object] | None]:
    """(text of the line, its JSON object or None when it is not a JSON object)."""
    text = line.decode("utf-8", errors="replace").rstrip("\r")
    stripped = text.strip()
    if not stripped.startswith("{"):
        return text, None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):  # not JSON, or absurdly nested
        return text, None
    return text, value if isinstance(value, dict) else None


def get_str(obj: object, key: str, default: str = "") -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else default


def get_int(obj: object, key: str, default: int = 0) -> int:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def get_float(obj: object, key: str, default: float = 0.0) -> float:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def get_bool(obj: object, key: str, default: bool = False) -> bool:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, bool) else default


def get_dict(obj: object, key: str) -> dict[str, object]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def get_list(obj: object, key: str) -> list[object]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def clip(text: str, limit: int = 2000) -> str:
    """Shorten `text` for an event, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


# Tool inputs are shown by their most telling field, the way a person would summarize them.
_TELLING_KEYS = ("command", "cmd", "file_path", "filePath", "path", "pattern", "url", "query")


def compact_input(value: object, limit: int = 300) -> str:
    """A one-line rendering of a tool call's input (a command, a path…)."""
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, Mapping):
        for key in _TELLING_KEYS:
            field = value.get(key)
            if isinstance(field, str) and field:
                return clip(field, limit)
            if isinstance(field, list) and field and all(isinstance(x, str) for x in field):
                return clip(" ".join(str(x) for x in field), limit)
    try:
        rendered = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError):
        rendered = repr(value)
    return clip(rendered, limit)


def content_text(content: object, limit: int = 4000) -> str:
    """Text of a message/tool-result `content`: a string or a list of text blocks."""
    if isinstance(content, str):
        return clip(content, limit)
    parts: list[str] = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and isinstance(block.get("text"), str):
            parts.append(str(block["text"]))
    return clip("\n".join(parts), limit)
