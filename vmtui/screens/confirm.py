"""A yes/no question before a destructive action; No is the default."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from vmtui.present import printable


class ConfirmModal(ModalScreen[bool]):
    """Dismisses with True only on an explicit Yes (button or `y`)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
        # q quits from here too (the footer shows it): a question never traps the user.
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, question: str, *, detail: str = "", lines: Sequence[str] = ()) -> None:
        """`lines`: a list under the question (a drain's plan), each line literal and on its own."""
        super().__init__()
        self.question = question
        self.detail = detail
        self.lines = tuple(lines)

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            # Literal: the question holds names from hosts (a guest called "[b]x" must read "[b]x").
            yield Label(printable(self.question), id="confirm-question", markup=False)
            if self.detail:
                yield Label(printable(self.detail), id="confirm-detail", markup=False)
            if self.lines:
                yield Label("\n".join(printable(line) for line in self.lines), id="confirm-lines", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
