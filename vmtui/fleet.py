"""What the UI knows about the fleet: host states, latest metrics, per-domain history.

Lives on Textual's event loop only: message handlers update it, widgets read it. No thread ever
touches it (the pollers send frozen messages instead), so it needs no locks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from vmtui.collector import Tick
from vmtui.metrics import DomainMetrics
from vmtui.models import DomainInfo, HostInfo
from vmtui.widgets.domain_table import DomainRow

HISTORY_POINTS = 300
"""Five minutes at 1 Hz."""

ACTIVE_STATES = ("running", "blocked", "paused", "shutting-down", "pmsuspended")


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One sample of a domain, for the domain screen's graphs."""

    cpu: float
    overhead: float
    io_bps: float
    memory_kib: float


@dataclass(slots=True)
class HostView:
    """One host as the UI sees it."""

    name: str
    read_only: bool
    status: str = "connecting"
    """connecting, connected, disconnected or replay."""
    info: HostInfo | None = None
    reason: str = ""
    down_since: float | None = None
    retry_at: float | None = None
    tick: Tick | None = None
    domains: Mapping[str, DomainInfo] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def last_sample_wall(self) -> float | None:
        return self.tick.sample.wall if self.tick else None

    def overcommit(self) -> float | None:
        """Sum of running guests' max memory over host memory (above 1.0 relies on ballooning/KSM/swap)."""
        if self.info is None or not self.info.memory_kib:
            return None
        total = sum(d.max_memory_kib for d in self.domains.values() if d.state in ACTIVE_STATES)
        return total / self.info.memory_kib


class Fleet:
    """Hosts, their latest ticks, and bounded history per domain UUID."""

    def __init__(self, hosts: list[tuple[str, bool]], *, history_points: int = HISTORY_POINTS) -> None:
        self.hosts: dict[str, HostView] = {name: HostView(name, ro) for name, ro in hosts}
        self.history: dict[str, deque[HistoryPoint]] = {}
        self._points = history_points
        # Per UUID, what the last row and history point were built from: a domain whose metrics and
        # facts are the same objects as last tick (the collector reuses them while counters stand
        # still) costs nothing to redraw.
        self._last_point: dict[str, tuple[DomainMetrics, HistoryPoint]] = {}
        self._last_row: dict[str, tuple[object, object, float | None, DomainRow]] = {}

    def add_host(self, name: str, read_only: bool) -> HostView:
        view = self.hosts[name] = HostView(name, read_only)
        return view

    def remove_host(self, name: str) -> None:
        """Forget a host and the history of its domains (unless another host holds them now)."""
        view = self.hosts.pop(name, None)
        if view is not None:
            self._forget(set(view.domains) | set(view.tick.domains if view.tick else ()))

    def _forget(self, uuids: set[str]) -> None:
        """Drop the history and caches of these domains, except those a host holds now (migrated ones)."""
        held = {u for v in self.hosts.values() for u in v.domains}
        for uuid in uuids - held:
            self.history.pop(uuid, None)
            self._last_point.pop(uuid, None)
            self._last_row.pop(uuid, None)

    def host(self, name: str) -> HostView:
        if name not in self.hosts:
            self.hosts[name] = HostView(name, read_only=False)
        return self.hosts[name]

    def sampled(self, name: str, tick: Tick, domains: Mapping[str, DomainInfo]) -> None:
        view = self.host(name)
        before = set(view.domains) | set(view.tick.domains if view.tick else ())
        view.tick, view.domains = tick, domains
        if view.status != "replay":
            view.status = "connected"
        view.down_since = view.retry_at = None
        view.reason = ""
        for uuid, m in tick.domains.items():
            if m.elapsed_s <= 0:
                continue  # the first sample of a domain has no rates yet
            hist = self.history.get(uuid)
            if hist is None:
                hist = self.history[uuid] = deque(maxlen=self._points)
            last = self._last_point.get(uuid)
            if last is not None and last[0] is m:
                point = last[1]
            else:
                io = (m.disk_read_bps or 0) + (m.disk_write_bps or 0) + (m.net_rx_bps or 0) + (m.net_tx_bps or 0)
                mem = m.balloon_current_kib or (m.rss_kib or 0)
                point = HistoryPoint(m.cpu_pct or 0.0, m.overhead_pct or 0.0, io, float(mem))
                self._last_point[uuid] = (m, point)
            hist.append(point)
        # Only this host's vanished domains lose their history: other hosts' samples arrive separately.
        self._forget(before - set(domains) - set(tick.domains))

    def find(self, uuid: str) -> tuple[HostView, DomainInfo | None, DomainMetrics | None] | None:
        """The host holding `uuid`, its XML facts and latest metrics."""
        for view in self.hosts.values():
            info = view.domains.get(uuid)
            metrics = view.tick.domains.get(uuid) if view.tick else None
            if info is not None or metrics is not None:
                return view, info, metrics
        return None

    def rows(self, name: str) -> list[DomainRow]:
        """The table rows of one host, marked stale while the host is down."""
        view = self.host(name)
        stale = view.last_sample_wall if view.status == "disconnected" else None
        metrics = view.tick.domains if view.tick else {}
        out = []
        for uuid in set(view.domains) | set(metrics):
            info = view.domains.get(uuid)
            m = metrics.get(uuid)
            cached = self._last_row.get(uuid)
            if cached is not None and cached[0] is m and cached[1] is info and cached[2] == stale:
                out.append(cached[3])
                continue
            # The bulk stats of this tick are newer than the XML facts, which are re-read only on events.
            state = m.state if m is not None else (info.state if info else "?")
            row = DomainRow(
                uuid=uuid,
                host=name,
                name=info.name if info else (m.name if m else uuid),
                state=state,
                accel=str(info.accelerator) if info else "?",
                vcpus=info.vcpus if info else (m.vcpu_count if m else 0),
                cpu=m.cpu_pct if m else None,
                steal=m.steal_pct if m else None,
                overhead=m.overhead_pct if m else None,
                mem_cur_kib=_first(m.balloon_current_kib if m else None, info.memory_kib if info else None),
                mem_max_kib=_first(m.balloon_max_kib if m else None, info.max_memory_kib if info else None),
                disk_bps=_add(m.disk_read_bps, m.disk_write_bps) if m else None,
                net_bps=_add(m.net_rx_bps, m.net_tx_bps) if m else None,
                exits=m.exits_per_s if m else None,
                stale_since=stale,
            )
            self._last_row[uuid] = (m, info, stale, row)
            out.append(row)
        return out


def _add(a: float | None, b: float | None) -> float | None:
    if a is None and b is None:
        return None
    return (a or 0.0) + (b or 0.0)


def _first(a: int | None, b: int | None) -> int | None:
    return a if a else b
