"""Small modal screens: a form of text fields, a yes/no question, a pick from a list.

Each is dismissed with its answer (the fields' values, True/False, the picked key) or
None when the user backs out with Escape; the caller acts on the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, OptionList
from textual.widgets.option_list import Option


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    placeholder: str = ""
    required: bool = False
    check: bool = False  # a yes/no box instead of a text field


Answer = dict[str, str | bool]


def keys_line(fields: Sequence[Field]) -> str:
    """The form's keys as they work: with several text fields Enter goes to the next one."""
    if sum(1 for f in fields if not f.check) > 1:
        return "Enter: next field, on the last one send · ctrl+s: send · Esc: cancel"
    return "Enter: send · Esc: cancel"


class FormScreen(ModalScreen[Answer | None]):
    """A few fields; Enter on the last one (or ctrl+s anywhere) sends them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "send", "Send"),
    ]

    def __init__(self, title: str, fields: Sequence[Field]) -> None:
        super().__init__()
        self.title_text = title
        self.fields = tuple(fields)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.title_text, style="bold"))
            for f in self.fields:
                if f.check:
                    yield Checkbox(f.label, id=f"f-{f.name}")
                else:
                    yield Label(Text(f.label))
                    yield Input(placeholder=f.placeholder, id=f"f-{f.name}")
            yield Label(Text(keys_line(self.fields), style="dim"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        if event.input is inputs[-1]:
            self.action_send()
        else:
            self.focus_next()

    def action_send(self) -> None:
        answer: Answer = {}
        for f in self.fields:
            if f.check:
                answer[f.name] = self.query_one(f"#f-{f.name}", Checkbox).value
                continue
            value = self.query_one(f"#f-{f.name}", Input).value.strip()
            if f.required and not value:
                self.notify(f"{f.label} is needed", severity="warning")
                return
            answer[f.name] = value
        self.dismiss(answer)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A question answered with y or n."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.question))
            yield Label(Text("y: yes · n: no", style="dim"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PickScreen(ModalScreen[str | None]):
    """A choice from a list (status filter, project switcher)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: Sequence[tuple[str, Text]]) -> None:
        super().__init__()
        self.title_text = title
        self.choices = tuple(choices)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.title_text, style="bold"))
            yield OptionList(*(Option(label, id=key) for key, label in self.choices))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
