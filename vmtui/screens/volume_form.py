"""`n` on the storage screen: a new volume's name, size and format, validated as `vmtui vol-create` does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet

from vmtui.drivers.resources import PoolInfo
from vmtui.drivers.xmlres import FILE_POOL_TYPES
from vmtui.errors import VmtuiError
from vmtui.ops import storage
from vmtui.present import printable, size


@dataclass(frozen=True, slots=True)
class VolumeForm:
    pool: str
    name: str
    capacity: int
    """Bytes, converted exactly from what was typed."""
    fmt: str


class VolumeFormModal(ModalScreen[VolumeForm | None]):
    """Stays open on a bad name or size (said in the dialog), so nothing typed is lost."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, pool: PoolInfo) -> None:
        super().__init__()
        self.pool = pool
        self.formats = storage.FORMATS if pool.pool_type in FILE_POOL_TYPES else ("raw",)

    def compose(self) -> ComposeResult:
        with Vertical(id="volume-box"):
            title = Text("New volume in pool ", "bold") + Text(printable(self.pool.name), "bold")
            if self.pool.active:
                title.append(f" ({size(self.pool.available)} available)", "dim")
            yield Label(title, id="volume-title")
            yield Input(placeholder="name, e.g. web1.qcow2", id="volume-name")
            yield Input(placeholder="size with a unit, e.g. 10GiB, 512MiB", id="volume-size")
            with RadioSet(id="volume-format"):
                for i, fmt in enumerate(self.formats):
                    yield RadioButton(fmt, value=i == 0, id=f"fmt-{fmt}")
            yield Label("", id="volume-error")
            with Horizontal(id="volume-buttons"):
                yield Button("Create", variant="primary", id="create")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#volume-name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "volume-name":
            self.query_one("#volume-size", Input).focus()
        else:
            self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "create":
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def submit(self) -> None:
        name = self.query_one("#volume-name", Input).value
        pressed = self.query_one("#volume-format", RadioSet).pressed_button
        fmt = str(pressed.label) if pressed is not None else self.formats[0]
        try:
            storage.validate_volume_name(name)
            capacity = storage.parse_size(self.query_one("#volume-size", Input).value)
        except VmtuiError as exc:
            self.query_one("#volume-error", Label).update(Text(printable(str(exc)), style="bold red"))
            return
        self.dismiss(VolumeForm(self.pool.name, name, capacity, fmt))
