"""A small JSON reader that remembers where every value was written.

How this works: `read_json` is a recursive-descent reader over the text that builds plain
Python values (dict, list, str, int, float, bool, None), exactly as `json.loads` would, and
records the character offset of every container, every object key and every array item in
side tables keyed by the container's `id()`. `Located.line_of` turns an offset into a 1-based
line with a binary search over newline offsets, so line numbers cost nothing until a
message needs one. Strings are decoded by the C `scanstring` the standard library uses, and
numbers are matched with one regex, which keeps a 10,000-task plan well under a second.

Unlike `json.loads`, duplicate keys are reported (the last value wins, as in `json`), and
nesting is bounded so hostile input cannot exhaust the stack.
"""

from __future__ import annotations

import bisect
import json
import re
from _json import scanstring  # the C string decoder json.loads itself uses
from dataclasses import dataclass, field

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_MAX_DEPTH = 200


class JsonSyntaxError(Exception):
    """Text that is not JSON. `pos` is the offset of the trouble."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


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


def read_json(text: str) -> Located:
    """Parse `text` as one JSON document; raise `JsonSyntaxError` if it is not JSON."""
    doc = Located(value=None, text=text)
    reader = _Reader(text, doc)
    pos = reader.skip_ws(0)
    doc.value, pos = reader.value(pos, 0)
    pos = reader.skip_ws(pos)
    if pos != len(text):
        raise JsonSyntaxError("extra data after the JSON document", pos)
    return doc


class _Reader:
    def __init__(self, text: str, doc: Located) -> None:
        self.text = text
        self.doc = doc

    def skip_ws(self, pos: int) -> int:
        match = _WS.match(self.text, pos)
        return match.end() if match else pos

    def value(self, pos: int, depth: int) -> tuple[object, int]:
        text = self.text
        char = text[pos : pos + 1]
        if char == '"':
            return self.string(pos)
        if char == "{":
            return self.obj(pos, depth + 1)
        if char == "[":
            return self.arr(pos, depth + 1)
        for word, literal in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, pos):
                return literal, pos + len(word)
        match = _NUMBER.match(text, pos)
        if match:
            return self.number(match), match.end()
        if not char:
            raise JsonSyntaxError("unexpected end of file: expected a value", pos)
        raise JsonSyntaxError(f"expected a value, found {char!r}", pos)

    def string(self, pos: int) -> tuple[str, int]:
        try:
            return scanstring(self.text, pos + 1, True)
        except json.JSONDecodeError as exc:
            raise JsonSyntaxError(exc.msg.lower(), exc.pos) from None

    def number(self, match: re.Match[str]) -> int | float:
        whole, frac, exp = match.groups()
        try:
            if frac or exp:
                return float(match.group())
            return int(whole)
        except ValueError:  # Python refuses ints of more than 4300 digits
            raise JsonSyntaxError("number too large", match.start()) from None

    def obj(self, start: int, depth: int) -> tuple[dict[str, object], int]:
        self._check_depth(start, depth)
        result: dict[str, object] = {}
        key_pos: dict[str, int] = {}
        self.doc.starts[id(result)] = start
        self.doc.keys[id(result)] = key_pos
        self.doc.keep.append(result)
        pos = self.skip_ws(start + 1)
        if self.text.startswith("}", pos):
            return result, pos + 1
        while True:
            if not self.text.startswith('"', pos):
                raise JsonSyntaxError("expected a key in double quotes", pos)
            key, after = self.string(pos)
            if key in key_pos:
                self.doc.duplicates.append((key, key_pos[key], pos))
            key_pos[key] = pos
            pos = self.skip_ws(after)
            if not self.text.startswith(":", pos):
                raise JsonSyntaxError("expected ':' after a key", pos)
            pos = self.skip_ws(pos + 1)
            result[key], pos = self.value(pos, depth)
            pos = self.skip_ws(pos)
            if self.text.startswith("}", pos):
                return result, pos + 1
            if not self.text.startswith(",", pos):
                raise JsonSyntaxError("expected ',' or '}' in an object", pos)
            pos = self.skip_ws(pos + 1)

    def arr(self, start: int, depth: int) -> tuple[list[object], int]:
        self._check_depth(start, depth)
        result: list[object] = []
        item_pos: list[int] = []
        self.doc.starts[id(result)] = start
        self.doc.items[id(result)] = item_pos
        self.doc.keep.append(result)
        pos = self.skip_ws(start + 1)
        if self.text.startswith("]", pos):
            return result, pos + 1
        while True:
            item_pos.append(pos)
            item, pos = self.value(pos, depth)
            result.append(item)
            pos = self.skip_ws(pos)
            if self.text.startswith("]", pos):
                return result, pos + 1
            if not self.text.startswith(",", pos):
                raise JsonSyntaxError("expected ',' or ']' in an array", pos)
            pos = self.skip_ws(pos + 1)

    def _check_depth(self, pos: int, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise JsonSyntaxError(f"nested more than {_MAX_DEPTH} levels deep", pos)
