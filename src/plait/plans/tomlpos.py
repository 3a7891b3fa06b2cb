"""Where a key or a table is written in a TOML file (tomllib gives values, not lines),
and how a value read from one is spelt back in TOML for a problem to quote."""

from __future__ import annotations

import json
import math

from plait.core.plan import PlanProblem


def toml_text(value: object) -> str:
    """A value as TOML writes it (`true`, `-5`, `["atention"]`), for problems to quote
    what the user wrote, not Python's spelling of it (`True`, `-5.0`, `['atention']`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(k)} = {toml_text(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    return str(value)  # dates and times: their ISO form, as TOML writes them


def _key(name: object) -> str:
    text = str(name)
    return text if text and all(c.isalnum() or c in "_-" for c in text) else json.dumps(text)


def toml_line(lines: list[str], table: tuple[str, ...], key: str | None = None) -> int:
    """The line (from 1) of `key` in `[table]`, or of the table itself; else the table's
    line, else 0. Finds `[a.b]` headers, `k = …` in them, and dotted `b.k = …` at the top."""
    header = ".".join(table)
    current: tuple[str, ...] = ()
    for i, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            current = tuple(p.strip().strip('"') for p in line.strip("[]").split("."))
            if current == table if key is None else current[: len(table) + 1] == (*table, key):
                return i
            continue
        if key is None or "=" not in line:
            continue
        name = line.split("=", 1)[0].strip().strip('"')
        if current == table and name == key:
            return i
        if current == () and name == f"{header}.{key}":
            return i
    return 0 if key is None else toml_line(lines, table)


class TomlProblems:
    """What a TOML file's reader shares: its lines, and problems named by file:line."""

    def __init__(self, text: str, path: str) -> None:
        self.lines = text.splitlines()
        self.path = path
        self.problems: list[PlanProblem] = []

    def line_of(self, table: tuple[str, ...], key: str | None = None) -> int:
        """Where `key` of `[table]` (or the table itself) is written; 0 if not found."""
        return toml_line(self.lines, table, key)

    def problem(self, table: tuple[str, ...], key: str | None, message: str, hint: str) -> None:
        self.problems.append(PlanProblem(self.path, self.line_of(table, key), message, hint))
