"""`X`: a domain's XML, highlighted, scrollable; `l` switches between the live XML and the definition."""

from __future__ import annotations

from typing import ClassVar

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from vmtui.present import printable, printable_text
from vmtui.tui.messages import XmlRequested
from vmtui.widgets.fitting_footer import FittingFooter
from vmtui.widgets.refusals import Refusals, moved


class XmlScreen(Refusals, Screen[None]):
    """Read-only: the XML as libvirt gave it (control characters shown as '?')."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        # `l` for live: `i` opens SR-IOV on the dashboard and the devices screen (one meaning per key).
        Binding("l", "toggle_inactive", "Live / definition"),
        moved("i", "l switches between the live XML and the definition"),
    ]

    def __init__(self, uuid: str, name: str, host: str, xml: str, *, inactive: bool) -> None:
        super().__init__()
        self.uuid = uuid
        self.inactive = inactive
        self.xml = xml
        which = "persistent definition" if inactive else "live XML"
        self.title = printable(f"{name} on {host}: {which}")

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        with VerticalScroll(id="xml-body"):
            # Syntax renders the text as code, never as markup: names from hosts stay literal.
            yield Static(Syntax(printable_text(self.xml), "xml", theme="ansi_dark", word_wrap=False), id="xml")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one("#xml-body").focus()

    def selected_uuid(self) -> str | None:
        return self.uuid

    def action_toggle_inactive(self) -> None:
        self.post_message(XmlRequested(self.uuid, inactive=not self.inactive))
