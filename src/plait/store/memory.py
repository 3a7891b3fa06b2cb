"""Shared memory: notes agents and people leave for later tasks, searched with SQLite FTS5.

An entry is a text with tags and the task that wrote it. `search` finds entries holding
every word of a query; `relevant` ranks entries by how well they match a task's title and
body (FTS5's bm25 over any of its words), for the task's start prompt. Queries are built
from words only, each quoted, so no user text is ever read as FTS syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from plait.store.sqlite import Store

_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_WORDS = 64  # a long task body still makes a bounded query
_TEXT_MAX = 20_000


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    text: str
    tags: tuple[str, ...]
    task: str  # the task that wrote it ("" for a person at the command line)
    at: float

    def as_json(self) -> dict[str, object]:
        tags = list(self.tags)
        return {"id": self.id, "text": self.text, "tags": tags, "task": self.task or None,
                "at": self.at}  # fmt: skip


def add(store: Store, text: str, *, tags: tuple[str, ...] = (), task: str = "", at: float) -> int:
    cur = store.db.execute(
        "INSERT INTO memory(body, tags, task, at) VALUES (?, ?, ?, ?)",
        (text[:_TEXT_MAX], " ".join(tags), task, at),
    )
    return int(cur.lastrowid or 0)


def forget(store: Store, entry_id: int) -> bool:
    cur = store.db.execute("DELETE FROM memory WHERE rowid = ?", (entry_id,))
    return cur.rowcount > 0


def entries(store: Store, *, limit: int = 50, tag: str = "") -> list[Entry]:
    """The newest entries first (with `tag`: only those carrying it)."""
    if tag:
        rows = store.db.execute(
            "SELECT rowid, body, tags, task, at FROM memory WHERE tags MATCH ? "
            "ORDER BY rowid DESC LIMIT ?",
            (_quoted([tag], " "), limit),
        )
    else:
        rows = store.db.execute(
            "SELECT rowid, body, tags, task, at FROM memory ORDER BY rowid DESC LIMIT ?", (limit,)
        )
    return [_entry(r) for r in rows]


def search(store: Store, query: str, *, limit: int = 10) -> list[Entry]:
    """Entries holding every word of `query` (in the text or the tags), best first."""
    return _match(store, _quoted(_words(query), " "), limit)


def relevant(store: Store, text: str, *, limit: int = 3) -> list[Entry]:
    """The entries that match `text` (a task's title and body) best, any word counting."""
    return _match(store, _quoted(_words(text), " OR "), limit)


def _match(store: Store, expression: str, limit: int) -> list[Entry]:
    if not expression:
        return []
    rows = store.db.execute(
        "SELECT rowid, body, tags, task, at FROM memory WHERE memory MATCH ? ORDER BY rank LIMIT ?",
        (expression, limit),
    )
    return [_entry(r) for r in rows]


def _words(text: str) -> list[str]:
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))[:_MAX_WORDS]


def _quoted(words: list[str], joiner: str) -> str:
    return joiner.join('"' + w.replace('"', '""') + '"' for w in words)


def _entry(row: tuple[object, ...]) -> Entry:
    rowid, body, tags, task, at = row
    return Entry(
        id=int(str(rowid)),
        text=str(body),
        tags=tuple(str(tags).split()),
        task=str(task or ""),
        at=float(str(at)),
    )


def render_for_prompt(found: list[Entry]) -> str:
    """The memory section of a start prompt ("" when nothing matched)."""
    if not found:
        return ""
    lines = [
        "## From the project's shared memory",
        "",
        "Notes earlier tasks and people left that may bear on this one (`plait memory "
        'search WORDS` finds more; `plait memory add "…"` leaves a note for later tasks):',
        "",
    ]
    for entry in found:
        who = f"task {entry.task}" if entry.task else "a person"
        tags = f" [{', '.join(entry.tags)}]" if entry.tags else ""
        text = " ".join(entry.text.split())
        lines.append(f"- #{entry.id} from {who}{tags}: {text[:500]}")
    return "\n".join(lines)
