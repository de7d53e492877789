"""The notification log (`ctrl+n`, or "Notifications" in the palette): every notification, newest first,
with its time, severity and title, and its whole text wrapped (a toast may have cut it)."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from vmtui.present import printable
from vmtui.tui.notes import NotificationLog
from vmtui.widgets.fitting_footer import FittingFooter

SEVERITY_STYLE = {"information": "green", "warning": "yellow", "error": "bold red"}


class NotificationsScreen(Screen[None]):
    """Read-only; shows the log as it was when opened."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,backspace", "app.pop_screen", "Back")]

    def __init__(self, log: NotificationLog) -> None:
        super().__init__()
        self.notes = log
        self.title = f"notifications ({len(log)})"

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        with VerticalScroll(id="notes-body"):
            yield Static(self.rendered(), id="notes")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one("#notes-body").focus()

    def rendered(self) -> Text:
        """Newest first; hosts' words literal (Text, never markup)."""
        out = Text()
        for note in reversed(list(self.notes)):
            out.append(time.strftime("%H:%M:%S", time.localtime(note.wall)) + "  ", "dim")
            out.append(f"{note.severity:<11}", SEVERITY_STYLE.get(note.severity, ""))
            if note.title:
                out.append(printable(note.title), "bold")
            out.append("\n  " + printable(" ".join(note.message.split())) + "\n")
        if not out:
            out.append("no notifications yet", "dim")
        return out
