"""What a poller reports: frozen values that cross from its thread to whoever watches.

Named in the past tense: each says what happened, never what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vmtui.models import DomainInfo, HostInfo
from vmtui.monitor.collector import Tick


@dataclass(frozen=True, slots=True)
class HostConnected:
    """A poller opened (or re-opened) its host and registered for lifecycle events."""

    host: str
    info: HostInfo
    reconnected: bool
    """True when an earlier connection had been lost: tell the user once."""


@dataclass(frozen=True, slots=True)
class HostSampled:
    """One poll of one host: raw sample, derived metrics and the domains' XML facts."""

    host: str
    tick: Tick
    domains: Mapping[str, DomainInfo]
    """The poller's current domain facts keyed by UUID (a fresh read-only mapping per event)."""
    lossless: bool = False
    """Live samples supersede each other; a recording's must all be seen (none coalesced away)."""


@dataclass(frozen=True, slots=True)
class HostDisconnected:
    """A host could not be reached: lost while polling, or a (re)connect attempt failed."""

    host: str
    reason: str
    since: float
    """time.time() when the host was first seen down (kept across retries)."""
    retry_at: float
    """time.time() of the next connection attempt."""
    attempt: int
    """1 for the first failure; tell the user only then."""


@dataclass(frozen=True, slots=True)
class DomainChanged:
    """libvirt reported a lifecycle event (started, stopped, suspended, migrating, ...) for a domain, or
    on a live connection a job event: "migration-iteration" (`detail`: the pass) or "job-completed"
    (`detail` 0), which the poller registers beside the lifecycle events (`HostPoller._register_events`)."""

    host: str
    uuid: str
    event: str
    detail: int
    wall: float
    """time.time() when libvirt delivered it: samples taken earlier do not undo what it shows."""


@dataclass(frozen=True, slots=True)
class SourceEnded:
    """A finite source (a recording) handed out its last sample; its poller has stopped."""

    host: str
    samples: int


MonitorEvent = HostConnected | HostSampled | HostDisconnected | DomainChanged | SourceEnded
