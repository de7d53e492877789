"""`Monitor`: the pollers of many hosts and one queue of their events, for faces without an event loop.

`vmtui top`, `record` and `export` drive it from a plain thread: `tick()` asks every poller for a
sample, `round()` gathers what arrived for that tick. A host that drops is reported once, reconnects
with backoff on its own, and comes back with the same guests; the others never wait for it.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from vmtui.models import HostEntry, HostInfo
from vmtui.monitor.events import (
    DomainChanged,
    HostConnected,
    HostDisconnected,
    HostSampled,
    MonitorEvent,
    SourceEnded,
)
from vmtui.monitor.poller import BACKOFF_FIRST, BACKOFF_MAX, Connector, HostPoller, open_host


@dataclass(slots=True)
class Round:
    """What one tick brought: the newest sample per host, and every other event in arrival order."""

    samples: dict[str, HostSampled] = field(default_factory=dict)
    events: list[MonitorEvent] = field(default_factory=list)


class Monitor:
    """One HostPoller per entry, their events in a queue."""

    def __init__(
        self,
        entries: Sequence[HostEntry],
        *,
        connector: Connector = open_host,
        backoff: tuple[float, float] = (BACKOFF_FIRST, BACKOFF_MAX),
        derive: bool = True,
    ) -> None:
        """`derive=False`: the hosts' samples without domain metrics (the exporter's; see `Collector`)."""
        self.entries = list(entries)
        self._queue: queue.Queue[MonitorEvent] = queue.Queue()
        self.pollers = [
            HostPoller(
                e, self._queue.put, connector=connector, backoff_first=backoff[0], backoff_max=backoff[1], derive=derive
            )
            for e in self.entries
        ]
        self.connected: set[str] = set()
        """Hosts whose poller holds an open connection now."""
        self.ended: set[str] = set()
        """Hosts whose finite source (a recording) has run out."""
        self.down: dict[str, HostDisconnected] = {}
        self.last_sample: dict[str, HostSampled] = {}
        self.infos: dict[str, HostInfo] = {}
        """Each host's facts, as its poller last connected."""

    def __enter__(self) -> Monitor:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def stop(self) -> None:
        # Daemon threads: a poller stuck on a hung host is abandoned, never waited for.
        for poller in self.pollers:
            poller.cancel()

    def tick(self) -> None:
        """Ask every connected poller for one sample (merged with any request still pending)."""
        for poller in self.pollers:
            poller.schedule_update()

    @property
    def finished(self) -> bool:
        """Every host was a finite source and all of them have ended."""
        return len(self.ended) == len(self.pollers)

    def _note(self, event: MonitorEvent) -> None:
        match event:
            case HostConnected(host=host):
                self.infos[host] = event.info
                self.connected.add(host)
                self.down.pop(host, None)
            case HostSampled(host=host):
                self.connected.add(host)
                self.last_sample[host] = event
            case HostDisconnected(host=host):
                self.connected.discard(host)
                self.down[host] = event
            case SourceEnded(host=host):
                self.connected.discard(host)
                self.ended.add(host)
            case DomainChanged():
                pass

    def next_event(self, timeout: float) -> MonitorEvent | None:
        try:
            event = self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        self._note(event)
        return event

    def round(self, deadline: float, *, wanted: set[str] | None = None) -> Round:
        """Events until every host in `wanted` (default: the connected ones) has sampled, or `deadline`.

        `deadline` is a time.monotonic() value: a host that does not answer in time is simply absent
        from this round's samples (its last one is still in `last_sample`).
        """
        out = Round()
        while True:
            waiting = (self.connected if wanted is None else wanted) - set(out.samples) - self.ended
            waiting -= set(self.down)
            if not waiting and out.samples:
                break
            event = self.next_event(deadline - time.monotonic())
            if event is None:
                if time.monotonic() >= deadline:
                    break
                continue
            if isinstance(event, HostSampled):
                out.samples[event.host] = event
            else:
                out.events.append(event)
            if self.finished:
                break
        return out
