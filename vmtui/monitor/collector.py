"""Sampling one host over time: the bulk stats call, the previous sample, the derived metrics.

Used by every HostPoller (the TUI, `top`, `record`, `export`) on its own thread. Blocking; one
Collector per connection, never shared between threads. The only place a `Tick` is assembled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from vmtui.drivers.base import Hypervisor
from vmtui.errors import NotFoundError
from vmtui.metrics import DomainMetrics, HostMetrics, domain_metrics, host_metrics, sample_metrics
from vmtui.models import DomainInfo, HostInfo, HostSample


@dataclass(frozen=True, slots=True)
class Tick:
    """One collection round of one host: the raw sample and what was derived from it."""

    sample: HostSample
    host: HostMetrics
    domains: Mapping[str, DomainMetrics] = field(default_factory=lambda: MappingProxyType({}))
    """Keyed by UUID; read-only, since ticks cross from the poller thread to the UI."""


class Collector:
    """The previous sample of one host and the metrics of each new one."""

    def __init__(self, conn: Hypervisor, host: str) -> None:
        self.conn = conn
        self.host = host
        self.finite = conn.finite
        self.info: HostInfo = conn.host_info()
        self.domains: dict[str, DomainInfo] = {d.uuid: d for d in conn.list_domains()}
        self._prev: HostSample | None = None
        self._static: dict[str, DomainMetrics] = {}
        """Metrics of domains whose counters did not move in the last interval (shut-off, idle test
        domains): while they stay put, the same object is handed out again instead of recomputed."""

    def refresh_domains(self) -> None:
        """Re-read every domain's XML facts (after lifecycle events, or when unknown UUIDs appear)."""
        self.domains = {d.uuid: d for d in self.conn.list_domains()}

    def refresh_domain(self, uuid: str) -> None:
        """Re-read one domain's XML facts; a domain that is gone (undefined, migrated away) is dropped."""
        try:
            self.domains[uuid] = self.conn.domain(uuid)
        except NotFoundError:
            self.domains.pop(uuid, None)

    def tick(self) -> Tick:
        sample = self.conn.sample(self.host)
        if any(d.uuid not in self.domains for d in sample.domains):
            self.refresh_domains()
        tick = Tick(sample=sample, host=host_metrics(self._prev, sample), domains=self._metrics(sample))
        self._prev = sample
        return tick

    def _metrics(self, sample: HostSample) -> Mapping[str, DomainMetrics]:
        prev = self._prev
        if prev is None:
            return MappingProxyType(sample_metrics(None, sample, host_cpus=self.info.cpus))
        elapsed = sample.monotonic - prev.monotonic
        before = {d.uuid: d for d in prev.domains}
        out: dict[str, DomainMetrics] = {}
        static: dict[str, DomainMetrics] = {}
        for d in sample.domains:
            p = before.get(d.uuid)
            unchanged = p is not None and p.raw == d.raw
            m = self._static.get(d.uuid) if unchanged else None
            if m is None:
                m = domain_metrics(p, d, elapsed, host_cpus=self.info.cpus)
            if unchanged:
                static[d.uuid] = m
            out[d.uuid] = m
        self._static = static
        return MappingProxyType(out)
