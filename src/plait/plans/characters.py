"""Characters a plan may not hold, found with their place in the file.

Everything in a plan ends up in git (commit messages, branch names), in argv (prompts), in
a terminal (titles, logs) or in SQLite. A lone UTF-16 surrogate (JSON `"\\ud800"`) cannot be
encoded as UTF-8 by any of them, a NUL cannot go into argv, and other control characters
(an escape `\\u001b[2J`) would drive the user's terminal. Tab, line feed, carriage return
and form feed are ordinary text.

A JSON document can write these characters only as escapes, which the reader decodes out of
sight (partly in C), so `json_characters` finds the escapes in the raw text instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from plait.plans.validate import Problems

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Every run of backslashes, whole (possessive), with the escape it may end in: the run is
# an escape when it is odd. Starting with a literal lets the engine skip to each run.
_BACKSLASHES = re.compile(r"\\++(u[0-9a-fA-F]{4}|b)?")
_REPORTED = 10  # a binary file pasted into a plan needs one line of explanation, not 10,000


def describe(char: str) -> str:
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate U+{code:04X}"
    if code == 0:
        return "a NUL character U+0000"
    return f"a control character U+{code:04X}"


def _hint(char: str) -> str:
    if 0xD800 <= ord(char) <= 0xDFFF:
        return "write the whole character (both halves of the pair) or remove it"
    return "remove it; plait passes plan text to git, agents and terminals"


def text_characters(text: str) -> Iterator[tuple[int, str]]:
    """(offset, character) of each forbidden character written as itself."""
    for match in _FORBIDDEN.finditer(text):
        yield match.start(), match.group()


def json_characters(text: str) -> Iterator[tuple[int, str]]:
    """(offset, character) of each forbidden character, as itself or as an escape."""
    found = list(text_characters(text))
    if "\\u" in text or "\\b" in text:  # most plans escape only quotes and newlines
        found += _escaped(text)
    return iter(sorted(found))


def _escaped(text: str) -> Iterator[tuple[int, str]]:
    high: tuple[int, int, str] | None = None  # (offset, end, char) of a pending high half
    for match in _BACKSLASHES.finditer(text):
        what = match.group(1)
        run = match.end() - match.start() - len(what or "")
        if what is None or run % 2 == 0:
            continue  # `\\u0000` is a backslash and some letters
        code = 8 if what == "b" else int(what[1:], 16)
        start = match.start() + run - 1
        if high is not None and (start != high[1] or not 0xDC00 <= code <= 0xDFFF):
            yield high[0], high[2]  # the high half was not followed by its low half
        if high is not None and start == high[1] and 0xDC00 <= code <= 0xDFFF:
            high = None  # a pair: one ordinary character
            continue
        high = (start, match.end(), chr(code)) if 0xD800 <= code <= 0xDBFF else None
        if high is None and _FORBIDDEN.match(chr(code)):
            yield start, chr(code)
    if high is not None:
        yield high[0], high[2]


def report_characters(found: Iterator[tuple[int, str]], text: str, problems: Problems) -> None:
    line, counted_to = 1, 0
    for n, (offset, char) in enumerate(found):
        if n == _REPORTED:
            problems.add(line, "more characters like these follow", "remove them all")
            return
        line += text.count("\n", counted_to, offset)
        counted_to = offset
        problems.add(line, f"the plan holds {describe(char)}", _hint(char))
