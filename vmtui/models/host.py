"""What a host reports: its facts, one bulk sample of every domain, and a domain's balloon."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from vmtui.models import EMPTY_STATS, StatValue


@dataclass(frozen=True, slots=True)
class HostInfo:
    """The hypervisor host: versions and the virtualization features the chapter talks about."""

    uri: str
    hostname: str
    libvirt_version: str
    hypervisor: str
    """The driver type libvirt reports (QEMU, Test, ...)."""
    hypervisor_version: str
    kernel: str | None
    cpus: int
    cpu_model: str
    memory_kib: int
    kvm_usable: bool
    """libvirt can start domains of type 'kvm' here (hardware-assisted virtualization)."""
    tdp: bool | None
    """Two-dimensional paging (Intel EPT / AMD NPT) on; None when it cannot be read (remote host)."""
    tdp_detail: str
    hugepage_size_kib: int | None = None
    page_size_kib: int | None = None
    """The base page size (capabilities): what one KSM page is."""
    hugepages_total: int | None = None
    hugepages_free: int | None = None
    read_only: bool = False
    kvm_module: str | None = None
    """kvm_intel, kvm_amd or kvm_pvm when known (kvm_pvm: nested PVM, which runs no stock Linux guest)."""
    host_uuid: str = ""
    """The host's own UUID (capabilities): two URIs with the same one are the same host."""
    source: str = "libvirt"
    """"libvirt" for a live host, "recording" for one played back from a file."""


@dataclass(frozen=True, slots=True)
class DomainStats:
    """One domain's slice of a bulk `getAllDomainStats` call."""

    uuid: str
    name: str
    raw: Mapping[str, StatValue] = field(default_factory=lambda: EMPTY_STATS)
    busy: bool = False
    """A job of the domain's own (an incoming migration, a backup, a hung monitor) held it: libvirt
    answered at once with only what needs no job (state, CPU time), not the counters vmtui reads."""


@dataclass(frozen=True, slots=True)
class HostSample:
    """Everything one poll of one host returned, stamped with when it was taken."""

    host: str
    """The saved host name, or the URI when the host is not saved."""
    uri: str
    monotonic: float
    """time.monotonic() when the bulk call returned: rates are computed from these."""
    wall: float
    """time.time() for display ("stale since 12:03:04")."""
    cpu_ns: Mapping[str, int]
    """Host CPU counters summed over all CPUs (kernel, user, idle, iowait) in ns."""
    memory_kib: Mapping[str, int]
    """Host memory (total, free, buffers, cached) in KiB."""
    domains: tuple[DomainStats, ...]
    ksm: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """KSM's counters and knobs as libvirt's node memory parameters name them without `shm_`
    (pages_shared, pages_sharing, pages_unshared, pages_volatile, full_scans, pages_to_scan,
    sleep_millisecs, merge_across_nodes); empty where the host does not report them."""


@dataclass(frozen=True, slots=True)
class BalloonReading:
    """One domain's balloon as its host sees it now (memory/balloon.py and the balloon policy read it)."""

    uuid: str
    name: str
    state: str
    max_kib: int
    """The most the guest can have (`<memory>`, `virDomainGetMaxMemory`)."""
    target_kib: int
    """`<currentMemory>` of the live definition: libvirt moves it with QEMU's balloon-change events
    (rate-limited), so it trails `actual` by up to a second rather than holding the target."""
    model: str | None
    """`<memballoon model=...>`: None when absent, "none" when disabled."""
    period: int | None
    """The statistics period in seconds; None when unset (the guest then never reports)."""
    stats: Mapping[str, int]
    """`virDomainMemoryStats` by libvirt's names: actual, unused, available, usable, last_update, rss, ..."""
    job_active: bool = False
    """A job (a migration, a save) runs on the domain now: policies leave it alone."""
