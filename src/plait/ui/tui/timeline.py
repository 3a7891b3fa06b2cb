"""The timeline view: the project's decided events as lines, newest at the bottom.

It shows the last `KEEP` lines: loaded from the API's timeline, then extended by the event
stream (messages newer than the page's `next`). It follows new lines while the cursor is on
the last one, the way `tail -f` does; moving up stops following.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from plait.ui.tui.text import badge, clock, plain

KEEP = 2000


class TimelineTable(DataTable[Text]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self.tasks: list[str | None] = []  # the task of each row
        self._n = 0

    def on_mount(self) -> None:
        self.add_column("Time", key="at")
        self.add_column("Task", key="task")
        self.add_column("Status", key="status")
        self.add_column("What happened", key="message")

    def add(self, entry: Mapping[str, Any]) -> None:
        """One timeline entry (or event-stream message); those without a line are skipped."""
        if not entry.get("message"):
            return
        following = self.row_count == 0 or self.cursor_row >= self.row_count - 1
        task = entry.get("task")
        self._n += 1
        self.add_row(
            plain(clock(entry.get("at")), "dim"),
            plain(task or "", "bold"),
            badge(entry.get("status")),
            plain(entry["message"]),
            key=str(self._n),
        )
        self.tasks.append(task)
        if self.row_count > KEEP:
            self.remove_row(self.coordinate_to_cell_key(Coordinate(0, 0)).row_key)
            self.tasks.pop(0)
        if following:
            self.move_cursor(row=self.row_count - 1)

    def reset(self) -> None:
        self.clear()
        self.tasks = []

    def selected(self) -> str | None:
        row = self.cursor_row
        return self.tasks[row] if 0 <= row < len(self.tasks) else None
