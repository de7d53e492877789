"""A `panel` plugin's output, as the program wrote it (never read as markup), scrollable; Esc goes back."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from vmtui.present import printable, printable_text
from vmtui.widgets.fitting_footer import FittingFooter


class PluginOutputScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,backspace", "app.pop_screen", "Back")]

    def __init__(self, title: str, output: str, *, status: str = "") -> None:
        super().__init__()
        self.title = printable(title)
        self.output = output
        self.status = status

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        with VerticalScroll(id="plugin-body"):
            if self.status:
                yield Static(Text(self.status, style="bold"), id="plugin-status")
            yield Static(Text(printable_text(self.output)), id="plugin-output")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one("#plugin-body").focus()
