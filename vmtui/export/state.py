"""What the exporter knows about each host: fed by the monitor's events, read by scrapes.

One thread writes (the exporter's driver thread, which drains the Monitor's queue) and renders the host's
series right away (`vmtui.export.render`); any number of HTTP threads read the rendered page. Both hold a
lock only to swap or copy references, so a scrape never waits on a host, and a host never waits on a scrape.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from vmtui.export.families import HostView
from vmtui.export.render import FleetPage, Page
from vmtui.monitor.events import (
    DomainChanged,
    HostConnected,
    HostDisconnected,
    HostSampled,
    MonitorEvent,
    SourceEnded,
)


class ExportState:
    """The last word of every host's poller, rendered for scrapes."""

    def __init__(self, hosts: Sequence[str], *, interval: float | None = None) -> None:
        """`interval`: seconds between two polls of a host, to render only the polls a scrape will serve
        (`render.ScrapeClock`); None renders every poll."""
        self._views: dict[str, HostView] = {name: HostView(name, False, None, None) for name in hosts}
        """In the order the hosts were given: the exposition lists them so (the driver thread's own)."""
        self._page = FleetPage(hosts, interval=interval)

    def apply(self, event: MonitorEvent) -> None:
        """Fold one monitor event in and render what it changed (the driver thread calls this)."""
        view = self._views.get(event.host) or HostView(event.host, False, None, None)
        match event:
            case HostConnected(info=info):
                view = replace(view, up=True, info=info, error=None)
            case HostSampled():
                view = replace(view, up=True, sampled=event, error=None)
            case HostDisconnected(reason=reason):
                view = replace(view, up=False, error=reason)
            case SourceEnded():
                view = replace(view, up=False, error="recording ended")
            case DomainChanged():
                return  # the re-sample the poller asks for carries the change
        self._views[event.host] = view
        self._page.put(view, sampled=isinstance(event, HostSampled))

    def views(self) -> list[HostView]:
        """Every host's state as last rendered."""
        return self._page.views()

    def page(self, tail: bytes = b"", now: float | None = None) -> Page:
        """What a scrape serves at `now` (default: the clock's now): the fleet's page, then `tail`."""
        return self._page.page(time.time() if now is None else now, tail)
