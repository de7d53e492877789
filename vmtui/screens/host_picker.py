"""Which host? Asked when a key that opens a host's screen (storage, networks, memory, SR-IOV) has no
host to go by: no row selected (a filter that shows none) and more than one host watched."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from vmtui.present import host_label, printable


class HostPickerModal(ModalScreen[str | None]):
    """A list of hosts: Enter picks the one under the cursor, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("j", "cursor('down')", "Down", show=False),
        Binding("k", "cursor('up')", "Up", show=False),
    ]

    DEFAULT_CSS = """
    HostPickerModal { align: center middle; }
    HostPickerModal > #host-picker-box { width: auto; min-width: 40; max-width: 90%; height: auto;
                                          border: round $accent; padding: 0 1; background: $surface; }
    HostPickerModal OptionList { height: auto; max-height: 12; }
    """

    def __init__(self, question: str, hosts: list[str]) -> None:
        super().__init__()
        self.question = question
        self.hosts = hosts

    def compose(self) -> ComposeResult:
        with Vertical(id="host-picker-box"):
            yield Label(printable(self.question), id="host-picker-question", markup=False)
            # Text, never markup: a host's name is shown as it is.
            yield OptionList(*(Option(Text(printable(host_label(h))), id=h) for h in self.hosts), id="host-picker")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cursor(self, direction: str) -> None:
        options = self.query_one(OptionList)
        options.action_cursor_down() if direction == "down" else options.action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
