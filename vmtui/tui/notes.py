"""Every notification the TUI showed, whole: a toast is one line and may be cut, the log is not.

`VmtuiApp.notify` adds each one here before the toast is made; the notifications screen lists them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

KEPT = 500
"""Notifications kept (the oldest go first): an hour of a busy session."""


@dataclass(frozen=True, slots=True)
class Note:
    wall: float
    severity: str
    title: str
    message: str
    """The whole text, as it was said (never cut)."""


class NotificationLog:
    """The last `KEPT` notifications, oldest first."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._notes: deque[Note] = deque(maxlen=KEPT)
        self._clock = clock

    def add(self, severity: str, title: str, message: str) -> None:
        self._notes.append(Note(self._clock(), severity, title, message))

    def __iter__(self) -> Iterator[Note]:
        return iter(tuple(self._notes))

    def __len__(self) -> int:
        return len(self._notes)
