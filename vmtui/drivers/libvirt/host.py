"""The host: its facts (versions, KVM, EPT/NPT, memory) and one bulk sample of every domain."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Collection
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.drivers.libvirt.connection import ConnectionCore, mapped, version_text
from vmtui.drivers.uri import is_local
from vmtui.drivers.xml.read import read_capabilities
from vmtui.errors import VmtuiError

# The host probe, its file reader and the host value types are imported by the methods that use
# them: every command opens a Connection, and `vmtui list` must not pay for them (see vmtui.models).
if TYPE_CHECKING:
    from vmtui.drivers.hostprobe import HostFacts
    from vmtui.models import HostInfo, HostSample

log = logging.getLogger("vmtui.drivers.libvirt.host")

STATS_GROUPS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_VCPU
    | libvirt.VIR_DOMAIN_STATS_INTERFACE
    | libvirt.VIR_DOMAIN_STATS_BLOCK
    | libvirt.VIR_DOMAIN_STATS_VM
)
"""One bulk call gathers every group the metrics use; groups a host lacks are skipped, not errors."""

NOWAIT = int(getattr(libvirt, "VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT", 0))
"""Do not wait for a domain whose job holds it (libvirt >= 4.5): without it one incoming migration
makes the bulk call wait up to libvirt's 30 s job timeout, and with it every other domain of the host."""
ACTIVE_STATES = frozenset(
    {
        libvirt.VIR_DOMAIN_RUNNING,
        libvirt.VIR_DOMAIN_BLOCKED,
        libvirt.VIR_DOMAIN_PAUSED,
        libvirt.VIR_DOMAIN_SHUTDOWN,
        libvirt.VIR_DOMAIN_PMSUSPENDED,
    }
)
JOB_ONLY_FIELD = "balloon.rss"
"""QEMU's driver reads a running domain's RSS (from /proc, with or without a balloon device) only under
the domain's query job: an active domain's record without it was answered without that job, busy."""


class HostMixin(ConnectionCore):
    _hypervisor: str | None = None
    """libvirt's driver name ("QEMU", "Test"), asked once."""

    def host_facts(self) -> HostFacts:
        """Kernel and EPT/NPT from the host's own files (locally, or over the URI's SSH).

        Never fails: a host whose files cannot be reached says why in `tdp_detail`.
        """
        from vmtui.drivers import hostprobe
        from vmtui.drivers.hostfiles import host_files

        try:
            files = host_files(self.uri)
            return hostprobe.facts_from(files.read_many(hostprobe.FACT_PATHS))
        except VmtuiError as exc:
            log.info("host facts of %s: %s", self.uri, exc)
            return hostprobe.HostFacts(kernel=None, tdp=None, tdp_detail=f"unknown ({exc.message})")

    def host_info(self, *, probe: bool = True) -> HostInfo:
        """The host's facts; `probe=False` skips reading its files (kernel, EPT/NPT: one SSH round trip)."""
        from vmtui.drivers import hostprobe
        from vmtui.models import HostInfo

        with mapped(self.uri, "host info"):
            model, memory_mib, cpus, *_ = self._conn.getInfo()
            caps = read_capabilities(self._conn.getCapabilities())
            hv_type = self._conn.getType()
            hv_version = self._conn.getVersion()
            hostname = self._conn.getHostname()
            lib_version = self._conn.getLibVersion()
            node_mem = self.node_stats("memory", self._conn.getMemoryStats, libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
        kvm = "kvm" in caps.domain_types
        if is_local(self.uri) and hv_type == "QEMU" and kvm and hostprobe.kvm_device_problem():
            kvm = False
        facts = (
            self.host_facts()
            if probe and hv_type == "QEMU"
            else hostprobe.HostFacts(None, None, "unknown (not probed)" if hv_type == "QEMU" else "not a KVM host")
        )
        free_huge = None
        if caps.hugepage_size_kib:
            try:
                pages = self._conn.getFreePages([caps.hugepage_size_kib], 0, caps.cells, 0)
                free_huge = sum(sum(per_size.values()) for per_size in pages.values())
            except (libvirt.libvirtError, AttributeError, TypeError):
                free_huge = None
        return HostInfo(
            uri=self.uri,
            hostname=hostname,
            libvirt_version=version_text(lib_version),
            hypervisor=hv_type,
            hypervisor_version=version_text(hv_version),
            kernel=facts.kernel,
            cpus=int(cpus),
            cpu_model=caps.cpu_model or str(model),
            # getInfo's figure can be wrong on big hosts (a 32-bit MiB field); node stats are exact.
            memory_kib=node_mem.get("total", int(memory_mib) * 1024),
            kvm_usable=kvm,
            tdp=facts.tdp,
            tdp_detail=facts.tdp_detail,
            hugepage_size_kib=caps.hugepage_size_kib,
            page_size_kib=caps.page_size_kib,
            hugepages_total=caps.hugepages_total,
            hugepages_free=free_huge,
            read_only=self.read_only,
            kvm_module=facts.kvm_module,
            host_uuid=caps.host_uuid,
        )

    def sample(self, host: str | None = None, *, only: Collection[str] | None = None) -> HostSample:
        """One bulk stats call for every domain (or for `only` these UUIDs), plus the host's CPU and memory.

        `only` asks libvirt's per-domain bulk call (`domainListGetStats`) about domains seen in an
        earlier full sample; a domain gone since is simply missing from the result.
        """
        from vmtui.models import DomainStats, HostSample

        with mapped(self.uri, "collect stats"):
            # The wall time the sample answers for is when it was asked: a call that began before a
            # lifecycle event and returned after it holds the state from before (the TUI lets a sample
            # replace an event's state only when it is newer than the event).
            wall = time.time()
            records, nowait = self._bulk_stats(only)
            mono = time.monotonic()
            # The stats dicts are fresh from libvirt and ours alone: wrap them read-only, no copy.
            stats_of, proxy = DomainStats, MappingProxyType  # 1000 records per call: no lookups per record
            # Interned: every round's UUID and name are then the one string each per domain that every
            # table (collector, fleet, history, rows) keys by, not a new copy kept per round (~4 MB at 10 000).
            intern = sys.intern
            busy = self._busy_rule() if nowait else None
            domains = tuple(
                [
                    stats_of(
                        intern(dom.UUIDString()), intern(dom.name()), proxy(stats), busy is not None and busy(stats)
                    )
                    for dom, stats in records
                ]
            )
            if only is None:
                self._domain_objects = {d.uuid: dom for d, (dom, _stats) in zip(domains, records, strict=True)}
            cpu = self.node_stats("cpu", self._conn.getCPUStats, libvirt.VIR_NODE_CPU_STATS_ALL_CPUS)
            mem = self.node_stats("memory", self._conn.getMemoryStats, libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
            # KSM through libvirt (one more round trip, allowed read-only, works over any transport), not
            # through the host's files: that would be an SSH process per host per tick. The same figures,
            # and the same "ksm" not-supported memo, as MemoryMixin.ksm_parameters (read on demand).
            ksm = self.node_stats("ksm", lambda _which, flags: self._conn.getMemoryParameters(flags), 0)
        return HostSample(
            host=host or self.uri,
            uri=self.uri,
            monotonic=mono,
            wall=wall,
            cpu_ns=cpu,
            memory_kib=mem,
            domains=domains,
            ksm=MappingProxyType({k.removeprefix("shm_"): v for k, v in ksm.items()}),
        )

    def _bulk_stats(self, only: Collection[str] | None) -> tuple[list[tuple[Any, dict[str, Any]]], bool]:
        """Every domain's stats (or `only` these), without waiting for busy ones where the host can."""
        flags = 0 if "nowait" in self._unsupported else NOWAIT
        try:
            return self._stats_call(only, flags), bool(flags)
        except libvirt.libvirtError as exc:
            # A daemon older than the flag refuses it ("unsupported flags"): ask as before, from now on.
            if not flags or exc.get_error_code() not in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT):
                raise
            log.info("%s does not take the stats flag NOWAIT: %s", self.uri, exc)
            self._unsupported.add("nowait")
            return self._stats_call(only, 0), False

    def _stats_call(self, only: Collection[str] | None, flags: int) -> list[tuple[Any, dict[str, Any]]]:
        if only is None:
            return list(self._conn.getAllDomainStats(STATS_GROUPS, flags))
        handles = [self._domain_objects[u] for u in only if u in self._domain_objects]
        return list(self._conn.domainListGetStats(handles, STATS_GROUPS, flags)) if handles else []

    def _busy_rule(self) -> Callable[[dict[str, Any]], bool] | None:
        """How to tell a record answered without its domain's job, on this host's driver (QEMU only)."""
        if self._hypervisor is None:
            self._hypervisor = str(self._conn.getType())
        if self._hypervisor != "QEMU":
            return None
        active, field = ACTIVE_STATES, JOB_ONLY_FIELD
        return lambda stats: field not in stats and stats.get("state.state") in active

    def node_memory_kib(self) -> dict[str, int]:
        with mapped(self.uri, "node memory"):
            return dict(self.node_stats("memory", self._conn.getMemoryStats, libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS))

    def node_cpu_ns(self) -> dict[str, int]:
        with mapped(self.uri, "node CPU"):
            return dict(self.node_stats("cpu", self._conn.getCPUStats, libvirt.VIR_NODE_CPU_STATS_ALL_CPUS))

    def node_stats(
        self, kind: str, call: Callable[[int, int], dict[str, int]], which: int
    ) -> MappingProxyType[str, int]:
        """Node CPU or memory counters; empty (and not asked again) where the host does not implement them."""
        if kind in self._unsupported:
            return MappingProxyType({})
        try:
            return MappingProxyType({k: int(v) for k, v in call(which, 0).items()})
        except libvirt.libvirtError as exc:
            # The test driver and some remote setups do not implement node stats.
            if self._unsupported_error(exc):
                self._unsupported.add(kind)
                return MappingProxyType({})
            raise
