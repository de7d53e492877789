"""Metric maths over two samples: pure functions, no I/O, no threads.

Every rate is (current - previous) / elapsed. A counter that went backwards (the domain restarted,
or migrated in with fresh counters) yields None for that interval instead of a negative rate.
Percentages of CPU are "of one host core" (top's convention) unless the name says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from vmtui.models import ACTIVE_STATES, DomainStats, HostSample, StatValue, state_name

NS = 1e9

EXIT_REASONS = (
    "io_exits",
    "mmio_exits",
    "halt_exits",
    "irq_exits",
    "irq_window_exits",
    "nmi_window_exits",
    "request_irq_exits",
    "signal_exits",
    "notify_window_exits",
)
"""KVM's per-vCPU exit counters (`vcpu.N.<reason>.sum`), as libvirt's `--vcpu` group exposes them."""

MMU_COUNTERS = ("mmu_shadow_zapped", "mmu_pte_write", "mmu_cache_miss", "mmu_flooded", "mmu_recycled")
PAGE_GAUGES = ("pages_4k", "pages_2m", "pages_1g")
NO_FIGURES: Mapping[str, Any] = {}
"""The one empty mapping of figures every DomainMetrics without them shares (never written to)."""


_NUMBER = (int, float)  # a tuple, not `int | float`: this check runs ~100 times per domain per tick


def rate(prev: Mapping[str, StatValue] | None, cur: Mapping[str, StatValue], key: str, elapsed: float) -> float | None:
    """Per-second growth of counter `key`; None if unknown or if the counter was reset."""
    if prev is None or elapsed <= 0:
        return None
    a = prev.get(key)
    b = cur.get(key)
    if not isinstance(a, _NUMBER) or not isinstance(b, _NUMBER) or b < a:
        return None
    return (b - a) / elapsed


@cache
def _vcpu_keys(counter: str, n_vcpu: int) -> tuple[str, ...]:
    """`vcpu.0.<counter>`, `vcpu.1.<counter>`, ...: built once per shape, not on every tick."""
    return tuple(f"vcpu.{i}.{counter}" for i in range(n_vcpu))


@cache
def _indexed_keys(prefix: str, i: int, fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{prefix}.{i}.{f}" for f in fields)


def _sum_rate(
    prev: Mapping[str, StatValue] | None, cur: Mapping[str, StatValue], keys: Sequence[str], elapsed: float
) -> float | None:
    rates = [rate(prev, cur, k, elapsed) for k in keys]
    known = [r for r in rates if r is not None]
    return sum(known) if known else None


def clamp(value: float | None, low: float, high: float) -> float | None:
    """`value` within [low, high], always a float (JSON keeps one type per figure), None stays None."""
    return None if value is None else float(max(low, min(high, value)))


@dataclass(frozen=True, slots=True)
class VcpuMetrics:
    index: int
    cpu_pct: float | None
    """Time this vCPU ran guest code, % of one host core."""
    steal_pct: float | None
    """Time it was runnable but waiting for a host CPU (vcpu.N.delay, the guest's steal time)."""
    wait_pct: float | None
    """Time it waited for IO (vcpu.N.wait)."""
    exits_per_s: float | None


@dataclass(frozen=True, slots=True)
class DiskMetrics:
    name: str
    read_bps: float | None
    write_bps: float | None
    read_iops: float | None
    write_iops: float | None
    read_latency_ms: float | None
    """Mean time per read request over the interval (delta of rd.times over delta of rd.reqs)."""
    write_latency_ms: float | None


@dataclass(frozen=True, slots=True)
class NetMetrics:
    name: str
    rx_bps: float | None
    tx_bps: float | None
    rx_pps: float | None
    tx_pps: float | None
    rx_drops_per_s: float | None
    tx_drops_per_s: float | None


@dataclass(frozen=True, slots=True)
class DomainMetrics:
    """Everything vmtui derives for one domain from two consecutive samples."""

    uuid: str
    name: str
    state: str
    elapsed_s: float
    vcpu_count: int
    cpu_pct: float | None
    """All CPU the domain's QEMU process used, % of one host core (top's convention)."""
    cpu_host_pct: float | None
    """The same as a share of the whole host (all host CPUs = 100)."""
    cpu_guest_pct: float | None
    """The same as a share of the domain's own vCPUs (all vCPUs busy = 100)."""
    overhead_pct: float | None
    """CPU spent outside the vCPUs (emulation, IO threads, QEMU main loop), % of one host core:
    the growth of (cpu.time - sum of vcpu.N.time) over elapsed time."""
    steal_pct: float | None
    """Mean over vCPUs of vcpu.N.delay growth: runnable but not running."""
    wait_pct: float | None
    vcpus: tuple[VcpuMetrics, ...]
    exits_per_s: float | None
    exits_by_reason: Mapping[str, float] = field(default_factory=dict)
    insn_emulation_per_s: float | None = None
    hypercalls_per_s: float | None = None
    mmu_per_s: Mapping[str, float] = field(default_factory=dict)
    pages: Mapping[str, int] = field(default_factory=dict)
    balloon_current_kib: int | None = None
    balloon_max_kib: int | None = None
    guest_unused_kib: int | None = None
    guest_available_kib: int | None = None
    guest_usable_kib: int | None = None
    """What the guest could use without swapping (MemAvailable), as its balloon driver reports."""
    rss_kib: int | None = None
    major_faults_per_s: float | None = None
    disks: tuple[DiskMetrics, ...] = ()
    nets: tuple[NetMetrics, ...] = ()

    @property
    def disk_read_bps(self) -> float | None:
        return _total(d.read_bps for d in self.disks)

    @property
    def disk_write_bps(self) -> float | None:
        return _total(d.write_bps for d in self.disks)

    @property
    def disk_iops(self) -> float | None:
        return _total(v for d in self.disks for v in (d.read_iops, d.write_iops))

    @property
    def net_rx_bps(self) -> float | None:
        return _total(n.rx_bps for n in self.nets)

    @property
    def net_tx_bps(self) -> float | None:
        return _total(n.tx_bps for n in self.nets)

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body.update(
            disk_read_bps=self.disk_read_bps,
            disk_write_bps=self.disk_write_bps,
            disk_iops=self.disk_iops,
            net_rx_bps=self.net_rx_bps,
            net_tx_bps=self.net_tx_bps,
        )
        return body


def _total(values: Any) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _int(stats: Mapping[str, StatValue], key: str) -> int | None:
    value = stats.get(key)
    return int(value) if isinstance(value, int | float) else None


def _latency_ms(
    prev: Mapping[str, StatValue] | None, cur: Mapping[str, StatValue], times: str, reqs: str
) -> float | None:
    if prev is None:
        return None
    d_time = rate(prev, cur, times, 1.0)
    d_reqs = rate(prev, cur, reqs, 1.0)
    if d_time is None or not d_reqs:
        return None
    return d_time / d_reqs / 1e6


DISK_FIELDS = ("name", "rd.bytes", "wr.bytes", "rd.reqs", "wr.reqs", "rd.times", "wr.times")
NET_FIELDS = ("name", "rx.bytes", "tx.bytes", "rx.pkts", "tx.pkts", "rx.drop", "tx.drop")


def _disk(p: Mapping[str, StatValue] | None, c: Mapping[str, StatValue], i: int, elapsed: float) -> DiskMetrics:
    name, rd_b, wr_b, rd_r, wr_r, rd_t, wr_t = _indexed_keys("block", i, DISK_FIELDS)
    return DiskMetrics(
        name=str(c.get(name, f"disk{i}")),
        read_bps=rate(p, c, rd_b, elapsed),
        write_bps=rate(p, c, wr_b, elapsed),
        read_iops=rate(p, c, rd_r, elapsed),
        write_iops=rate(p, c, wr_r, elapsed),
        read_latency_ms=_latency_ms(p, c, rd_t, rd_r),
        write_latency_ms=_latency_ms(p, c, wr_t, wr_r),
    )


def _net(p: Mapping[str, StatValue] | None, c: Mapping[str, StatValue], i: int, elapsed: float) -> NetMetrics:
    name, rx_b, tx_b, rx_p, tx_p, rx_d, tx_d = _indexed_keys("net", i, NET_FIELDS)
    return NetMetrics(
        name=str(c.get(name, f"net{i}")),
        rx_bps=rate(p, c, rx_b, elapsed),
        tx_bps=rate(p, c, tx_b, elapsed),
        rx_pps=rate(p, c, rx_p, elapsed),
        tx_pps=rate(p, c, tx_p, elapsed),
        rx_drops_per_s=rate(p, c, rx_d, elapsed),
        tx_drops_per_s=rate(p, c, tx_d, elapsed),
    )


def domain_metrics(prev: DomainStats | None, cur: DomainStats, elapsed: float, *, host_cpus: int) -> DomainMetrics:
    """Derive a domain's metrics from its previous and current stats (prev None: gauges only)."""
    c = cur.raw
    state = state_name(_int(c, "state.state") or 0)
    # A domain without a QEMU process has no rates: libvirt without cgroups even reports libvirtd's own
    # CPU time as the cpu.time of a shut-off domain. Only gauges (memory as defined) are shown for it.
    p = prev.raw if prev is not None and state in ACTIVE_STATES else None
    n_vcpu = _int(c, "vcpu.current") or 0
    cpu_rate = rate(p, c, "cpu.time", elapsed)
    cpu_pct = None if cpu_rate is None else cpu_rate / NS * 100

    vcpus = []
    times, delays, waits, exits = (_vcpu_keys(k, n_vcpu) for k in ("time", "delay", "wait", "exits.sum"))
    for i in range(n_vcpu):
        run = rate(p, c, times[i], elapsed)
        delay = rate(p, c, delays[i], elapsed)
        wait = rate(p, c, waits[i], elapsed)
        vcpus.append(
            VcpuMetrics(
                index=i,
                cpu_pct=clamp(None if run is None else run / NS * 100, 0, 100),
                steal_pct=clamp(None if delay is None else delay / NS * 100, 0, 100),
                wait_pct=clamp(None if wait is None else wait / NS * 100, 0, 100),
                exits_per_s=rate(p, c, exits[i], elapsed),
            )
        )

    overhead = None
    vcpu_rate = _sum_rate(p, c, times, elapsed) if n_vcpu else None
    if cpu_rate is not None and vcpu_rate is not None:
        # Both counters are sampled in one call but not atomically: tiny negative values are noise.
        overhead = max(0.0, (cpu_rate - vcpu_rate) / NS * 100)

    def per_vcpu_sum(counter: str) -> float | None:
        return _sum_rate(p, c, _vcpu_keys(f"{counter}.sum", n_vcpu), elapsed)

    reasons: dict[str, float] = {}
    mmu: dict[str, float] = {}
    if p is not None and "vcpu.0.exits.sum" in c:  # KVM counters exist (not under TCG)
        reasons = {r.removesuffix("_exits"): v for r in EXIT_REASONS if (v := per_vcpu_sum(r)) is not None}
        total = per_vcpu_sum("exits")
        if total is not None and reasons:
            # KVM counts only some reasons separately; the rest (CPUID, MSR, EPT/page faults, ...) is "other".
            reasons["other"] = max(0.0, total - sum(reasons.values()))
        mmu = {m: v for m in MMU_COUNTERS if (v := rate(p, c, f"vm.{m}.sum", elapsed)) is not None}
    pages = {g: v for g in PAGE_GAUGES if (v := _int(c, f"vm.{g}.cur")) is not None}

    def mean(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return sum(known) / len(known) if known else None

    disks = tuple(_disk(p, c, i, elapsed) for i in range(_int(c, "block.count") or 0))
    nets = tuple(
        _net(p, c, i, elapsed)
        for i in range(_int(c, "net.count") or 0)
        # A user-mode NIC reports no counters at all; listing it with no numbers helps nobody.
        if f"net.{i}.rx.bytes" in c
    )
    return DomainMetrics(
        uuid=cur.uuid,
        name=cur.name,
        state=state,
        elapsed_s=elapsed,
        vcpu_count=n_vcpu,
        cpu_pct=clamp(cpu_pct, 0, 100 * max(host_cpus, 1)),
        cpu_host_pct=clamp(None if cpu_pct is None else cpu_pct / max(host_cpus, 1), 0, 100),
        cpu_guest_pct=clamp(None if cpu_pct is None or not n_vcpu else cpu_pct / n_vcpu, 0, 100),
        overhead_pct=overhead,
        steal_pct=mean([v.steal_pct for v in vcpus]),
        wait_pct=mean([v.wait_pct for v in vcpus]),
        vcpus=tuple(vcpus),
        exits_per_s=per_vcpu_sum("exits"),
        # Empty ones (every guest without KVM counters, and every test-driver domain) share one mapping:
        # three empty dicts per domain were ~2 MB at 10 000 domains. Typed Mapping: nobody writes to it.
        exits_by_reason=reasons or NO_FIGURES,
        insn_emulation_per_s=per_vcpu_sum("insn_emulation"),
        hypercalls_per_s=per_vcpu_sum("hypercalls"),
        mmu_per_s=mmu or NO_FIGURES,
        pages=pages or NO_FIGURES,
        balloon_current_kib=_int(c, "balloon.current"),
        balloon_max_kib=_int(c, "balloon.maximum"),
        guest_unused_kib=_int(c, "balloon.unused"),
        guest_available_kib=_int(c, "balloon.available"),
        guest_usable_kib=_int(c, "balloon.usable"),
        rss_kib=_int(c, "balloon.rss"),
        major_faults_per_s=rate(p, c, "balloon.major_fault", elapsed),
        disks=disks,
        nets=nets,
    )


@dataclass(frozen=True, slots=True)
class HostMetrics:
    host: str
    cpu_pct: float | None
    """Host CPU busy, % of all host CPUs (100 = every CPU busy)."""
    memory_total_kib: int | None
    memory_used_kib: int | None
    """total - free - buffers - cached, as `free` counts it."""


def host_metrics(prev: HostSample | None, cur: HostSample) -> HostMetrics:
    cpu = None
    if prev is not None and prev.cpu_ns and cur.cpu_ns:
        busy = sum(cur.cpu_ns.get(k, 0) - prev.cpu_ns.get(k, 0) for k in ("kernel", "user"))
        total = busy + sum(cur.cpu_ns.get(k, 0) - prev.cpu_ns.get(k, 0) for k in ("idle", "iowait"))
        cpu = clamp(busy / total * 100, 0, 100) if total > 0 else None
    mem = cur.memory_kib
    total_kib = mem.get("total")
    used = None
    if total_kib is not None:
        used = total_kib - sum(mem.get(k, 0) for k in ("free", "buffers", "cached"))
    return HostMetrics(host=cur.host, cpu_pct=cpu, memory_total_kib=total_kib, memory_used_kib=used)
