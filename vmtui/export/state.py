"""What the exporter knows about each host: fed by the monitor's events, read by scrapes.

One thread writes (the exporter's driver thread, which drains the Monitor's queue); any number of
HTTP threads read. Both hold the lock only to swap or copy references to frozen values, so a scrape
never waits on a host, and a host never waits on a scrape.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from vmtui.export.families import HostView
from vmtui.models import HostInfo
from vmtui.monitor.events import (
    DomainChanged,
    HostConnected,
    HostDisconnected,
    HostSampled,
    MonitorEvent,
    SourceEnded,
)


@dataclass(slots=True)
class _Host:
    up: bool = False
    info: HostInfo | None = None
    sampled: HostSampled | None = None
    error: str | None = None


class ExportState:
    """The last word of every host's poller, for scrapes."""

    def __init__(self, hosts: Sequence[str]) -> None:
        self._lock = threading.Lock()
        self._hosts: dict[str, _Host] = {name: _Host() for name in hosts}
        """In the order the hosts were given: the exposition lists them so."""

    def apply(self, event: MonitorEvent) -> None:
        """Fold one monitor event in (the driver thread calls this)."""
        with self._lock:
            host = self._hosts.setdefault(event.host, _Host())
            match event:
                case HostConnected(info=info):
                    host.up, host.info, host.error = True, info, None
                case HostSampled():
                    host.up, host.sampled, host.error = True, event, None
                case HostDisconnected(reason=reason):
                    host.up, host.error = False, reason
                case SourceEnded():
                    host.up, host.error = False, "recording ended"
                case DomainChanged():
                    pass  # the re-sample the poller asks for carries the change

    def views(self) -> list[HostView]:
        """A copy of every host's state (the scrape works on it without the lock)."""
        with self._lock:
            return [HostView(name, h.up, h.info, h.sampled, h.error) for name, h in self._hosts.items()]
