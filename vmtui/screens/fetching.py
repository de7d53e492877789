"""What the screens of data the pollers do not collect share (devices, SR-IOV, storage, networks,
guest facts): they post `messages.FetchRequested` with a key, the app reads on a daemon thread and
hands the `DataFetched` answer to every screen waiting for that key, and asks them to fetch again
when a job ends. Changes go up as `messages.OperationRequested`."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from textual.notifications import SeverityLevel
from textual.screen import Screen

from vmtui.tui.messages import DataFetched


@runtime_checkable
class FetchingScreen(Protocol):
    @property
    def fetch_key(self) -> str:
        """Names what the screen waits for ("storage:kvm1"): answers to other keys are not its own."""

    def refetch(self) -> None:
        """Ask again (after a job, or when the user asks)."""

    def show_data(self, message: DataFetched) -> None:
        """Show an answer (on Textual's loop)."""


def say(screen: Screen[Any], message: str, *, title: str = "", severity: SeverityLevel = "information") -> None:
    """A notification as the app's `say` makes it: shown literally (never markup); the app cuts it to one
    line and keeps it whole in its log."""
    screen.notify(message, title=title, severity=severity, markup=False)


class Reads:
    """Counts the reads a screen asked for and has not had answered yet.

    A job's end asks the screen to read again, and the "done" notification comes before the answer: until
    it comes, the screen still shows the host as it was before the change. A change decided from that is
    wrong (pressing `A` twice on a network would ask "autostart on" twice), so a screen refuses its changes
    while a read is out.
    """

    def __init__(self) -> None:
        self._out = 0

    def asked(self) -> None:
        self._out += 1

    def answered(self) -> None:
        self._out = max(0, self._out - 1)

    def refusal(self) -> str | None:
        return "still reading the host (after the last change); again in a moment" if self._out else None
