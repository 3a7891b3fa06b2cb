"""Ticket files: one task each, for the swarm's queue. Pure: text in, a `Ticket` or a
`PlanError` with file:line for every problem out.

A ticket is a JSON object, or Markdown with a front matter block:

    ---                                  {"id": "add-login",
    id: add-login                         "summary": "Add a login page",
    summary: Add a login page             "description": "…",
    difficulty: medium                    "difficulty": "medium",
    files: [src/login.py, src/auth.py]    "files": ["src/login.py"],
    acceptance:                           "acceptance": ["shows a form"],
      - shows a form                      "dependencies": ["setup-db"]}
      - rejects a wrong password
    dependencies: [setup-db]
    ---
    The description: everything after the front matter.

`id` defaults to the file's name without its extension, `summary` to the body's first
heading. `difficulty` is easy, medium, hard or a number from 1 to 10 (it weighs the task
in the critical-path order). Aliases: title (summary), acceptance_criteria (acceptance),
depends_on (dependencies). The front matter is a small YAML subset: `key: value`,
`key: [a, b]`, `key:` followed by `- item` lines, and `key: |` followed by indented text;
` # …` ends a line with a comment (quote a value that holds one), and a `[` or a quote
left open is an error at its line, as YAML has it. A comment that starts with a digit
(`summary: Fix #12`, which YAML reads as "Fix") is an error that says to quote the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from plait.core.plan import PlanProblem, TaskSpec, task_id_problem
from plait.errors import PlanError
from plait.plans.jsonpos import JsonSyntaxError, Located, read_json

SUFFIXES = (".json", ".md")
_DIFFICULTY = {"easy": 1, "medium": 2, "hard": 3}
_KEYS = {
    "id": "id",
    "summary": "summary",
    "title": "summary",
    "description": "description",
    "difficulty": "difficulty",
    "files": "files",
    "acceptance": "acceptance",
    "acceptance_criteria": "acceptance",
    "dependencies": "dependencies",
    "depends_on": "dependencies",
}
_LISTS = ("files", "acceptance", "dependencies")
_FRONT_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)\s*:(.*)")
_HEADING = re.compile(r"#{1,6}\s+(\S.*)")
MAX_TICKET_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticket:
    id: str
    summary: str
    description: str = ""
    weight: int = 1
    files: tuple[str, ...] = ()
    acceptance: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    path: str = ""
    line: int = 1

    def spec(
        self, *, landing: str = "merge", queue: str = "tasks", origin: str = "tickets"
    ) -> TaskSpec:
        return TaskSpec(
            id=self.id,
            title=self.summary,
            description=self.description,
            depends_on=self.dependencies,
            line=self.line,
            weight=self.weight,
            landing=landing,
            origin=origin,
            acceptance=self.acceptance,
            files=self.files,
            queue=queue,
        )


def parse_ticket(text: str, path: str) -> Ticket:
    """One ticket file (by its suffix: .json or .md)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TICKET_BYTES:
        raise _error(path, 0, "the ticket is larger than 256 KiB", "split it into smaller tickets")
    if path.endswith(".json"):
        return _from_json(text, path)
    return _from_markdown(text, path)


# ---- JSON -------------------------------------------------------------------------------------
def _from_json(text: str, path: str) -> Ticket:
    try:
        doc = read_json(text)
    except JsonSyntaxError as exc:
        line = text.count("\n", 0, exc.pos) + 1
        raise _error(path, line, f"not valid JSON: {exc.message}", "fix the JSON syntax") from None
    if not isinstance(doc.value, dict):
        raise _error(path, 1, "a JSON ticket must be one object", '{"id": …, "summary": …}')
    return ticket_from(doc.value, path, _json_lines(doc, doc.value), default_id=_stem(path))


def _json_lines(doc: Located, obj: dict[str, object]) -> Callable[[str], int]:
    return lambda key: doc.key_line(obj, key, default=doc.line(obj))


# ---- Markdown ---------------------------------------------------------------------------------
def _from_markdown(text: str, path: str) -> Ticket:
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        hint = "put `---`, then `id: …` and `summary: …` lines, then `---` first"
        raise _error(path, 1, "a Markdown ticket starts with a front matter block", hint)
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise _error(path, 1, "the front matter block is never closed", "end it with `---`")
    data, where = _front_matter(lines[1:end], path, first_line=2)
    body = "\n".join(lines[end + 1 :]).strip()
    if "description" not in data and body:
        data["description"] = body
        where["description"] = end + 2
    if "summary" not in data and "title" not in data:
        heading = next((m.group(1) for m in map(_HEADING.fullmatch, body.splitlines()) if m), "")
        if heading:
            data["summary"] = heading.strip()
    return ticket_from(data, path, lambda key: where.get(key, 1), default_id=_stem(path))


def _front_matter(
    lines: list[str], path: str, *, first_line: int
) -> tuple[dict[str, object], dict[str, int]]:
    data: dict[str, object] = {}
    where: dict[str, int] = {}
    problems: list[PlanProblem] = []
    i = 0
    while i < len(lines):
        number, raw = first_line + i, lines[i]
        i += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = _FRONT_KEY.fullmatch(raw.rstrip())
        if match is None or raw[:1].isspace():
            hint = "write `key: value` (or `- item` under `key:`)"
            problems.append(PlanProblem(path, number, f"cannot read {raw.strip()!r}", hint))
            continue
        key, value = match.group(1), _uncommented(match.group(2)).strip()
        if cut := _cut_reference(match.group(2), f"{key}: "):
            problems.append(PlanProblem(path, number, *cut))
            continue
        if key in data:
            problems.append(PlanProblem(path, number, f"{key!r} is given twice", "keep one"))
        where[key] = number
        if value in ("|", ">"):
            block, i = _indented(lines, i)
            data[key] = ("\n" if value == "|" else " ").join(block)
        elif value:
            unclosed = _unclosed(value)
            if unclosed:
                problems.append(PlanProblem(path, number, f"{key}: {value} {unclosed[0]}",
                                            unclosed[1]))  # fmt: skip
                continue
            data[key] = _inline(value)
        else:
            items, i = _dashes(lines, i)
            for at, item in items:
                written = lines[at].lstrip()[2:]
                if cut := _cut_reference(written, "- "):
                    problems.append(PlanProblem(path, first_line + at, *cut))
                elif unclosed := _unclosed(item):
                    said = f"- {item} {unclosed[0]}"
                    problems.append(PlanProblem(path, first_line + at, said, unclosed[1]))
            data[key] = [_unquote(item) for _, item in items]
    if problems:
        raise PlanError(problems)
    return data, where


def _indented(lines: list[str], i: int) -> tuple[list[str], int]:
    block: list[str] = []
    while i < len(lines) and (not lines[i].strip() or lines[i][:1].isspace()):
        block.append(lines[i].strip())
        i += 1
    return block, i


def _dashes(lines: list[str], i: int) -> tuple[list[tuple[int, str]], int]:
    """The `- item` lines from `i`: (index, item as written, its comment dropped)."""
    items: list[tuple[int, str]] = []
    while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("- ")):
        if lines[i].strip():
            items.append((i, _uncommented(lines[i].lstrip()[2:]).strip()))
        i += 1
    return items, i


def _uncommented(value: str) -> str:
    """The value without a trailing ` # comment` (a `#` inside quotes is kept)."""
    at = _comment_at(value)
    return value if at is None else value[:at]


def _comment_at(value: str) -> int | None:
    """Where the value's ` # comment` starts (a `#` inside quotes is not one)."""
    quote = ""
    for n, char in enumerate(value):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'" and (n == 0 or value[n - 1] in " \t[,"):
            quote = char
        elif char == "#" and (n == 0 or value[n - 1] in " \t"):
            return n
    return None


def _cut_reference(written: str, lead: str) -> tuple[str, str] | None:
    """A comment that would cut an unquoted value where nobody means one: a `#` followed
    by a digit, as in `summary: Fix #12` (YAML reads "Fix"). The problem and its fix."""
    at = _comment_at(written)
    if at is None or not written[at + 1 : at + 2].isdigit():
        return None
    meant = re.search(r"[ \t]#(?!\d)", written[at:])  # a comment after it is one
    text = written[: at + meant.start() if meant else len(written)].strip()
    kept = written[:at].strip()
    reads = f"reads as {kept!r}" if kept else "reads as nothing"
    return f"{lead}{text} {reads}: ` #` starts a comment", f"quote it: {lead}{_quoted(text)}"


def _quoted(text: str) -> str:
    """The value quoted as YAML keeps it: a list's items each, else the whole value."""
    if not (text.startswith("[") and text.endswith("]")):
        mark = "'" if '"' in text else '"'
        return f"{mark}{text}{mark}"
    items = [p.strip() for p in _split_commas(text[1:-1])]
    return "[" + ", ".join(p if _comment_at(p) is None else _quoted(p) for p in items) + "]"


def _unclosed(value: str) -> tuple[str, str] | None:
    """What is left open in an inline value (YAML refuses it), with how to fix it."""
    if value.startswith("[") and not value.endswith("]"):
        return "leaves its `[` open", "end the list with `]`, or quote the value"
    if value[:1] in "\"'" and (len(value) < 2 or not value.endswith(value[0])):
        return f"leaves its {value[0]} open", f"end the value with {value[0]}"
    return None


def _inline(value: str) -> object:
    if value.startswith("[") and value.endswith("]"):
        inner = value[1:-1].strip()
        return [_unquote(p.strip()) for p in _split_commas(inner)] if inner else []
    return _unquote(value)


def _split_commas(text: str) -> list[str]:
    parts, current, quote = [], "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == ",":
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


# ---- from plain values to a ticket ---------------------------------------------------------------
def ticket_from(
    data: dict[str, object], path: str, line_of: Callable[[str], int], *, default_id: str = ""
) -> Ticket:
    """A ticket from decoded values (a JSON object, a front matter, an agent's proposal)."""
    problems: list[PlanProblem] = []
    texts: dict[str, str] = {}
    lists: dict[str, tuple[str, ...]] = {}
    weight = 1
    for key, raw in data.items():
        name = _KEYS.get(key)
        line = line_of(key)
        if name is None:
            known = ", ".join(sorted(_KEYS))
            problems.append(PlanProblem(path, line, f"unknown key {key!r}", f"known: {known}"))
        elif name in _LISTS:
            lists[name] = _list(name, raw, path, line, problems)
        elif name == "difficulty":
            weight = _difficulty(raw, path, line, problems)
        elif isinstance(raw, str):
            texts[name] = raw.strip()
        else:
            problems.append(PlanProblem(path, line, f"{name} must be text", f"{name}: …"))
    ticket_id = texts.get("id") or default_id
    if not ticket_id:
        problems.append(PlanProblem(path, line_of("id"), "the ticket has no id", "add `id: …`"))
    elif problem := task_id_problem(ticket_id):
        problems.append(PlanProblem(path, line_of("id"), f"id {ticket_id!r} {problem}",
                                    "use letters, digits, '.', '-' or '_'"))  # fmt: skip
    if not texts.get("summary"):
        problems.append(PlanProblem(path, line_of("summary"), "the ticket has no summary",
                                    "add `summary: what to do, in one line`"))  # fmt: skip
    for dep in lists.get("dependencies", ()):
        if problem := task_id_problem(dep):
            where = line_of("dependencies")
            message = f"dependency {dep!r} {problem}"
            problems.append(PlanProblem(path, where, message, "name a ticket's id"))
    if problems:
        raise PlanError(problems)
    return Ticket(
        id=ticket_id,
        summary=texts["summary"],
        description=texts.get("description", ""),
        weight=weight,
        files=lists.get("files", ()),
        acceptance=lists.get("acceptance", ()),
        dependencies=lists.get("dependencies", ()),
        path=path,
        line=line_of("id") or 1,
    )


def _list(
    name: str, raw: object, path: str, line: int, problems: list[PlanProblem]
) -> tuple[str, ...]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(x, str) and x.strip() for x in items):
        problems.append(PlanProblem(path, line, f"{name} must be a list of text items",
                                    f"{name}: [first, second]"))  # fmt: skip
        return ()
    return tuple(str(x).strip() for x in items)


def _difficulty(raw: object, path: str, line: int, problems: list[PlanProblem]) -> int:
    text = str(raw).strip().lower()
    if text in _DIFFICULTY:
        return _DIFFICULTY[text]
    if text.isdecimal() and 1 <= int(text) <= 10:
        return int(text)
    problems.append(PlanProblem(path, line, f"difficulty {raw!r} is not easy, medium, hard "
                                "or 1 to 10", "difficulty: medium"))  # fmt: skip
    return 1


def _stem(path: str) -> str:
    return PurePath(path).stem


def _error(path: str, line: int, message: str, hint: str) -> PlanError:
    return PlanError([PlanProblem(path, line, message, hint)])
