"""A reviewer's answer → a verdict. Pure, total (any text gives a verdict), linear.

The reviewer is asked to end with a line `VERDICT: APPROVED` or `VERDICT: NEEDS_CHANGES`
followed by numbered issues. Agents decorate (`**Verdict:** approved`, `> VERDICT -
NEEDS CHANGES`), so a verdict line is found after stripping markdown marks, case and
separators; the last one counts (an answer may quote the instructions first). Only a
clear APPROVED approves: REJECTED and CHANGES_REQUESTED mean needs-changes, and an answer
with no verdict line, an unknown word or nothing at all counts as needs-changes *with the
reason*, so a confused reviewer never lets a change through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_ISSUES = 50
MAX_ISSUE_CHARS = 2000
_EXCERPT = 2000

_APPROVE = frozenset({"APPROVED", "APPROVE", "LGTM", "ACCEPTED"})
_REFUSE = frozenset(
    {"NEEDS_CHANGES", "NEEDS_CHANGE", "CHANGES_REQUESTED", "REQUEST_CHANGES", "REJECTED"}
)
_MARKS = "*_`#>~|[]() \t"
_ITEM = re.compile(r"(\d{1,3})[.)]\s+(\S.*)")
_BULLET = re.compile(r"[-*+•]\s+(\S.*)")


@dataclass(frozen=True, slots=True)
class Verdict:
    approved: bool
    issues: tuple[str, ...] = ()
    reason: str = ""  # why the answer counted as needs-changes although it was not clear


def parse_verdict(text: str) -> Verdict:
    lines = text.splitlines()
    found: tuple[int, str] | None = None
    for i, line in enumerate(lines):
        word = _verdict_word(line)
        if word is not None:
            found = (i, word)
    if found is None:
        return _unclear(lines, "the reviewer's answer had no VERDICT line" if text.strip()
                        else "the reviewer gave no answer")  # fmt: skip
    at, word = found
    if word in _APPROVE:
        return Verdict(approved=True)
    if word not in _REFUSE:
        return _unclear(lines, f"the reviewer's verdict {word!r} is neither APPROVED nor "
                               "NEEDS_CHANGES")  # fmt: skip
    issues = _items(lines[at + 1 :]) or _items(lines[:at])
    if issues:
        return Verdict(approved=False, issues=issues)
    rest = "\n".join(lines[at + 1 :]).strip() or "\n".join(lines[:at]).strip()
    reason = "the reviewer listed no numbered issues"
    return Verdict(approved=False, issues=(_excerpt(rest),) if rest else (), reason=reason)


def render_verdict(verdict: Verdict) -> str:
    """The answer a reviewer is asked to give (the parser's inverse for clear verdicts)."""
    if verdict.approved:
        return "VERDICT: APPROVED\n"
    items = "".join(f"{n}. {issue}\n" for n, issue in enumerate(verdict.issues, start=1))
    return f"VERDICT: NEEDS_CHANGES\n\n{items}"


def _verdict_word(line: str) -> str | None:
    """The word after `VERDICT` on this line (normalized), or None when it is not one."""
    stripped = line.strip(_MARKS)
    if stripped[:7].upper() != "VERDICT":
        return None
    rest = stripped[7:].lstrip(_MARKS + ":=-–—")
    if not rest:
        return None
    words = re.split(r"[\s,;.!]+", rest.strip(_MARKS), maxsplit=2)
    head = words[0].strip(_MARKS)
    if head.upper() in ("NEEDS", "CHANGES", "REQUEST") and len(words) > 1:
        head = f"{head}_{words[1].strip(_MARKS)}"
    return head.upper().replace("-", "_") or None


def _items(lines: list[str]) -> tuple[str, ...]:
    """Numbered items (or, failing those, bullets) with their continuation lines."""
    for pattern in (_ITEM, _BULLET):
        items: list[list[str]] = []
        open_item: list[str] | None = None
        for line in lines:
            stripped = line.strip()
            match = pattern.fullmatch(stripped)
            if match:
                open_item = [match.group(match.lastindex or 1).strip()]
                items.append(open_item)
            elif open_item is not None and stripped and line[:1].isspace():
                open_item.append(stripped)
            elif not stripped:
                open_item = None  # a blank line ends an item's continuation
        if items:
            return tuple(_excerpt(" ".join(i)) for i in items[:MAX_ISSUES])
    return ()


def _unclear(lines: list[str], reason: str) -> Verdict:
    issues = _items(lines)
    if not issues:
        text = "\n".join(lines).strip()
        issues = (_excerpt(text),) if text else ()
    return Verdict(approved=False, issues=issues, reason=reason)


def _excerpt(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_ISSUE_CHARS else text[: MAX_ISSUE_CHARS - 1] + "…"
