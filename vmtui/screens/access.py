"""What the storage, network and domain screens share: a way to run blocking work against a host,
handed in by the app, and a loader that runs it on a thread worker.

A screen never opens a connection on Textual's loop: `load` runs `fetch` on a thread and posts the
frozen result (or the error's words) back as `Loaded`, handled on the loop. Changes are not made
here: screens post `messages.ChangeRequested`, which the app confirms and runs as a job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from textual.dom import DOMNode
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen

from vmtui.drivers.base import Hypervisor
from vmtui.errors import VmtuiError
from vmtui.present import one_line

log = logging.getLogger("vmtui.screens")
T = TypeVar("T")


class HostAccess(Protocol):
    """Runs `work` with a fresh connection to one host, on the calling (worker) thread, and closes it."""

    def __call__(self, work: Callable[[Hypervisor], T], /) -> T: ...


@runtime_checkable
class ReloadsAfterJobs(Protocol):
    """A screen that shows what a job may have changed on `host` and reloads when one ends."""

    def job_finished(self, host: str) -> None: ...


@dataclass
class Loaded(Message, bubble=False):
    """A loader finished: `value` is frozen data, or `error` says (in libvirt's words) why not."""

    what: str
    seq: int
    value: Any = None
    error: str | None = None


class Loader:
    """Runs fetches for `owner` (a screen or a widget) on thread workers; answers come back to it as `Loaded`."""

    def __init__(self, owner: DOMNode, access: HostAccess) -> None:
        self.owner = owner
        self.access = access
        self._seq: dict[str, int] = {}

    def load(self, what: str, fetch: Callable[[Hypervisor], object]) -> None:
        """Fetch in a worker; the answer of an older load of the same `what` is dropped when it comes late."""
        seq = self._seq[what] = self._seq.get(what, 0) + 1
        owner = self.owner

        def work() -> None:
            try:
                value = self.access(fetch)
            except VmtuiError as exc:
                owner.post_message(Loaded(what, seq, error=exc.message))
            except Exception as exc:  # never let a worker die silently: say it where the data would be
                log.exception("loading %s failed", what)
                owner.post_message(Loaded(what, seq, error=f"internal error: {exc}"))
            else:
                owner.post_message(Loaded(what, seq, value=value))

        owner.run_worker(work, name=f"load {what}", group=f"load-{what}", thread=True, exit_on_error=False)

    def fresh(self, message: Loaded) -> bool:
        """The answer of the newest load of its kind, for an owner still on screen."""
        return message.seq == self._seq.get(message.what) and self.owner.is_attached


class LoadingScreen(Screen[None]):
    """A screen of one host's data the pollers do not collect (pools, networks), loaded by a `Loader`."""

    def __init__(self, host: str, access: HostAccess) -> None:
        super().__init__()
        self.host = host
        self.loader = Loader(self, access)

    def load(self, what: str, fetch: Callable[[Hypervisor], object]) -> None:
        self.loader.load(what, fetch)

    def on_loaded(self, message: Loaded) -> None:
        if self.loader.fresh(message):
            self.loaded(message)

    def loaded(self, message: Loaded) -> None:
        """Show what a load brought (on Textual's loop)."""


def say(screen: Screen[Any], message: str, *, title: str = "", severity: SeverityLevel = "information") -> None:
    """A notification as the app's `say` makes it: one line, shown literally (never markup)."""
    screen.notify(one_line(message), title=one_line(title, 60), severity=severity, markup=False)
