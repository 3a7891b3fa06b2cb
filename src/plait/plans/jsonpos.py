"""A small JSON reader that remembers where values were written.

How this works: `read_json` is a recursive-descent reader that builds plain Python values,
exactly as `json.loads` would, and records the character offset of every container, object
key and array item in side tables keyed by the container's `id()`. `Located.line_of` turns
an offset into a 1-based line by binary search over newline offsets, so a line costs
nothing until a message needs one.

Tracking every token in Python is slow for a 10,000-task plan, so `track_depth` limits it:
containers nested deeper than that, and all scalars, are decoded by the standard library's
C decoder, which still reports exact offsets for syntax errors. `Located.exact` says
whether every container was tracked; callers that find a problem in a shallow read read
again with full tracking to name exact lines (an error path, so the second pass is free
where it matters).

Unlike `json.loads`, duplicate keys are reported (the last value wins, as in `json`); one
in an untracked part makes the read fall back to full tracking so it can be located.

Nesting is limited to `MAX_NESTING` levels (the top value is level 1), checked before
reading: both readers recurse, and how deep they can go would otherwise depend on how much
stack the caller already uses. Gameplans nest about six levels.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from itertools import accumulate

_WS = re.compile(r"[ \t\n\r]*")
# Strings without escapes or control characters, the common case, skip `scanstring`.
_PLAIN_STRING = re.compile(r'"([^"\\\x00-\x1f]*)"')
_PLAIN_KEY = re.compile(r'"([^"\\\x00-\x1f]*)"[ \t\n\r]*:[ \t\n\r]*')
_COLON = re.compile(r"[ \t\n\r]*:[ \t\n\r]*")
_OBJECT_SEP = re.compile(r"[ \t\n\r]*([,}])[ \t\n\r]*")
_ARRAY_SEP = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")
# Gameplans nest about six levels; deeper containers go to the C decoder untracked.
_MAX_DEPTH = 64
# Far below the interpreter's recursion limit (1,000), even with the tracking reader's
# two frames per level and a deep caller.
MAX_NESTING = 100
# A string, or an unterminated one up to the end of its line (JSON strings hold no raw
# newline): so a failed match is never retried from the next quote on the same line.
_STRING = re.compile(r'"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+"|"[^\n]*+')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_OR_STRING = re.compile(rf"{_STRING.pattern}|[\[\]{{}}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class _UntrackedDuplicate(Exception):
    """A duplicate key where positions are not tracked: read again, tracking everything."""


class _Constant(Exception):
    """NaN or Infinity, which Python's decoder accepts and JSON does not."""


def _pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _UntrackedDuplicate
    return result


def _constant(name: str) -> object:
    raise _Constant(name)


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)


class JsonSyntaxError(Exception):
    """Text that is not JSON. `pos` is the offset of the trouble."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class JsonTooDeep(JsonSyntaxError):
    """JSON nested deeper than `MAX_NESTING`. `pos` is the bracket that goes too deep."""


@dataclass(slots=True)
class Located:
    """A parsed document plus where each part of it was written."""

    value: object
    text: str
    starts: dict[int, int] = field(default_factory=dict)
    keys: dict[int, dict[str, int]] = field(default_factory=dict)
    items: dict[int, list[int]] = field(default_factory=dict)
    duplicates: list[tuple[str, int, int]] = field(default_factory=list)
    # Containers replaced by a duplicate key must stay alive, or a new container could
    # reuse their id() while their entries are still in the tables.
    keep: list[object] = field(default_factory=list)
    exact: bool = True
    _newlines: list[int] | None = None

    def line_of(self, pos: int) -> int:
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        return bisect.bisect_left(self._newlines, pos) + 1

    def line(self, container: object) -> int:
        """Line where an object or array starts (0 if it was not read from the text)."""
        pos = self.starts.get(id(container))
        return self.line_of(pos) if pos is not None else 0

    def key_line(self, obj: dict[str, object], key: str, default: int = 0) -> int:
        pos = self.keys.get(id(obj), {}).get(key)
        return self.line_of(pos) if pos is not None else default

    def item_line(self, arr: list[object], index: int, default: int = 0) -> int:
        positions = self.items.get(id(arr), [])
        return self.line_of(positions[index]) if index < len(positions) else default


def read_json(text: str, *, track_depth: int | None = None) -> Located:
    """Parse `text` as one JSON document; raise `JsonSyntaxError` if it is not JSON.

    `track_depth` is how many levels of containers get positions (the top value is level
    1); None tracks them all.
    """
    too_deep = _too_deep_at(text)
    if too_deep is not None:
        raise JsonTooDeep(f"nested deeper than {MAX_NESTING} levels", too_deep)
    if track_depth is not None and track_depth < _MAX_DEPTH:
        try:
            return _read(text, track_depth)
        except _UntrackedDuplicate:
            pass
    return _read(text, _MAX_DEPTH)


def _too_deep_at(text: str) -> int | None:
    """Where nesting first passes `MAX_NESTING`, if it does (brackets in strings ignored)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if len(brackets) <= MAX_NESTING or max(accumulate(map(_STEP.__getitem__, brackets))) <= (
        MAX_NESTING
    ):
        return None
    depth = 0  # the rare case: find the place, token by token
    for token in _BRACKET_OR_STRING.finditer(text):
        depth += _STEP.get(token.group(), 0)
        if depth > MAX_NESTING:
            return token.start()
    return None


def _read(text: str, track_depth: int) -> Located:
    doc = Located(value=None, text=text, exact=track_depth >= _MAX_DEPTH)
    reader = _Reader(text, doc, track_depth)
    pos = reader.skip_ws(0)
    doc.value, pos = reader.value(pos, 0)
    pos = reader.skip_ws(pos)
    if pos != len(text):
        raise JsonSyntaxError("extra data after the JSON document", pos)
    return doc


class _Reader:
    """Each step matches one regex (a key with its colon, a separator with its whitespace),
    because the per-call overhead, not the matching, is what costs in Python."""

    def __init__(self, text: str, doc: Located, track_depth: int) -> None:
        self.text = text
        self.doc = doc
        self.track_depth = track_depth

    def skip_ws(self, pos: int) -> int:
        match = _WS.match(self.text, pos)
        return match.end() if match else pos

    def value(self, pos: int, depth: int) -> tuple[object, int]:
        char = self.text[pos : pos + 1]
        if depth < self.track_depth:
            if char == "{":
                return self.obj(pos, depth + 1)
            if char == "[":
                return self.arr(pos, depth + 1)
        if char == '"':
            return self.string(pos)
        return self.decode(pos)

    def string(self, pos: int) -> tuple[str, int]:
        plain = _PLAIN_STRING.match(self.text, pos)
        if plain:
            return plain.group(1), plain.end()
        found, end = self.decode(pos)
        assert isinstance(found, str)
        return found, end

    def decode(self, pos: int) -> tuple[object, int]:
        """Any value, untracked, by the C decoder."""
        try:
            found: object
            found, end = _DECODER.raw_decode(self.text, pos)
        except json.JSONDecodeError as exc:
            message = exc.msg[:1].lower() + exc.msg[1:]
            raise JsonSyntaxError(message, exc.pos) from None
        except RecursionError:
            raise JsonSyntaxError("nested too deep", pos) from None
        except _Constant as exc:
            raise JsonSyntaxError(f"{exc} is not a JSON value", pos) from None
        except ValueError:  # Python refuses ints of more than 4300 digits
            raise JsonSyntaxError("number too large", pos) from None
        return found, end

    def key(self, pos: int) -> tuple[str, int]:
        """A key and its colon; returns the key and where its value starts."""
        plain = _PLAIN_KEY.match(self.text, pos)
        if plain:
            return plain.group(1), plain.end()
        if not self.text.startswith('"', pos):
            raise JsonSyntaxError("expected a key in double quotes", pos)
        key, pos = self.string(pos)
        colon = _COLON.match(self.text, pos)
        if not colon:
            raise JsonSyntaxError("expected ':' after a key", self.skip_ws(pos))
        return key, colon.end()

    def obj(self, start: int, depth: int) -> tuple[dict[str, object], int]:
        result: dict[str, object] = {}
        key_pos: dict[str, int] = {}
        doc = self.doc
        doc.starts[id(result)] = start
        doc.keys[id(result)] = key_pos
        doc.keep.append(result)
        pos = self.skip_ws(start + 1)
        if self.text.startswith("}", pos):
            return result, pos + 1
        while True:
            key, value_pos = self.key(pos)
            if key in key_pos:
                doc.duplicates.append((key, key_pos[key], pos))
            key_pos[key] = pos
            result[key], pos = self.value(value_pos, depth)
            sep = _OBJECT_SEP.match(self.text, pos)
            if not sep:
                raise JsonSyntaxError("expected ',' or '}' in an object", self.skip_ws(pos))
            if sep.group(1) == "}":
                return result, sep.end()
            pos = sep.end()

    def arr(self, start: int, depth: int) -> tuple[list[object], int]:
        result: list[object] = []
        item_pos: list[int] = []
        doc = self.doc
        doc.starts[id(result)] = start
        doc.items[id(result)] = item_pos
        doc.keep.append(result)
        pos = self.skip_ws(start + 1)
        if self.text.startswith("]", pos):
            return result, pos + 1
        while True:
            item_pos.append(pos)
            item, pos = self.value(pos, depth)
            result.append(item)
            sep = _ARRAY_SEP.match(self.text, pos)
            if not sep:
                raise JsonSyntaxError("expected ',' or ']' in an array", self.skip_ws(pos))
            if sep.group(1) == "]":
                return result, sep.end()
            pos = sep.end()
