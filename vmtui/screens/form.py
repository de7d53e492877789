"""A small form: a few labelled text fields, checked before it closes (the error shown in place)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from vmtui.errors import VmtuiError


@dataclass(frozen=True, slots=True)
class FormField:
    key: str
    label: str
    placeholder: str = ""
    value: str = ""


Values = dict[str, str]


class FormModal(ModalScreen[Values | None]):
    """Dismisses with the values once `check(values)` accepts them (raises VmtuiError otherwise); None on escape.

    `check` is pure validation (sizes, MACs, names): nothing is contacted from here.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, title: str, fields: Sequence[FormField], check: Callable[[Values], object] = lambda _v: None
    ) -> None:
        super().__init__()
        self.form_title = title
        self.fields = tuple(fields)
        self._check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box"):
            yield Label(Text(self.form_title), id="form-title")
            for f in self.fields:
                yield Label(Text(f.label), classes="form-label")
                yield Input(value=f.value, placeholder=f.placeholder, id=f"form-{f.key}")
            yield Label("", id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        if self.fields:
            self.query_one(f"#form-{self.fields[0].key}", Input).focus()

    def values(self) -> Values:
        return {f.key: self.query_one(f"#form-{f.key}", Input).value.strip() for f in self.fields}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        keys = [f"form-{f.key}" for f in self.fields]
        at = keys.index(event.input.id or "") if event.input.id in keys else len(keys) - 1
        if at + 1 < len(keys):
            self.query_one(f"#{keys[at + 1]}", Input).focus()
        else:
            self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def submit(self) -> None:
        values = self.values()
        try:
            self._check(values)
        except VmtuiError as exc:
            self.query_one("#form-error", Label).update(Text(str(exc), style="bold red"))
            return
        self.dismiss(values)
