"""A tick box that reads as what it is: empty when off, ticked when on, in any terminal's colours."""

from __future__ import annotations

from textual.widgets import Checkbox


class TickBox(Checkbox):
    """Textual's Checkbox draws an X in both states, off only in a darker colour: in many terminals an
    unticked option looked ticked. Here the box is empty until it is ticked."""

    BUTTON_INNER = " "

    def watch_value(self) -> None:
        self._draw_inner()
        super().watch_value()

    def on_mount(self) -> None:
        self._draw_inner()

    def _draw_inner(self) -> None:
        self.BUTTON_INNER = "X" if self.value else " "
        self.refresh()
