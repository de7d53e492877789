"""Messages from the poller threads (and action workers) to the UI.

Named in the past tense: each says what happened, never what to do. Every payload is frozen (or
built fresh per message and never touched again by its sender), because it crosses from a thread
to Textual's event loop through `App.post_message`, which is thread-safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.message import Message

from vmtui.collector import Tick
from vmtui.models import DomainInfo, HostInfo


@dataclass
class HostConnected(Message, bubble=False):
    """A poller opened (or re-opened) its host and registered for lifecycle events."""

    host: str
    info: HostInfo
    reconnected: bool
    """True when an earlier connection had been lost: the UI tells the user once."""


@dataclass
class HostSampled(Message, bubble=False):
    """One poll of one host: raw sample, derived metrics and the domains' XML facts."""

    host: str
    tick: Tick
    domains: Mapping[str, DomainInfo]
    """The poller's current domain facts keyed by UUID (a fresh read-only mapping per message)."""
    replaceable: bool = True
    """Live samples supersede each other; a replay sets False so every recorded sample reaches the history."""

    def can_replace(self, message: Message) -> bool:
        # If the UI falls behind, an older sample of the same host still in the queue is dropped:
        # the newest one carries everything the table needs.
        return self.replaceable and isinstance(message, HostSampled) and message.host == self.host


@dataclass
class HostDisconnected(Message, bubble=False):
    """A host could not be reached: lost while polling, or a (re)connect attempt failed."""

    host: str
    reason: str
    since: float
    """time.time() when the host was first seen down (kept across retries)."""
    retry_at: float
    """time.time() of the next connection attempt."""
    attempt: int
    """1 for the first failure; the UI notifies only on the first."""


@dataclass
class DomainEventReceived(Message, bubble=False):
    """libvirt reported a lifecycle event (started, stopped, suspended, ...) for a domain."""

    host: str
    uuid: str
    event: str
    detail: int
    wall: float
    """time.time() when libvirt delivered it: samples taken earlier do not undo what it shows."""


@dataclass
class ActionFinished(Message, bubble=False):
    """A lifecycle action worker finished, successfully or not."""

    host: str
    uuid: str
    name: str
    action: str
    ok: bool
    message: str


@dataclass
class ReplayFinished(Message, bubble=False):
    """A replay source posted its last recorded sample."""

    samples: int
