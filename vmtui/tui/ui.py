"""What the TUI's controllers may do to the app.

The controllers (`vmtui.tui.tools`, `.resources`, `.memory`, `.migrate_flow`, `.domains`, `.hosts`)
are plain classes: they never see the `App`, only this `Ui` (say a line, show or close a screen, look
one up, redraw a host's rows and the keys, hand the terminal over). Everything here runs on Textual's
event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from rich.color import Color as RichColor
from textual.app import App, SuspendNotSupported
from textual.color import Color
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Header

from vmtui.errors import VmtuiError
from vmtui.screens.domain import DomainScreen
from vmtui.screens.host import HostScreen
from vmtui.screens.live import LiveScreen
from vmtui.tui.fleet import Fleet

log = logging.getLogger("vmtui.app")

T = TypeVar("T")
S = TypeVar("S", bound=Screen[Any])


def paint_header(screen: Screen[Any], colour: str) -> None:
    """A host's screen framed in its colour (k9s's red production context): the header's background."""
    for header in screen.query(Header):
        header.styles.background = Color.from_rich_color(RichColor.parse(colour))
        header.styles.color = header.styles.background.get_contrast_text()


class Ui:
    """The app as its controllers see it."""

    def __init__(self, app: App[None], fleet: Fleet, host_screen: HostScreen) -> None:
        self._app = app
        self._fleet = fleet
        self.host_screen = host_screen
        self._keys_for: tuple[str, str | None, str | None] | None = None

    @property
    def running(self) -> bool:
        """False once the app began to quit: its screens are going, nothing more is shown."""
        return self._app.is_running

    def say(self, message: str, *, title: str = "", severity: SeverityLevel = "information") -> None:
        """A notification shown literally (names and libvirt's words are never markup); the app shows it
        on one line and keeps it whole in its notification log (`VmtuiApp.notify`)."""
        self._app.notify(message, title=title, severity=severity, markup=False)

    def every(self, seconds: float, callback: Callable[[], None]) -> Timer:
        """Call `callback` on the loop every `seconds` until the returned timer is stopped."""
        return self._app.set_interval(seconds, callback)

    def show(self, screen: Screen[T], answered: Callable[[T | None], None] | None = None) -> None:
        """Push `screen`; `answered` gets what it returns when it is dismissed (a modal's answer)."""
        self._app.push_screen(screen, answered)
        colour = self.host_colour(screen)
        if colour is not None:
            screen.call_after_refresh(paint_header, screen, colour)

    def host_colour(self, screen: Screen[Any]) -> str | None:
        """The saved colour of the host a screen is about (its `host`, else its domain's), if it has one."""
        host = getattr(screen, "host", None)
        uuid = getattr(screen, "uuid", None)
        if not isinstance(host, str) and isinstance(uuid, str):
            found = self._fleet.find(uuid)
            host = found[0].name if found is not None else None
        view = self._fleet.hosts.get(host) if isinstance(host, str) else None
        return view.colour if view is not None else None

    def close_top(self) -> None:
        self._app.pop_screen()

    @property
    def top(self) -> Screen[Any] | None:
        """The screen on top; None while the app closes (or before it runs), when its screens are gone
        but the messages of its threads (a KSM reading, a job's end) may still arrive."""
        stack = self._app.screen_stack
        return stack[-1] if stack else None

    @property
    def stack(self) -> list[Screen[Any]]:
        """The screens open, bottom first."""
        return list(self._app.screen_stack)

    def find(self, kind: type[S], test: Callable[[S], bool] = lambda _s: True) -> S | None:
        """The first screen of `kind` in the stack that passes `test`, or None."""
        for screen in self._app.screen_stack:
            if isinstance(screen, kind) and test(screen):
                return screen
        return None

    def subtitle(self, text: str) -> None:
        self._app.sub_title = text

    def selected_uuid(self) -> str | None:
        """The domain the keys act on: the top screen's, else the dashboard's selected row."""
        screen = self._app.screen
        if isinstance(screen, (HostScreen, DomainScreen)):
            return screen.selected_uuid()
        return self.host_screen.selected_uuid()

    def redraw(self, host: str) -> None:
        """`host`'s rows on the dashboard, then the keys."""
        self.host_screen.update_rows(host)
        self.refresh_keys()

    def refresh_keys(self) -> None:
        """Re-evaluate which action keys apply, only when the selected domain's state changed.

        `refresh_bindings` rebuilds the Footer; doing it every tick cost more than the whole table.
        """
        uuid = self.selected_uuid()
        state = self._fleet.shown_state(uuid) if uuid else None
        key = (type(self._app.screen).__name__, uuid, state)
        if key != self._keys_for:
            self._keys_for = key
            self._app.screen.refresh_bindings()

    def sample_arrived(self, host: str, uuids: Collection[str]) -> None:
        """New data of `host` reached the fleet: the screen on top re-renders if it shows live data."""
        screen = self._app.screen
        if isinstance(screen, LiveScreen):
            screen.sample_arrived(host, uuids)

    def hand_over(self, what: str, run: Callable[[], T]) -> tuple[bool, T | None]:
        """Give the terminal to `run` (an editor, a console) and always take it back.

        Textual's `suspend` does not resume after an exception raised inside it (the screen stays blank
        and deaf), so nothing may leave the block: whatever `run` raises is caught there and said after
        the TUI is back. (True, what `run` returned), or (False, None) when it did not end well.
        """
        problem = ""
        try:
            with self._app.suspend():
                try:
                    return True, run()
                except VmtuiError as exc:
                    problem = str(exc)
                except (Exception, KeyboardInterrupt) as exc:  # Ctrl-C reaches vmtui too while a tool runs
                    log.error("%s: the program handed the terminal failed", what, exc_info=exc)
                    problem = f"internal error: {exc!r} (traceback in the log file)"
        except SuspendNotSupported:
            problem = "this terminal cannot be handed over"
        finally:
            if problem:
                self.say(f"{what}: {problem}", severity="error")
        return False, None
