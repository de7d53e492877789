"""Sampling one host over time: the bulk stats call, the previous sample, the derived metrics.

Used by every HostPoller (the TUI, `top`, `record`, `export`) on its own thread. Blocking; one
Collector per connection, never shared between threads. The only place a `Tick` is assembled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from vmtui.drivers.base import Hypervisor
from vmtui.errors import NotFoundError
from vmtui.metrics import DomainMetrics, HostMetrics, domain_metrics, host_metrics
from vmtui.models import DomainInfo, DomainStats, HostInfo, HostSample

SLOW_ROUND = 5
"""With a focus, every SLOW_ROUND-th tick samples every domain; the others sample only the focus."""
SLOW_ROUND_DOMAINS = 1000
"""...and on a host of more domains than SLOW_ROUND x this, every (domains / this)-th: the full round's bulk
call is the cost of a large host (libvirt-python decodes every record: ~125 ms of CPU for 10 000 test-driver
domains), so off-screen rows are refreshed at ~this many a second, not all of them every 5 s (10 000: every
10 s; rows show their age meanwhile, as always)."""
FACTS_AT_ONCE = 1000
"""A host with more domains than this shows its first sample before their XML facts are read (one
XMLDesc round trip each: ~5 s for 10 000 test-driver domains); see Collector's `facts_at_once`."""


@dataclass(frozen=True, slots=True)
class Tick:
    """One collection round of one host: the raw sample and what was derived from it."""

    sample: HostSample
    """What this round's calls returned: every domain, or on a focused round only the focus."""
    host: HostMetrics
    domains: Mapping[str, DomainMetrics] = field(default_factory=lambda: MappingProxyType({}))
    """Keyed by UUID; read-only, since ticks cross from the poller thread to the UI. Empty from a collector
    that derives no domain metrics (`Collector(derive=False)`: the exporter's)."""
    aged: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    """Domains not sampled this round (outside the focus), with the time.time() of the sample their
    metrics come from: shown as such, never as this round's figures. Empty on a full round but for
    busy domains."""
    busy: frozenset[str] = frozenset()
    """Domains whose own job (an incoming migration, a backup) held them: libvirt answered without
    waiting, with only their state and CPU time. Each keeps its last full metrics, aged; the host's
    other domains are fresh."""


class Collector:
    """The newest sample of each domain of one host, and the metrics of each new one."""

    def __init__(
        self,
        conn: Hypervisor,
        host: str,
        *,
        slow_round: int = SLOW_ROUND,
        facts_at_once: int | None = None,
        derive: bool = True,
    ) -> None:
        """`facts_at_once`: read the domains' XML facts with the first round, not before it, and only for
        a host of at most this many domains; a larger host's first round goes out without them
        (`facts_due`: its poller reads them next). None reads them here, before any sample.

        `derive=False`: ticks carry the sample, the host's figures and the busy domains, but no domain
        metrics (`Tick.domains` and `aged` are empty) and every round samples every domain. The exporter's:
        it exports libvirt's own counters and Prometheus computes the rates, so the rates, percentages and
        per-vCPU figures the TUI shows (about three quarters of a QEMU fleet's poll, issue 26) would be
        computed for no one."""
        self.conn = conn
        self.derive = derive
        self.host = host
        self.finite = conn.finite
        self.slow_round = slow_round
        self.info: HostInfo = conn.host_info()
        self._facts_at_once = facts_at_once
        self.domains: dict[str, DomainInfo] = {} if facts_at_once is not None else self._read_domains()
        self.facts_due = False
        """The first round went out without the domains' facts: read them (`refresh_domains`) next."""
        self.domains_version = 0
        """Counts changes of `domains`: the poller hands out the same read-only copy until it moves."""
        self._prev: HostSample | None = None
        self._last: dict[str, tuple[DomainStats, float]] = {}
        """Per UUID: its newest stats and time.monotonic() of the call that returned them. Rates are the
        counters' change over the time between one domain's own two samples."""
        self._metrics: dict[str, DomainMetrics] = {}
        self._walls: dict[str, float] = {}
        """Per UUID: time.time() of its newest sample (what an aged row says)."""
        self._static: dict[str, DomainMetrics] = {}
        """Metrics of domains whose counters did not move in their last interval (shut-off, idle test
        domains): while they stay put, the same object is handed out again instead of recomputed."""
        self._round = 0

    def _read_domains(self) -> dict[str, DomainInfo]:
        self._facts_at_once = None  # read once: from now on unknown UUIDs are read at once, as always
        self.facts_due = False
        return {d.uuid: d for d in self.conn.list_domains()}

    def refresh_domains(self) -> None:
        """Re-read every domain's XML facts (after lifecycle events, or when unknown UUIDs appear)."""
        self.domains = self._read_domains()
        self.domains_version += 1

    def refresh_domain(self, uuid: str) -> None:
        """Re-read one domain's XML facts; a domain that is gone (undefined, migrated away) is dropped."""
        try:
            self.domains[uuid] = self.conn.domain(uuid)
        except NotFoundError:
            self.domains.pop(uuid, None)
        self.domains_version += 1

    def tick(self, focus: frozenset[str] | None = None, *, full: bool = False) -> Tick:
        """Sample the host: every domain, or with a `focus` (UUIDs) only those, but all every slow round.

        `focus` None (top, record, export: no viewport) samples everything every time; `full` forces a
        full round (after lifecycle events). A recording is always played whole.
        """
        only = None
        full = full or self.facts_due  # a focused round would take the domains without facts for gone
        slow_round = max(self.slow_round, math.ceil(len(self._last) / SLOW_ROUND_DOMAINS))
        if focus is not None and not full and not self.finite and self._round % slow_round and self._last:
            only = [u for u in focus if u in self._last]
            if len(only) * 2 > len(self._last):
                only = None  # most of the host is wanted: one call for all costs less than the bookkeeping
        self._round += 1
        sample = self.conn.sample(self.host) if only is None else self.conn.sample(self.host, only=only)
        if not self.derive:
            busy_now = frozenset([d.uuid for d in sample.domains if d.busy])
            self._facts_for(sample, unknown=not self.domains.keys() >= {d.uuid for d in sample.domains})
            tick = Tick(sample=sample, host=host_metrics(self._prev, sample), busy=busy_now)
            self._prev = sample
            return tick
        domains, aged, busy = self._update(sample, partial=only is not None)
        tick = Tick(sample=sample, host=host_metrics(self._prev, sample), domains=domains, aged=aged, busy=busy)
        self._prev = sample
        return tick

    def _facts_for(self, sample: HostSample, *, unknown: bool) -> None:
        """Read the facts of domains first seen in `sample`: now, or (a large host's first) next round."""
        if unknown and self._facts_at_once is not None and len(sample.domains) > self._facts_at_once:
            self.facts_due = True  # this round goes out first: thousands of XMLDesc calls can wait a tick
        elif unknown:
            self.refresh_domains()

    def _update(
        self, sample: HostSample, *, partial: bool
    ) -> tuple[Mapping[str, DomainMetrics], Mapping[str, float], frozenset[str]]:
        now_mono, now_wall = sample.monotonic, sample.wall
        last, static, known, host_cpus = self._last, self._static, self.domains, self.info.cpus
        # A focused round starts from every domain's newest metrics and replaces those it sampled
        # (copies in C: a round that samples 40 domains of 1000 does not visit the other 960).
        metrics = dict(self._metrics) if partial else {}
        walls = dict(self._walls) if partial else {}
        unknown = False
        busy: dict[str, float] = {}
        for d in sample.domains:
            uuid = d.uuid
            if d.busy and uuid in self._metrics:
                # Half a record (no disk, balloon or vCPU counters): keep the last whole one, and its
                # time, so no rate is computed across a gap that is not there.
                metrics[uuid], walls[uuid] = self._metrics[uuid], self._walls[uuid]
                busy[uuid] = self._walls[uuid]
                unknown = unknown or uuid not in known
                continue
            before = last.get(uuid)
            p = before[0] if before is not None else None
            elapsed = now_mono - before[1] if before is not None else 0.0
            unchanged = p is not None and p.raw == d.raw
            m = static.get(uuid) if unchanged else None
            if m is None:
                m = domain_metrics(p, d, elapsed, host_cpus=host_cpus)
            if unchanged:
                static[uuid] = m
            else:
                static.pop(uuid, None)
            metrics[uuid] = m
            walls[uuid] = now_wall
            unknown = unknown or uuid not in known
            if d.busy:  # busy from its first sight: what it said is all there is, but no base for rates
                busy[uuid] = now_wall
                static.pop(uuid, None)
                continue
            last[uuid] = (d, now_mono)
        self._facts_for(sample, unknown=unknown)
        # Gone: missing from a full round, or (carried by a focused one) dropped from the facts after an event.
        gone = metrics.keys() - self.domains.keys() if partial else last.keys() - metrics.keys()
        for uuid in gone:
            metrics.pop(uuid, None)
            walls.pop(uuid, None)
            last.pop(uuid, None)
            static.pop(uuid, None)
        self._metrics, self._walls = metrics, walls  # never changed again: new dicts every round
        aged: Mapping[str, float] = MappingProxyType({})
        if partial:
            # Outside the focus: each keeps the metrics of its own last sample, marked with that time.
            older = dict(walls)
            for d in sample.domains:
                older.pop(d.uuid, None)
            aged = MappingProxyType({**older, **busy})
        elif busy:
            aged = MappingProxyType(busy)
        return MappingProxyType(metrics), aged, frozenset(busy)
