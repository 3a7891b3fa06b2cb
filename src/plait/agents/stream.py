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
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Final

import msgspec

from plait.agents.events import AgentEvent, Garbage
from plait.core.model import Usage

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
        yield from self.split(data)

    def split(self, data: bytes) -> list[bytes | TooLong]:
        """The lines `data` completes, in order (`feed`, as a list: one C-level split of
        the whole chunk instead of a search per line)."""
        parts: list[bytes] = data.split(b"\n")
        tail = parts.pop()  # after the last newline: the start of an unfinished line
        lines: list[bytes | TooLong] = []
        if parts:
            if self._buf or self._dropping:
                head = self._finish(parts[0])
                if head is not None:
                    lines.append(head)
                del parts[0]
            if len(data) > self.max_line and max(map(len, parts), default=0) > self.max_line:
                lines += [p if len(p) <= self.max_line else TOO_LONG for p in parts]
            else:
                lines += parts
        if tail and not self._dropping:
            if len(self._buf) + len(tail) > self.max_line:
                self._buf.clear()
                self._dropping = True
                lines.append(TOO_LONG)
            else:
                self._buf += tail
        return lines

    def _finish(self, head: bytes) -> bytes | TooLong | None:
        """The held line completed by `head` (None: it was already reported too long)."""
        line: bytes | TooLong | None = None
        if not self._dropping:
            too_long = len(self._buf) + len(head) > self.max_line
            line = TOO_LONG if too_long else bytes(self._buf) + head
        self._buf.clear()
        self._dropping = False
        return line

    def close(self) -> Iterator[bytes | TooLong]:
        """The unterminated last line, if any."""
        if self._buf and not self._dropping:
            yield bytes(self._buf)
        self._buf.clear()
        self._dropping = False


# msgspec's JSON decoder takes bytes and is 2-3x faster than `json.loads` on event lines.
# Whatever it accepts, `json` decodes to an equal object (its only differences are inputs
# it rejects and `json` accepts: NaN/Infinity, lone surrogate escapes, out-of-range
# floats), so a line it rejects is decided by `json`, exactly as before.
_fast_decode = msgspec.json.Decoder().decode


_FAST_FAILS = (UnicodeDecodeError, msgspec.DecodeError, RecursionError)


def parse_line(line: bytes) -> tuple[str, dict[str, object] | None]:
    """(text of the line, its JSON object or None when it is not a JSON object)."""
    if line[:1] == b"{" and line[-1:] == b"}":
        # The common case: nothing to strip, so the line is the JSON document itself.
        try:
            return line.decode(), _fast_decode(line)
        except _FAST_FAILS:
            pass  # decided the forgiving way below
    return _parse_forgiving(line)


def _parse_forgiving(line: bytes) -> tuple[str, dict[str, object] | None]:
    """`parse_line` for a line that is not plainly one JSON object: stripped, repaired."""
    text = line.decode("utf-8", errors="replace").rstrip("\r")
    stripped = text.strip()
    if not stripped.startswith("{"):
        return text, None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):  # not JSON, or absurdly nested
        return text, None
    return text, value if isinstance(value, dict) else None


# A handler reads one event object and appends what it means to `out`. The first argument
# is the decoder (handlers are its methods, kept unbound in a class-level table).
Handler = Callable[[Any, dict[str, object], str, list[AgentEvent]], None]


def handler_table(handlers: Mapping[str, Handler]) -> Mapping[str, Handler]:
    """A decoder class's handlers: one table, read-only, shared by all its decoders."""
    return dict(handlers)


class JsonLineDecoder:
    """The loop every JSON-lines decoder shares: split, parse, hand each object on.

    A subclass names its handlers in `handlers` (event "type" → method), may set `watch`
    (called first with every object whatever its type), sets its per-stream state in
    `_reset` and synthesizes end-of-stream events in `_end`. Handlers append to a list
    that `feed` yields once the chunk is decoded: one generator per chunk instead of a
    chain of generators per line (this loop is the hot path of P6). `clock` (epoch
    seconds) dates the reset times of rate limits that say "in N minutes".
    """

    handlers: ClassVar[Mapping[str, Handler]] = {}
    watch: ClassVar[Handler | None] = None

    def __init__(
        self, *, max_line: int = DEFAULT_MAX_LINE, clock: Callable[[], float] | None = time.time
    ) -> None:
        self._lines = LineSplitter(max_line)
        self._clock = clock
        # What the stream has said so far: the CLIs that print no final result event get
        # theirs synthesized from these at end of stream.
        self._session = ""
        self._text = ""
        self._usage = Usage()
        self._turns = 0
        self._reset()

    def _reset(self) -> None:
        """Set the state a new stream starts from (none by default)."""

    def feed(self, data: bytes) -> Iterator[AgentEvent]:
        out: list[AgentEvent] = []
        self._decode(self._lines.split(data), out)
        yield from out

    def close(self) -> Iterator[AgentEvent]:
        out: list[AgentEvent] = []
        self._decode(self._lines.close(), out)
        self._end(out)
        yield from out

    def _end(self, out: list[AgentEvent]) -> None:
        """Events synthesized at end of stream (none by default)."""

    def _decode(self, lines: Iterable[bytes | TooLong], out: list[AgentEvent]) -> None:
        handlers, watch, decode = self.handlers, self.watch, _fast_decode
        obj: dict[str, object] | None
        for line in lines:
            if line.__class__ is bytes and line[:1] == b"{" and line[-1:] == b"}":
                # `parse_line`'s common case, inline: a call and a tuple less per line.
                try:
                    text = line.decode()
                    obj = decode(line)
                except _FAST_FAILS:
                    text, obj = _parse_forgiving(line)
            elif isinstance(line, TooLong):
                limit = self._lines.max_line
                out.append(Garbage(text=f"[a line longer than {limit} bytes was dropped]"))
                continue
            elif line.__class__ is bytes:
                text, obj = _parse_forgiving(line)  # not plainly one object: see parse_line
            else:
                text, obj = parse_line(line)
            if obj is None:
                if text.strip():
                    out.append(Garbage(text=clip(text), raw=clip(text, 10_000)))
                continue
            if watch is not None:
                watch(obj, text, out)
            kind = obj.get("type")
            # Only a string names a handler (a list or a dict in "type" is not hashable).
            handler = handlers.get(kind) if kind.__class__ is str else None
            if handler is not None:
                handler(self, obj, text, out)


def get_str(obj: object, key: str, default: str = "") -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else default


# A tuple, not `int | float`: that expression would build a union object on every call.
_NUMBER = (int, float)
_MAPPING = (dict, Mapping)  # dict first: the ABC check alone is slow


def get_int(obj: object, key: str, default: int = 0) -> int:
    value = obj.get(key) if isinstance(obj, dict) else None
    if value.__class__ is int:  # the common case (a bool's class is bool)
        return value
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        return default
    try:
        return int(value)
    except (OverflowError, ValueError):  # json reads Infinity, NaN and 1e400 as floats
        return default


def get_float(obj: object, key: str, default: float = 0.0) -> float:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
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
    if isinstance(value, _MAPPING):
        for key in _TELLING_KEYS:
            field = value.get(key)
            if isinstance(field, str) and field:
                return field if len(field) <= limit else clip(field, limit)
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
        elif isinstance(block, _MAPPING) and isinstance(block.get("text"), str):
            parts.append(str(block["text"]))
    return clip("\n".join(parts), limit)
