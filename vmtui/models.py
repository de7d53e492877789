"""Frozen value objects shared by every layer: the drivers produce them, the faces render them.

Nothing here does I/O or imports libvirt or Textual. Samples cross threads (poller -> UI), so
every field is immutable: tuples, not lists; read-only mappings, not dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

StatValue = int | float | str
"""One value of `virDomainGetAllDomainStats` (libvirt gives ints, floats, strings and booleans as ints)."""

EMPTY_STATS: Mapping[str, StatValue] = MappingProxyType({})

DOMAIN_STATES = ("nostate", "running", "blocked", "paused", "shutting-down", "shut-off", "crashed", "pmsuspended")
"""libvirt's virDomainState values 0..7, by name (the driver and the metrics use the same words)."""
ACTIVE_STATES = frozenset({"running", "blocked", "paused", "shutting-down", "pmsuspended"})
"""States in which a domain has a QEMU process (and uses host memory)."""


def state_name(code: int) -> str:
    """The name of a virDomainState number; unknown numbers stay visible as numbers."""
    return DOMAIN_STATES[code] if 0 <= code < len(DOMAIN_STATES) else str(code)


class Accelerator(StrEnum):
    """How the guest CPU runs (the chapter's full virtualization vs hardware-assisted)."""

    KVM = "kvm"
    """Hardware-assisted: guest code runs natively under VT-x/AMD-V through /dev/kvm."""
    TCG = "tcg"
    """Software emulation: QEMU's Tiny Code Generator translates every guest instruction."""
    OTHER = "other"


class DeviceClass(StrEnum):
    """How a device reaches the guest, which decides what its IO costs."""

    PARAVIRTUAL = "paravirtual"
    """virtio/vhost: the guest knows it is virtualized and batches IO through shared rings."""
    EMULATED = "emulated"
    """A real chip (e1000, IDE, rtl8139) imitated by QEMU: every register access is a VM exit."""
    PASSTHROUGH = "passthrough"
    """A host PCI device or SR-IOV VF given to the guest (VFIO): no emulation at all."""
    OTHER = "other"
    """Not on the IO path that matters here (serial console, video none, ...)."""


@dataclass(frozen=True, slots=True)
class HostEntry:
    """A saved host from hosts.toml."""

    name: str
    uri: str
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class Device:
    """One device of a domain, as read from its XML."""

    kind: str
    """disk, nic, controller, balloon, hostdev, input, rng, video, ..."""
    name: str
    """What a user would call it: the target dev (vda), the MAC, or the alias."""
    model: str
    """virtio, e1000, ide, sata, vfio, ..."""
    dev_class: DeviceClass
    detail: str = ""
    bus: str = ""
    """A disk's target bus (virtio, sata, ide, scsi, usb); empty for other kinds."""
    flavor: str = ""
    """A disk's `device` (disk, cdrom, lun, floppy) or a NIC's `type` (network, bridge, user, hostdev)."""
    mac: str = ""
    """A NIC's MAC address: what identifies it across live and persistent definitions."""
    alias: str = ""
    """libvirt's alias of the device in a running domain (net0, sata0-0-0): how a live detach names it."""
    source: str = ""
    """Where it comes from on the host: a disk's file or volume, a NIC's network or bridge, a
    passthrough device's PCI address (0000:03:10.1)."""
    vlan: int | None = None
    """The VLAN tag of a NIC (SR-IOV VFs), when set."""


@dataclass(frozen=True, slots=True)
class DomainInfo:
    """What the domain's live XML and state say about it (changes rarely; read on events)."""

    uuid: str
    name: str
    id: int | None
    state: str
    accelerator: Accelerator
    vcpus: int
    max_memory_kib: int
    memory_kib: int
    persistent: bool
    machine: str = ""
    devices: tuple[Device, ...] = ()
    balloon_model: str | None = None
    """None when the domain has no <memballoon>; "none" when it is explicitly disabled."""
    balloon_period: int | None = None
    """The balloon statistics period in seconds; without it guest memory stats never update."""


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


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One snapshot of a domain, as its snapshot XML and libvirt describe it."""

    name: str
    domain_uuid: str
    description: str
    created: int
    """Seconds since the epoch (libvirt's creationTime)."""
    state: str
    """The domain's state when it was taken: running, paused, shut-off, disk-snapshot."""
    parent: str | None
    current: bool
    """The snapshot the domain's present state descends from (virsh snapshot-current)."""
    location: str
    """internal (inside the qcow2 disks), external (overlay files), or mixed."""
    memory: bool
    """The guest's memory (a running VM's RAM and device state) is part of it."""

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "created": self.created,
            "state": self.state,
            "parent": self.parent,
            "current": self.current,
            "location": self.location,
            "memory": self.memory,
        }


@dataclass(frozen=True, slots=True)
class DiskFile:
    """A disk of a domain as its XML names it (for snapshots and for removing storage)."""

    target: str
    """vda, sda, hdc: what the guest calls it."""
    device: str
    """disk, cdrom, floppy, lun."""
    source: str | None
    """The file, block device or volume behind it; None for an empty drive."""
    source_type: str
    """file, block, volume, network, dir."""
    driver_type: str
    """raw, qcow2, ... ("" when the XML does not say)."""
    readonly: bool


@dataclass(frozen=True, slots=True)
class UndefineFacts:
    """What undefining a domain would take with it: asked about before it is done."""

    uuid: str
    name: str
    active: bool
    persistent: bool
    snapshots: int
    managed_save: bool
    nvram: str | None
    """The NVRAM (UEFI variables) file of the definition, if it has one."""
    disks: tuple[DiskFile, ...]
    volumes: tuple[DiskFile, ...]
    """Writable disks whose file belongs to a storage pool: only those can be removed through libvirt."""


JOB_TYPES = ("none", "bounded", "unbounded", "completed", "failed", "cancelled")
"""libvirt's virDomainJobType values 0..5, by name."""
JOB_OPERATIONS = (
    "unknown", "start", "save", "restore", "migration-in", "migration-out",
    "snapshot", "snapshot-revert", "dump", "backup", "snapshot-delete",
)  # fmt: skip
"""libvirt's virDomainJobOperation values, by name."""
DEFAULT_PAGE_SIZE = 4096
"""What libvirt's live job stats assume for `memory_dirty_rate` (pages/s); completed stats say it."""


@dataclass(frozen=True, slots=True)
class JobStats:
    """One reading of a domain's job (`virDomainGetJobStats`): a migration in flight or just completed.

    Sizes are bytes, times milliseconds; None where this libvirt or this phase does not report it.
    """

    type: str
    """none, bounded, unbounded (a migration in flight), completed, failed, cancelled."""
    operation: str = "unknown"
    elapsed_ms: int | None = None
    data_total: int | None = None
    data_processed: int | None = None
    data_remaining: int | None = None
    memory_total: int | None = None
    memory_processed: int | None = None
    memory_remaining: int | None = None
    memory_bps: int | None = None
    """Throughput of the memory transfer, bytes/s, as QEMU measures it."""
    dirty_rate_pages: int | None = None
    """Pages the guest dirties per second, as QEMU measures it during the migration."""
    page_size: int = DEFAULT_PAGE_SIZE
    iteration: int | None = None
    """Passes over guest memory so far (QEMU's dirty-sync count): 1 is the first full copy."""
    downtime_ms: int | None = None
    """Completed jobs: how long the guest was paused (source pause to destination resume)."""
    setup_ms: int | None = None
    throttle_pct: int | None = None
    """Auto-converge's current vCPU throttle."""
    postcopy_requests: int | None = None
    disk_total: int | None = None
    disk_remaining: int | None = None
    error: str | None = None
    """A failed job's message, where libvirt keeps one."""

    @property
    def active(self) -> bool:
        return self.type in ("bounded", "unbounded")

    @property
    def migrating(self) -> bool:
        """A migration is in flight (outgoing or incoming) on this domain."""
        return self.active and self.operation in ("migration-out", "migration-in")

    @property
    def dirty_bps(self) -> int | None:
        return None if self.dirty_rate_pages is None else self.dirty_rate_pages * self.page_size


@dataclass(frozen=True, slots=True)
class MigrateSpec:
    """What one peer-to-peer live migration asks of libvirt (flags and typed parameters)."""

    persist: bool = True
    """Define the domain on the target (VIR_MIGRATE_PERSIST_DEST)."""
    undefine_source: bool = True
    auto_converge: bool = False
    postcopy: bool = False
    """Allow a switch to post-copy during the job (it is not started by this alone)."""
    compressed: bool = False
    tunnelled: bool = False
    parallel: int | None = None
    """Parallel migration connections (multifd); None for one."""
    bandwidth_mib_s: int | None = None
    """Cap for pre-copy and post-copy alike; None for libvirt's default (unlimited)."""
    copy_storage: bool = False
    """Copy non-shared disks too (VIR_MIGRATE_NON_SHARED_DISK)."""


@dataclass(frozen=True, slots=True)
class DomainPresence:
    """Whether and how a domain exists on one host: what an ambiguous migration end is decided from."""

    uuid: str
    exists: bool
    state: str = ""
    reason: str = ""
    """For paused/running: migration, postcopy, postcopy-failed, or another libvirt reason name."""
    persistent: bool = False

    @property
    def active(self) -> bool:
        return self.exists and self.state in ACTIVE_STATES


@dataclass(frozen=True, slots=True)
class DirtyRate:
    """libvirt's dirty-rate calculation: how fast the guest writes to its memory."""

    measured: bool
    """False while QEMU is still measuring (or never was asked)."""
    mib_per_s: float | None
    period_s: int | None
    mode: str = ""
