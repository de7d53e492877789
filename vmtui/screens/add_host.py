"""`a`: save a host to hosts.toml and start watching it, like `vmtui hosts add NAME URI [--read-only]`."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label

from vmtui.errors import VmtuiError
from vmtui.models import HostEntry


class AddHostModal(ModalScreen[HostEntry | None]):
    """Asks for a name, a URI and read-only; `save` stores the entry or raises VmtuiError, shown here.

    The dialog stays open on an error (a taken name, an empty URI) so that nothing typed is lost.
    Nothing is contacted: the dashboard shows whether the host answers.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, save: Callable[[HostEntry], None]) -> None:
        super().__init__()
        self._save = save

    def compose(self) -> ComposeResult:
        with Vertical(id="add-host-box"):
            yield Label("Add a host", id="add-host-title")
            yield Input(placeholder="name, e.g. kvm1", id="host-name")
            yield Input(placeholder="libvirt URI, e.g. qemu+ssh://root@kvm1/system", id="host-uri")
            yield Checkbox("read-only (monitoring only: every action refused)", id="host-read-only")
            yield Label("", id="add-host-error")
            with Horizontal(id="add-host-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#host-name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "host-name":
            self.query_one("#host-uri", Input).focus()
        else:
            self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def submit(self) -> None:
        entry = HostEntry(
            name=self.query_one("#host-name", Input).value.strip(),
            uri=self.query_one("#host-uri", Input).value.strip(),
            read_only=self.query_one("#host-read-only", Checkbox).value,
        )
        try:
            self._save(entry)
        except VmtuiError as exc:
            self.query_one("#add-host-error", Label).update(Text(str(exc), style="bold red"))
            return
        self.dismiss(entry)
