"""The task list: one row per task, sortable, filtered by status.

Rows come from the API's task rows (`plait.api.views.task_row`, plus CPU and memory of a
running agent). A refresh that keeps the rows' order only rewrites the cells that changed,
so a list of thousands of tasks refreshes at the cost of what moved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from plait.ui.tui.text import badge, duration, money, plain, size, tokens

Json = Mapping[str, Any]

COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "Task"),
    ("title", "Title"),
    ("status", "Status"),
    ("agent", "Agent"),
    ("pr", "PR"),
    ("base", "Base"),
    ("queue", "Feedback"),
    ("ci", "CI fails"),
    ("turns", "Turns"),
    ("tokens", "Tokens"),
    ("cost", "Cost"),
    ("time", "Time"),
    ("cpu", "CPU"),
    ("rss", "RSS"),
    ("overlaps", "Overlaps"),
)
_TITLE_WIDTH = 36


def _cpu(row: Json) -> str:
    cpu = row.get("cpu_percent")
    return "" if cpu is None else f"{float(cpu):.0f}%"


def cells(row: Json) -> tuple[Text, ...]:
    """The cells of one task's row, in `COLUMNS` order."""
    title = str(row.get("title") or "")
    if len(title) > _TITLE_WIDTH:
        title = title[: _TITLE_WIDTH - 1] + "…"
    return (
        plain(row["id"], "bold"),
        plain(title),
        badge(row.get("status")),
        plain(row.get("agent") or ""),
        plain(f"#{row['pr']}" if row.get("pr") else "", "cyan"),
        plain(row.get("base") or "", "dim"),
        plain(" ".join(row.get("queue") or []), "yellow"),
        plain(row.get("ci_failures") or "", "red"),
        plain(row.get("turns") or ""),
        plain(tokens(row.get("tokens")) if row.get("tokens") else ""),
        plain(money(row.get("cost_usd"))),
        plain(duration(row.get("duration_s"))),
        plain(_cpu(row)),
        plain(size(row.get("rss_bytes"))),
        plain(overlaps_text(row), "red"),
    )


def overlaps_text(row: Json) -> str:
    """The early conflict warning in a word: with whom this branch would collide."""
    return ", ".join(str(o.get("with")) for o in row.get("overlaps") or [])


# How each sort orders rows (plan: the API's order, which is the project's).
SORTS: dict[str, Callable[[Json], Any]] = {
    "plan": lambda r: 0,
    "status": lambda r: str(r.get("status") or ""),
    "cost": lambda r: -float(r.get("cost_usd") or 0.0),
    "tokens": lambda r: -int(r.get("tokens") or 0),
    "time": lambda r: -float(r.get("duration_s") or 0.0),
    "turns": lambda r: -int(r.get("turns") or 0),
    "id": lambda r: str(r["id"]),
}


class TaskTable(DataTable[Text]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.sort_by = "plan"
        self.reverse = False
        self.status_filter = ""
        self._rows: list[Json] = []
        self._shown: list[str] = []
        self._cells: dict[str, tuple[Text, ...]] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    @property
    def statuses(self) -> dict[str, int]:
        """Each status present, with how many tasks have it."""
        counts: dict[str, int] = {}
        for r in self._rows:
            counts[str(r["status"])] = counts.get(str(r["status"]), 0) + 1
        return counts

    def show(self, rows: Sequence[Json]) -> None:
        self._rows = list(rows)
        self._redraw()

    def set_sort(self, key: str, *, reverse: bool = False) -> None:
        self.sort_by, self.reverse = key, reverse
        self._redraw()

    def set_filter(self, status: str) -> None:
        self.status_filter = status
        self._redraw()

    def _visible(self) -> list[Json]:
        rows = [
            r for r in self._rows if not self.status_filter or r["status"] == self.status_filter
        ]
        if self.sort_by != "plan":
            rows.sort(key=SORTS[self.sort_by])
        if self.reverse:
            rows.reverse()
        return rows

    def _redraw(self) -> None:
        rows = self._visible()
        ids = [str(r["id"]) for r in rows]
        if ids != self._shown:
            self._rebuild(rows, ids)
            return
        for r in rows:
            tid = str(r["id"])
            new = cells(r)
            old = self._cells.get(tid)
            for (key, _), before, after in zip(COLUMNS, old or (), new, strict=False):
                if before != after:
                    self.update_cell(tid, key, after, update_width=True)
            self._cells[tid] = new

    def _rebuild(self, rows: Sequence[Json], ids: list[str]) -> None:
        keep = self.selected()
        self.clear()
        self._cells = {}
        for r in rows:
            tid = str(r["id"])
            self._cells[tid] = cells(r)
            self.add_row(*self._cells[tid], key=tid)
        self._shown = ids
        if keep in ids:
            self.move_cursor(row=ids.index(keep))

    def selected(self) -> str | None:
        """The id of the task under the cursor, if any."""
        if not self._shown or self.cursor_row < 0 or self.cursor_row >= len(self._shown):
            return None
        return self._shown[self.cursor_row]

    def row_of(self, tid: str) -> Json | None:
        return next((r for r in self._rows if r["id"] == tid), None)
