"""What every operation shares: progress reports, cancellation, and the refusal before any call.

An operation is one blocking function with no Textual, typer or rich in it. Long ones take a
`progress` callback and a `cancel` Event and return a result value: the CLI passes a progress
printer, the TUI's job runner a function that posts a message from its worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from vmtui.errors import ExitCode, VmtuiError


@dataclass(frozen=True, slots=True)
class Step:
    """One progress report of a running operation."""

    text: str
    """What is happening now, for humans ("iteration 3: 120 MiB left")."""
    fraction: float | None = None
    """Done so far, 0..1, when it can be told; never goes down within one operation."""
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """The figures behind the text, for `--json` and the TUI's progress view."""


Progress = Callable[[Step], None]
"""Called from the operation's own thread; must not block for long."""


def no_progress(_step: Step) -> None:
    """For callers that do not show progress."""


def never_cancelled() -> threading.Event:
    """A cancel Event nobody sets."""
    return threading.Event()


class UserCancelledError(VmtuiError):
    """The user asked the operation to stop (Ctrl-C, a key in the TUI) and it did, cleanly."""

    exit_code = ExitCode.INTERRUPTED
    kind = "cancelled"


def check_cancel(cancel: threading.Event, what: str) -> None:
    """Between steps: stop here when the user asked to."""
    if cancel.is_set():
        raise UserCancelledError(f"{what}: cancelled")
