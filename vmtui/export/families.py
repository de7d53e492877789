"""What is exported, read from what the pollers last reported: pure, no I/O, no threads.

`Walk` reads a host's samples into series and hands them to a sink: the exporter's renderer
(`vmtui.export.render`) or `Families`, prometheus-client's metric families, the reference the rendered page
is tested against.

Counters are libvirt's own cumulative counters in base units (seconds, bytes), exported as Prometheus
counters: Prometheus computes the rates (`rate(vmtui_domain_cpu_seconds_total[1m])`), so nothing here
divides by time. Each counter carries the time of the sample it was read in, so `rate()` sees when the
counter was read, not when it was scraped. Gauges and info metrics carry no time: they say what is, as of
the last sample, and when a domain goes away or changes state Prometheus marks the old series stale at the
next scrape (it never does that for series with explicit times). Strings from hosts (names, devices,
versions, errors) only ever appear as label values, escaped as prometheus-client escapes them.

`FAMILIES` is the one list of what is exported: name, type, extra labels and help. docs/export.md
describes the same list (a unit test checks that every name is there)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import cast

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric

from vmtui.metrics import EXIT_REASONS, MMU_COUNTERS, PAGE_GAUGES
from vmtui.models import DeviceClass, DomainInfo, HostInfo, StatValue, state_name
from vmtui.monitor.events import HostSampled

NS = 1e-9
"""libvirt's times are in nanoseconds; Prometheus' base unit is the second."""
KIB = 1024.0
"""libvirt's memory figures are in KiB; Prometheus' base unit is the byte."""

STALE_AFTER = 300.0
"""A host's sample older than this (its host down for 5 minutes) is no longer served: Prometheus' own
look-back is 5 minutes, and it refuses samples much older than its newest ones anyway. The host's
`up`, age and facts stay."""

HOST = ("host",)
DOMAIN = ("host", "domain", "uuid")

Kind = str  # "counter" | "gauge" | "info"

FAMILIES: dict[str, tuple[Kind, tuple[str, ...], str]] = {
    # ----- per host: the exporter's view of it (no timestamp: true at scrape time) -----
    "vmtui_host_up": ("gauge", HOST, "1 while the host's poller holds a working connection, else 0."),
    "vmtui_host_sample_age_seconds": ("gauge", HOST, "Seconds since the host's last sample was taken."),
    "vmtui_host_last_sample_timestamp_seconds": ("gauge", HOST, "Unix time of the host's last sample."),
    "vmtui_host_info": (
        "info",
        (*HOST, "hostname", "hypervisor", "hypervisor_version", "libvirt_version", "kernel", "cpu_model", "kvm")
        + ("tdp", "tdp_detail"),
        "Host facts as last connected: versions, KVM usable (yes/no), EPT/NPT (on/off/unknown).",
    ),
    "vmtui_host_error_info": ("info", (*HOST, "reason"), "Why the host is down; present only while it is."),
    "vmtui_host_cpus": ("gauge", HOST, "Host CPUs."),
    "vmtui_host_hugepages": ("gauge", HOST, "Huge pages reserved on the host (at connect)."),
    "vmtui_host_hugepage_size_bytes": ("gauge", HOST, "Size of one huge page."),
    # ----- per host, from its sample -----
    "vmtui_host_cpu_seconds_total": ("counter", (*HOST, "mode"), "Host CPU time by mode, summed over CPUs."),
    "vmtui_host_memory_total_bytes": ("gauge", HOST, "Host memory."),
    "vmtui_host_memory_free_bytes": ("gauge", HOST, "Free host memory."),
    "vmtui_host_memory_buffers_bytes": ("gauge", HOST, "Host memory in buffers."),
    "vmtui_host_memory_cached_bytes": ("gauge", HOST, "Host memory in the page cache."),
    "vmtui_host_memory_used_bytes": ("gauge", HOST, "Host memory used: total - free - buffers - cached."),
    "vmtui_host_ksm_pages_shared": ("gauge", HOST, "KSM: shared pages in use (one copy each)."),
    "vmtui_host_ksm_pages_sharing": ("gauge", HOST, "KSM: sites sharing them (how many pages are saved)."),
    "vmtui_host_ksm_pages_unshared": ("gauge", HOST, "KSM: pages scanned, unique, worth checking again."),
    "vmtui_host_ksm_pages_volatile": ("gauge", HOST, "KSM: pages changing too fast to merge."),
    "vmtui_host_ksm_full_scans_total": ("counter", HOST, "KSM: full scans of mergeable memory."),
    "vmtui_host_ksm_saved_bytes": ("gauge", HOST, "KSM: memory saved, pages_sharing x page size."),
    "vmtui_host_ksm_pages_to_scan": ("gauge", HOST, "KSM tuning: pages scanned per wake-up."),
    "vmtui_host_ksm_sleep_seconds": ("gauge", HOST, "KSM tuning: sleep between scans."),
    "vmtui_host_ksm_merge_across_nodes": ("gauge", HOST, "KSM tuning: 1 if pages merge across NUMA nodes."),
    # ----- per domain -----
    "vmtui_domain_info": (
        "info",
        (*DOMAIN, "accelerator", "machine"),
        "Domain facts from its XML: accelerator (kvm = hardware-assisted, tcg = emulated), machine type.",
    ),
    "vmtui_domain_state": ("gauge", (*DOMAIN, "state"), "1, labelled with the domain's state."),
    "vmtui_domain_busy": (
        "gauge",
        DOMAIN,
        "1 while a job of the domain's own (incoming migration, backup) holds it: only its state and CPU "
        "time were read, its other series are absent until it is free.",
    ),
    "vmtui_domain_devices": ("gauge", (*DOMAIN, "class"), "Devices by class: paravirtual, emulated, passthrough."),
    "vmtui_domain_vcpus": ("gauge", DOMAIN, "vCPUs online."),
    "vmtui_domain_cpu_seconds_total": ("counter", DOMAIN, "CPU time of the domain's QEMU process (all threads)."),
    "vmtui_domain_vcpu_seconds_total": ("counter", (*DOMAIN, "vcpu"), "Time the vCPU ran guest code."),
    "vmtui_domain_vcpu_steal_seconds_total": (
        "counter",
        (*DOMAIN, "vcpu"),
        "Time the vCPU was runnable but waited for a host CPU (the guest's steal time).",
    ),
    "vmtui_domain_vcpu_wait_seconds_total": ("counter", (*DOMAIN, "vcpu"), "Time the vCPU waited for I/O."),
    "vmtui_domain_overhead_seconds_total": (
        "counter",
        DOMAIN,
        "CPU time outside the vCPUs (emulation, I/O threads, QEMU's main loop): cpu - sum of vcpu.",
    ),
    "vmtui_domain_exits_total": ("counter", (*DOMAIN, "reason"), "KVM VM exits by reason, summed over vCPUs."),
    "vmtui_domain_instruction_emulations_total": ("counter", DOMAIN, "Instructions KVM emulated, over vCPUs."),
    "vmtui_domain_hypercalls_total": ("counter", DOMAIN, "Hypercalls, summed over vCPUs."),
    "vmtui_domain_mmu_events_total": ("counter", (*DOMAIN, "event"), "KVM MMU events (shadow paging work)."),
    "vmtui_domain_mapped_pages": ("gauge", (*DOMAIN, "size"), "Guest memory mapped by KVM, in pages of each size."),
    "vmtui_domain_balloon_current_bytes": ("gauge", DOMAIN, "Memory the guest has now (balloon target reached)."),
    "vmtui_domain_balloon_maximum_bytes": ("gauge", DOMAIN, "Maximum memory of the domain."),
    "vmtui_domain_rss_bytes": ("gauge", DOMAIN, "Resident memory of the QEMU process on the host."),
    "vmtui_domain_guest_memory_unused_bytes": ("gauge", DOMAIN, "Guest-reported unused memory (balloon driver)."),
    "vmtui_domain_guest_memory_available_bytes": ("gauge", DOMAIN, "Guest-reported memory it sees."),
    "vmtui_domain_guest_memory_usable_bytes": ("gauge", DOMAIN, "Guest-reported memory usable without swapping."),
    "vmtui_domain_guest_memory_disk_caches_bytes": ("gauge", DOMAIN, "Guest-reported page cache."),
    "vmtui_domain_guest_memory_last_update_timestamp_seconds": (
        "gauge",
        DOMAIN,
        "When the guest last reported memory statistics (stale when the balloon period is unset).",
    ),
    "vmtui_domain_guest_swap_in_bytes_total": ("counter", DOMAIN, "Guest-reported memory swapped in."),
    "vmtui_domain_guest_swap_out_bytes_total": ("counter", DOMAIN, "Guest-reported memory swapped out."),
    "vmtui_domain_guest_major_page_faults_total": ("counter", DOMAIN, "Guest-reported major page faults."),
    "vmtui_domain_guest_minor_page_faults_total": ("counter", DOMAIN, "Guest-reported minor page faults."),
    "vmtui_domain_disk_read_bytes_total": ("counter", (*DOMAIN, "device"), "Bytes read from the disk."),
    "vmtui_domain_disk_write_bytes_total": ("counter", (*DOMAIN, "device"), "Bytes written to the disk."),
    "vmtui_domain_disk_read_requests_total": ("counter", (*DOMAIN, "device"), "Read requests."),
    "vmtui_domain_disk_write_requests_total": ("counter", (*DOMAIN, "device"), "Write requests."),
    "vmtui_domain_disk_flush_requests_total": ("counter", (*DOMAIN, "device"), "Flush requests."),
    "vmtui_domain_disk_read_time_seconds_total": ("counter", (*DOMAIN, "device"), "Time spent on reads."),
    "vmtui_domain_disk_write_time_seconds_total": ("counter", (*DOMAIN, "device"), "Time spent on writes."),
    "vmtui_domain_disk_flush_time_seconds_total": ("counter", (*DOMAIN, "device"), "Time spent on flushes."),
    "vmtui_domain_disk_capacity_bytes": ("gauge", (*DOMAIN, "device"), "Disk size seen by the guest."),
    "vmtui_domain_disk_allocation_bytes": ("gauge", (*DOMAIN, "device"), "Disk space allocated on the host."),
    "vmtui_domain_net_receive_bytes_total": ("counter", (*DOMAIN, "interface"), "Bytes received."),
    "vmtui_domain_net_transmit_bytes_total": ("counter", (*DOMAIN, "interface"), "Bytes sent."),
    "vmtui_domain_net_receive_packets_total": ("counter", (*DOMAIN, "interface"), "Packets received."),
    "vmtui_domain_net_transmit_packets_total": ("counter", (*DOMAIN, "interface"), "Packets sent."),
    "vmtui_domain_net_receive_errors_total": ("counter", (*DOMAIN, "interface"), "Receive errors."),
    "vmtui_domain_net_transmit_errors_total": ("counter", (*DOMAIN, "interface"), "Send errors."),
    "vmtui_domain_net_receive_drops_total": ("counter", (*DOMAIN, "interface"), "Received packets dropped."),
    "vmtui_domain_net_transmit_drops_total": ("counter", (*DOMAIN, "interface"), "Packets to send dropped."),
}

COUNTERS = frozenset(name for name, (kind, _labels, _doc) in FAMILIES.items() if kind == "counter")

DOMAIN_VALUES: tuple[tuple[str, str, float], ...] = (
    ("vmtui_domain_vcpus", "vcpu.current", 1.0),
    ("vmtui_domain_cpu_seconds_total", "cpu.time", NS),
    ("vmtui_domain_balloon_current_bytes", "balloon.current", KIB),
    ("vmtui_domain_balloon_maximum_bytes", "balloon.maximum", KIB),
    ("vmtui_domain_rss_bytes", "balloon.rss", KIB),
    ("vmtui_domain_guest_memory_unused_bytes", "balloon.unused", KIB),
    ("vmtui_domain_guest_memory_available_bytes", "balloon.available", KIB),
    ("vmtui_domain_guest_memory_usable_bytes", "balloon.usable", KIB),
    ("vmtui_domain_guest_memory_disk_caches_bytes", "balloon.disk_caches", KIB),
    ("vmtui_domain_guest_swap_in_bytes_total", "balloon.swap_in", KIB),
    ("vmtui_domain_guest_swap_out_bytes_total", "balloon.swap_out", KIB),
    ("vmtui_domain_guest_major_page_faults_total", "balloon.major_fault", 1.0),
    ("vmtui_domain_guest_minor_page_faults_total", "balloon.minor_fault", 1.0),
)
"""(family, libvirt key, scale to base units) of the domain's own scalar values."""

VCPU_VALUES = (
    ("vmtui_domain_vcpu_seconds_total", "time"),
    ("vmtui_domain_vcpu_steal_seconds_total", "delay"),
    ("vmtui_domain_vcpu_wait_seconds_total", "wait"),
)
"""(family, key of `vcpu.N.<key>`): nanosecond counters per vCPU."""

DISK_VALUES = (
    ("vmtui_domain_disk_read_bytes_total", "rd.bytes", 1.0),
    ("vmtui_domain_disk_write_bytes_total", "wr.bytes", 1.0),
    ("vmtui_domain_disk_read_requests_total", "rd.reqs", 1.0),
    ("vmtui_domain_disk_write_requests_total", "wr.reqs", 1.0),
    ("vmtui_domain_disk_flush_requests_total", "fl.reqs", 1.0),
    ("vmtui_domain_disk_read_time_seconds_total", "rd.times", NS),
    ("vmtui_domain_disk_write_time_seconds_total", "wr.times", NS),
    ("vmtui_domain_disk_flush_time_seconds_total", "fl.times", NS),
    ("vmtui_domain_disk_capacity_bytes", "capacity", 1.0),
    ("vmtui_domain_disk_allocation_bytes", "allocation", 1.0),
)
NET_VALUES = (
    ("vmtui_domain_net_receive_bytes_total", "rx.bytes", 1.0),
    ("vmtui_domain_net_transmit_bytes_total", "tx.bytes", 1.0),
    ("vmtui_domain_net_receive_packets_total", "rx.pkts", 1.0),
    ("vmtui_domain_net_transmit_packets_total", "tx.pkts", 1.0),
    ("vmtui_domain_net_receive_errors_total", "rx.errs", 1.0),
    ("vmtui_domain_net_transmit_errors_total", "tx.errs", 1.0),
    ("vmtui_domain_net_receive_drops_total", "rx.drop", 1.0),
    ("vmtui_domain_net_transmit_drops_total", "tx.drop", 1.0),
)
KSM_VALUES = (
    ("vmtui_host_ksm_pages_shared", "pages_shared", 1.0),
    ("vmtui_host_ksm_pages_sharing", "pages_sharing", 1.0),
    ("vmtui_host_ksm_pages_unshared", "pages_unshared", 1.0),
    ("vmtui_host_ksm_pages_volatile", "pages_volatile", 1.0),
    ("vmtui_host_ksm_full_scans_total", "full_scans", 1.0),
    ("vmtui_host_ksm_pages_to_scan", "pages_to_scan", 1.0),
    ("vmtui_host_ksm_sleep_seconds", "sleep_millisecs", 1e-3),
    ("vmtui_host_ksm_merge_across_nodes", "merge_across_nodes", 1.0),
)
HOST_MEMORY = (
    ("vmtui_host_memory_total_bytes", "total"),
    ("vmtui_host_memory_free_bytes", "free"),
    ("vmtui_host_memory_buffers_bytes", "buffers"),
    ("vmtui_host_memory_cached_bytes", "cached"),
)
DEVICE_CLASSES = (DeviceClass.PARAVIRTUAL, DeviceClass.EMULATED, DeviceClass.PASSTHROUGH)


@dataclass(frozen=True, slots=True)
class Direct:
    """A domain's series that are each one raw key times a scale, in the order the walk hands them out.

    Built once per shape of domain (vCPUs, disks and NICs by name, KVM or not: `direct_series`), not per
    domain and poll: about 50 of a QEMU guest's 71 series. A key missing from a record yields no series.
    """

    keys: tuple[str, ...]
    families: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    """Each series' labels after the domain's own (host, domain, uuid)."""
    scales: tuple[float, ...]


AddSample = Callable[[str, tuple[str, ...], float, float | None], None]
"""A sink's sample: family, label values (in FAMILIES' order), value, its host sample's time (or None)."""
AddInfo = Callable[[str, tuple[str, ...], dict[str, str]], None]
"""A sink's info sample: family, identifying label values, the info's own labels and values."""
AddDirect = Callable[[Direct, tuple[str, str, str], Mapping[str, StatValue], float], None]
"""A sink's direct series of one domain: the plan, the domain's labels, its raw stats, its sample's time.
A sink that has nothing better hands them to its `AddSample` one by one (`Walk.each_direct`)."""


@dataclass(frozen=True, slots=True)
class HostView:
    """What the exporter knows about one host at one scrape (a copy: the pollers go on meanwhile)."""

    name: str
    up: bool
    info: HostInfo | None
    """The host's facts as its poller last connected; None before the first connection."""
    sampled: HostSampled | None
    """The last sample, also while the host is down (served with its age)."""
    error: str | None = None
    """Why the host is down, while it is."""


class CounterGuard:
    """Keeps the counters vmtui derives (overhead, 'other' exits) from ever going down.

    They are differences of counters that libvirt reads one after the other, not atomically, so two
    samples can differ by a little noise in the wrong direction; Prometheus would read any decrease as a
    counter reset and show the whole counter as one spike. While the domain's own cpu.time does not go
    back (no restart), the last exported value is kept until the derived one passes it. Entries of
    domains that were not in a scrape are forgotten at the next one.
    """

    def __init__(self) -> None:
        self._last: dict[tuple[str, ...], tuple[float, float]] = {}
        self._next: dict[tuple[str, ...], tuple[float, float]] = {}

    def begin(self) -> None:
        self._next = {}

    def value(self, key: tuple[str, ...], value: float, epoch: float) -> float:
        value = max(0.0, value)
        prev = self._last.get(key)
        if prev is not None and epoch >= prev[0] and value < prev[1]:
            value = prev[1]
        self._next[key] = (epoch, value)
        return value

    def end(self) -> None:
        self._last = self._next


def new_family(name: str) -> Metric:
    kind, labels, doc = FAMILIES[name]
    if kind == "counter":
        return CounterMetricFamily(name, doc, labels=labels)
    if kind == "info":
        return InfoMetricFamily(name.removesuffix("_info"), doc, labels=labels[: _info_split(name)])
    return GaugeMetricFamily(name, doc, labels=labels)


@cache
def _info_split(name: str) -> int:
    """Info families: the identifying labels come first (HOST or DOMAIN), the rest are the info's values."""
    return len(DOMAIN) if name.startswith("vmtui_domain_") else len(HOST)


@cache
def _vcpu_key(i: int, field: str) -> str:
    return f"vcpu.{i}.{field}"


@cache
def _vcpu_keys(n_vcpu: int, field: str) -> tuple[str, ...]:
    """`vcpu.0.<field>` ... `vcpu.<n-1>.<field>`: built once per vCPU count, not per domain and poll."""
    return tuple(_vcpu_key(i, field) for i in range(n_vcpu))


@cache
def _indexed_keys(group: str, i: int, values: tuple[tuple[str, str, float], ...]) -> tuple[tuple[str, str, float], ...]:
    """(family, `<group>.<i>.<key>`, scale) of one disk or NIC, built once per index."""
    return tuple((family, f"{group}.{i}.{key}", scale) for family, key, scale in values)


@cache
def _name_key(group: str, i: int) -> str:
    return f"{group}.{i}.name"


@lru_cache(maxsize=4096)
def direct_series(n_vcpu: int, disks: tuple[str, ...], nets: tuple[str, ...], kvm: bool) -> Direct:
    """The direct series of a domain of this shape (`disks`, `nets`: their device names by index)."""
    series: list[tuple[str, str, tuple[str, ...], float]] = [(f, key, (), scale) for f, key, scale in DOMAIN_VALUES]
    for i in range(n_vcpu):
        series += [(family, _vcpu_key(i, key), (str(i),), NS) for family, key in VCPU_VALUES]
    if kvm:
        series += [
            ("vmtui_domain_mmu_events_total", f"vm.{c}.sum", (c.removeprefix("mmu_"),), 1.0) for c in MMU_COUNTERS
        ]
        series += [("vmtui_domain_mapped_pages", f"vm.{g}.cur", (g.removeprefix("pages_"),), 1.0) for g in PAGE_GAUGES]
    for group, names, values in (("block", disks, DISK_VALUES), ("net", nets, NET_VALUES)):
        for i, device in enumerate(names):
            series += [(family, key, (device,), scale) for family, key, scale in _indexed_keys(group, i, values)]
    families, keys, labels, scales = zip(*series, strict=True)
    return Direct(keys=keys, families=families, labels=labels, scales=scales)


def _number(raw: Mapping[str, StatValue], key: str) -> float | None:
    value = raw.get(key)
    # Exact types: libvirt's booleans (`vcpu.N.guest_mode.cur`) are bools, which are ints but no counters.
    return float(value) if type(value) is int or type(value) is float else None


class Walk:
    """What one host exports, sample by sample, handed to a sink: the one place that reads the samples.

    Two sinks take them: the exporter's renderer (`vmtui.export.render`, text by hand, at poll time) and
    `Families` (prometheus-client's metric families: the reference the renderer is tested against). Within
    each family the samples come host by host, domain by domain, as the page lists them.
    """

    def __init__(self, add: AddSample, info: AddInfo, guard: CounterGuard, direct: AddDirect | None = None) -> None:
        self._add = add
        self._info = info
        self.guard = guard
        self._direct = direct or self.each_direct

    def each_direct(self, plan: Direct, d: tuple[str, str, str], raw: Mapping[str, StatValue], ts: float) -> None:
        """A domain's direct series, one by one to the sink's `AddSample`."""
        add, get = self._add, raw.get
        for key, family, labels, scale in zip(plan.keys, plan.families, plan.labels, plan.scales, strict=True):
            value = get(key)
            # Exact types: libvirt's booleans (`vcpu.N.guest_mode.cur`) are bools, which are ints but no counters.
            if type(value) is int or type(value) is float:
                add(family, (*d, *labels), float(value) * scale, ts)

    # ----- hosts ---------------------------------------------------------------------------------

    def host_facts(self, view: HostView) -> None:
        """What holds without a fresh sample: up, why not, the host's facts, when it was last sampled."""
        host = (view.name,)
        self._add("vmtui_host_up", host, 1.0 if view.up else 0.0, None)
        if view.error is not None and not view.up:
            self._info("vmtui_host_error_info", host, {"reason": view.error})
        info = view.info
        if info is not None:
            self._info("vmtui_host_info", host, host_facts(info))
            self._add("vmtui_host_cpus", host, float(info.cpus), None)
            if info.hugepage_size_kib:
                self._add("vmtui_host_hugepages", host, float(info.hugepages_total or 0), None)
                self._add("vmtui_host_hugepage_size_bytes", host, info.hugepage_size_kib * KIB, None)
        if view.sampled is not None:
            self._add("vmtui_host_last_sample_timestamp_seconds", host, view.sampled.tick.sample.wall, None)

    def host_age(self, view: HostView, now: float) -> None:
        """The one series that moves with the clock, not with the samples."""
        if view.sampled is not None:
            age = max(0.0, now - view.sampled.tick.sample.wall)
            self._add("vmtui_host_sample_age_seconds", (view.name,), age, None)

    def host_sample(self, view: HostView) -> None:
        """The host's last sample and its domains: served while it is fresh (`is_fresh`)."""
        if view.sampled is None:
            return
        host = (view.name,)
        sample = view.sampled.tick.sample
        ts = sample.wall
        add = self._add
        for mode, ns in sample.cpu_ns.items():
            add("vmtui_host_cpu_seconds_total", (view.name, mode), ns * NS, ts)
        mem = sample.memory_kib
        for name, key in HOST_MEMORY:
            if key in mem:
                add(name, host, mem[key] * KIB, ts)
        used = view.sampled.tick.host.memory_used_kib
        if used is not None:
            add("vmtui_host_memory_used_bytes", host, used * KIB, ts)
        ksm = sample.ksm
        for name, key, scale in KSM_VALUES:
            if key in ksm:
                add(name, host, ksm[key] * scale, ts)
        info = view.info
        if "pages_sharing" in ksm and info is not None and info.page_size_kib:
            add("vmtui_host_ksm_saved_bytes", host, ksm["pages_sharing"] * info.page_size_kib * KIB, ts)
        facts_of = view.sampled.domains.get
        for dom in sample.domains:
            self.add_domain(view.name, dom.uuid, dom.name, dom.raw, ts, facts_of(dom.uuid), busy=dom.busy)

    # ----- domains -------------------------------------------------------------------------------

    def add_domain(
        self,
        host: str,
        uuid: str,
        name: str,
        raw: Mapping[str, StatValue],
        ts: float,
        facts: DomainInfo | None = None,
        *,
        busy: bool = False,
    ) -> None:
        """One domain's series from its raw libvirt stats (`facts`: what its XML says, when known)."""
        d = (host, name, uuid)
        state = raw.get("state.state")
        self._add("vmtui_domain_state", (*d, state_name(int(state)) if isinstance(state, int) else "nostate"), 1.0, ts)
        self._add("vmtui_domain_busy", d, 1.0 if busy else 0.0, ts)
        if facts is not None:
            self._info("vmtui_domain_info", d, {"accelerator": str(facts.accelerator), "machine": facts.machine})
            for cls in DEVICE_CLASSES:
                count = sum(1 for dev in facts.devices if dev.dev_class is cls)
                self._add("vmtui_domain_devices", (*d, str(cls)), float(count), ts)
        get = raw.get
        n_vcpu = int(_number(raw, "vcpu.current") or 0)
        kvm = _number(raw, "vcpu.0.exits.sum") is not None
        disks = tuple(
            str(get(_name_key("block", i), f"block{i}")) for i in range(int(_number(raw, "block.count") or 0))
        )
        nets = tuple(str(get(_name_key("net", i), f"net{i}")) for i in range(int(_number(raw, "net.count") or 0)))
        # The scalars, vCPU times, MMU events, mapped pages, disks and NICs: one key each (a user-mode NIC has
        # no counters and yields nothing).
        self._direct(direct_series(n_vcpu, disks, nets, kvm), d, raw, ts)
        last_update = _number(raw, "balloon.last-update")
        if last_update:  # 0 until the guest's balloon driver reports once
            self._add("vmtui_domain_guest_memory_last_update_timestamp_seconds", d, last_update, ts)
        cpu = _number(raw, "cpu.time")
        if cpu is not None and n_vcpu and _number(raw, _vcpu_key(0, "time")) is not None:
            times = [float(v) for k in _vcpu_keys(n_vcpu, "time") if type(v := get(k)) is int or type(v) is float]
            overhead = self.guard.value(("overhead", host, uuid), (cpu - sum(times)) * NS, cpu)
            self._add("vmtui_domain_overhead_seconds_total", d, overhead, ts)
        if kvm:
            self._add_kvm(d, raw, n_vcpu, cpu or 0.0, ts)

    def _add_kvm(
        self, d: tuple[str, str, str], raw: Mapping[str, StatValue], n_vcpu: int, cpu: float, ts: float
    ) -> None:
        """KVM's own counters (absent under TCG), summed over vCPUs."""

        get = raw.get

        def over_vcpus(counter: str) -> float | None:
            values = [float(v) for k in _vcpu_keys(n_vcpu, counter) if type(v := get(k)) is int or type(v) is float]
            return sum(values) if values else None

        known = 0.0
        for reason in EXIT_REASONS:
            value = over_vcpus(f"{reason}.sum")
            if value is not None:
                known += value
                self._add("vmtui_domain_exits_total", (*d, reason.removesuffix("_exits")), value, ts)
        total = over_vcpus("exits.sum")
        if total is not None:
            # KVM counts only some reasons apart; the rest (CPUID, MSR, EPT/page faults, ...) is "other",
            # as in the TUI's exit mix.
            other = self.guard.value(("other-exits", d[0], d[2]), total - known, cpu)
            self._add("vmtui_domain_exits_total", (*d, "other"), other, ts)
        for family, counter in (
            ("vmtui_domain_instruction_emulations_total", "insn_emulation.sum"),
            ("vmtui_domain_hypercalls_total", "hypercalls.sum"),
        ):
            value = over_vcpus(counter)
            if value is not None:
                self._add(family, d, value, ts)


def host_facts(info: HostInfo) -> dict[str, str]:
    """The info metric's values: what the host runs, and the chapter's hardware-assist facts."""
    return {
        "hostname": info.hostname,
        "hypervisor": info.hypervisor,
        "hypervisor_version": info.hypervisor_version,
        "libvirt_version": info.libvirt_version,
        "kernel": info.kernel or "",
        "cpu_model": info.cpu_model,
        "kvm": "yes" if info.kvm_usable else "no",
        "tdp": "unknown" if info.tdp is None else "on" if info.tdp else "off",
        "tdp_detail": info.tdp_detail,
    }


def is_fresh(view: HostView, now: float) -> bool:
    """Whether the host's last sample is still served (see STALE_AFTER)."""
    return view.sampled is not None and now - view.sampled.tick.sample.wall <= STALE_AFTER


class Families:
    """A sink of `Walk` that fills prometheus-client's metric families: the reference rendering.

    The exporter renders its page by hand (`vmtui.export.render`); the tests compare that page with
    prometheus-client's rendering of these families, byte for byte after sorting the lines.
    """

    def __init__(self) -> None:
        self.families: dict[str, Metric] = {name: new_family(name) for name in FAMILIES}

    def add(self, name: str, labels: tuple[str, ...], value: float, ts: float | None) -> None:
        """One sample; `ts` (its host sample's time) is kept for counters only (see the module's docstring)."""
        family = cast(CounterMetricFamily | GaugeMetricFamily, self.families[name])
        family.add_metric(labels, value, timestamp=ts if name in COUNTERS else None)

    def info(self, name: str, labels: tuple[str, ...], values: dict[str, str]) -> None:
        cast(InfoMetricFamily, self.families[name]).add_metric(labels, values)


def scrape(views: Sequence[HostView], *, now: float, guard: CounterGuard) -> list[Metric]:
    """Every family for these hosts at `now`, as prometheus-client's metric families (empty ones too)."""
    out = Families()
    walk = Walk(out.add, out.info, guard)
    guard.begin()
    for view in views:
        walk.host_facts(view)
        walk.host_age(view, now)
        if is_fresh(view, now):
            walk.host_sample(view)
    guard.end()
    return list(out.families.values())
