"""A one-line question with a default answer (a snapshot's name); Enter accepts, Escape cancels."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from vmtui.errors import VmtuiError
from vmtui.present import printable


class PromptModal(ModalScreen[str | None]):
    """`check` refuses an answer by raising VmtuiError; the reason shows and the dialog stays open."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, default: str, check: Callable[[str], object] | None = None) -> None:
        super().__init__()
        self.question = question
        self.default = default
        self._check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Label(printable(self.question), id="prompt-question", markup=False)
            yield Input(value=self.default, id="prompt-input")
            yield Label("", id="prompt-error")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        answer = event.value.strip()
        try:
            if self._check is not None:
                self._check(answer)
        except VmtuiError as exc:
            self.query_one("#prompt-error", Label).update(Text(printable(str(exc)), style="bold red"))
            return
        self.dismiss(answer)

    def action_cancel(self) -> None:
        self.dismiss(None)
