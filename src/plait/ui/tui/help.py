"""The help screen: every key of the TUI, read from the bindings themselves (so it never
forgets one)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

NAVIGATION = (
    ("↑ ↓ j k", "move in a list"),
    ("PgUp PgDn Home End", "move by pages, to the ends"),
    ("Enter", "open the task under the cursor"),
    ("Tab", "move between fields in a form"),
)


def key_table(sections: Iterable[tuple[str, Iterable[BindingType]]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    table.add_row(Text("Navigation", style="bold underline"), "")
    for keys, what in NAVIGATION:
        table.add_row(keys, what)
    for title, bindings in sections:
        table.add_row("", "")
        table.add_row(Text(title, style="bold underline"), "")
        for b in bindings:
            if isinstance(b, Binding) and b.description:
                table.add_row(b.key_display or b.key, b.description)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Close"),
        Binding("question_mark", "app.pop_screen", "Close", show=False),
        Binding("q", "app.pop_screen", "Close", show=False),
    ]

    def __init__(self, sections: Iterable[tuple[str, Iterable[BindingType]]]) -> None:
        super().__init__()
        self.sections = list(sections)

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help"):
            yield Static(Text("plait — keys", style="bold"))
            yield Static(key_table(self.sections))
            yield Static(Text("Esc closes this help", style="dim"))
