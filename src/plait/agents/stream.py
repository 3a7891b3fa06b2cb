"""Helpers every stream decoder shares: bounded line splitting and forgiving JSON access.

How this works: agent CLIs print one JSON object per line. `LineSplitter` cuts a byte stream
into lines without ever holding more than `max_line` bytes of an unfinished line: a longer
line is dropped up to its newline and reported once (`TOO_LONG`), so a runaway agent that
prints 100 MB without a newline costs at most `max_line` bytes of memory. The `get_*`
helpers read fields from parsed JSON without raising on a wrong shape, because a decoder
must turn anything at all into events or nothing, never into an exception.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Final, TypeVar, cast

import msgspec

from plait.agents.base import (
    AgentErrorEvent,
    AgentEvent,
    FinalResult,
    Garbage,
    SessionStarted,
    TextOut,
    ToolCall,
    ToolResult,
    UsageReport,
)
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
_OPEN, _CLOSE = ord("{"), ord("}")


def parse_line(line: bytes) -> tuple[str, dict[str, object] | None]:
    """(text of the line, its JSON object or None when it is not a JSON object)."""
    if line and line[0] == _OPEN and line[-1] == _CLOSE:
        # The common case: nothing to strip, so the line is the JSON document itself.
        try:
            text = line.decode()
            value: dict[str, object] = _fast_decode(line)
        except (UnicodeDecodeError, msgspec.DecodeError, RecursionError):
            pass  # decoded the forgiving way below
        else:
            return text, value
    text = line.decode("utf-8", errors="replace").rstrip("\r")
    stripped = text.strip()
    if not stripped.startswith("{"):
        return text, None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):  # not JSON, or absurdly nested
        return text, None
    return text, value if isinstance(value, dict) else None


T = TypeVar("T")


def fast_new(cls: type[T]) -> type[T]:
    """A maker that builds `cls` instances exactly as `cls(**fields)` does, faster.

    A frozen dataclass's `__init__` sets each field through `object.__setattr__` (plain
    assignment is forbidden), which made building events a third of decoding time (P6).
    The maker sets the slots through their descriptors instead. It is used only where
    that is the whole of `__init__`: a slotted dataclass whose fields all take plain
    defaults or none, without `__post_init__`; otherwise `cls` itself is returned. Typed
    as the class so calls are checked like constructor calls; never use it in isinstance.
    """
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        return cls
    if not cls.__dataclass_params__.init:  # type: ignore[attr-defined]  # its own __init__
        return cls
    params, body = [], []
    env: dict[str, object] = {"_new": object.__new__, "_cls": cls}
    for field in dataclasses.fields(cls):
        slot = getattr(cls, field.name, None)  # a slot of `cls` or of a base class
        if not field.init or field.default_factory is not dataclasses.MISSING:
            return cls
        if not isinstance(slot, types.MemberDescriptorType):
            return cls
        env[f"_set_{field.name}"] = slot.__set__
        if field.default is dataclasses.MISSING:
            params.append(field.name)
        else:
            env[f"_default_{field.name}"] = field.default
            params.append(f"{field.name}=_default_{field.name}")
        body.append(f"    _set_{field.name}(o, {field.name})\n")
    source = f"def make(*, {', '.join(params)}):\n    o = _new(_cls)\n{''.join(body)}    return o\n"
    exec(source, env)  # noqa: S102 -- the names are the dataclass's own field names
    return cast(type[T], env["make"])


new_session_started = fast_new(SessionStarted)
new_text_out = fast_new(TextOut)
new_tool_call = fast_new(ToolCall)
new_tool_result = fast_new(ToolResult)
new_usage_report = fast_new(UsageReport)
new_final_result = fast_new(FinalResult)
new_error_event = fast_new(AgentErrorEvent)
new_usage = fast_new(Usage)


Handler = Callable[[dict[str, object], str, list[AgentEvent]], None]


class JsonLineDecoder:
    """The loop every JSON-lines decoder shares: split, parse, hand each object on.

    Subclasses fill `_handlers` (event "type" → method appending events to `out`) and may
    set `_watch`, called first with every object whatever its type. Handlers append to a
    list that `feed` yields once the chunk is decoded: one generator per chunk instead of
    a chain of generators per line. This loop is the hot path of P6, hence `parse_line`
    inlined.
    """

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self._lines = LineSplitter(max_line)
        self._handlers: dict[str, Handler] = {}
        self._watch: Handler | None = None

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
        handlers, watch, fast_decode = self._handlers, self._watch, _fast_decode
        for line in lines:
            obj: dict[str, object] | None = None
            # parse_line's fast path, inlined (0x7B, 0x7D: "{", "}" as literals, not globals)
            if isinstance(line, bytes) and line and line[0] == 0x7B and line[-1] == 0x7D:
                try:
                    text = line.decode()
                    obj = fast_decode(line)
                except (UnicodeDecodeError, msgspec.DecodeError, RecursionError):
                    obj = None
            if obj is None:
                if isinstance(line, TooLong):
                    limit = self._lines.max_line
                    out.append(Garbage(text=f"[a line longer than {limit} bytes was dropped]"))
                    continue
                text, obj = parse_line(line)
                if obj is None:
                    if text.strip():
                        out.append(Garbage(text=clip(text), raw=clip(text, 10_000)))
                    continue
            if watch is not None:
                watch(obj, text, out)
            try:
                handler = handlers.get(obj.get("type"))  # type: ignore[call-overload]
            except TypeError:  # a "type" of the wrong shape (a list…): no handler
                continue
            if handler is not None:
                handler(obj, text, out)


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
