"""`:`: a command line at the bottom of the screen, Tab completing the command, a host or a domain name."""

from __future__ import annotations

from collections.abc import Callable
from os.path import commonprefix
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

SHOWN_CHOICES = 12
"""Completions listed under the line at most (the rest: "and N more")."""


class CommandLineModal(ModalScreen[str | None]):
    """The `:` line: Enter runs it (the app decides what it means), Esc closes it, Tab completes."""

    DEFAULT_CSS = """
    CommandLineModal { align: left bottom; background: $background 30%; }
    CommandLineModal > Vertical { height: auto; width: 100%; background: $panel; }
    CommandLineModal #command-choices { height: auto; max-height: 6; padding: 0 1; color: $text-muted; }
    CommandLineModal Horizontal { height: 1; }
    CommandLineModal #command-colon { width: 1; height: 1; }
    CommandLineModal Input#command-line, CommandLineModal Input#command-line:focus {
        border: none; height: 1; padding: 0 0; width: 1fr;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        # A priority binding: the Input would otherwise let Tab move the focus away.
        Binding("tab", "complete", "Complete", priority=True),
    ]

    def __init__(self, complete: Callable[[str], list[str]]) -> None:
        """`complete`: the whole lines that the text typed so far may become."""
        super().__init__()
        self._complete = complete

    def compose(self) -> ComposeResult:
        with Vertical():
            # markup=False: completions are host and domain names, shown literally.
            yield Static("", id="command-choices", markup=False)
            with Horizontal():
                yield Static(":", id="command-colon")
                yield Input(placeholder="command (Tab completes; Esc closes)", id="command-line", select_on_focus=False)

    @property
    def line(self) -> Input:
        return self.query_one("#command-line", Input)

    def on_mount(self) -> None:
        self.query_one("#command-choices", Static).display = False
        self.line.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_complete(self) -> None:
        """The longest text every completion shares; more than one: they are listed above the line."""
        line = self.line
        choices = self._complete(line.value)
        shared = commonprefix(choices) if choices else line.value
        if len(shared) > len(line.value):
            line.value = shared
            line.cursor_position = len(shared)
        box = self.query_one("#command-choices", Static)
        box.display = len(choices) != 1
        if not choices:
            box.update("no completion")
        elif len(choices) > 1:
            more = len(choices) - SHOWN_CHOICES
            box.update("  ".join(choices[:SHOWN_CHOICES]) + (f"  … and {more} more" if more > 0 else ""))
