"""Jobs on a domain (a migration in flight, its stats), what a migration asks of libvirt, and where a
domain is (what an ambiguous migration end is decided from)."""

from __future__ import annotations

from dataclasses import dataclass

from vmtui.models import ACTIVE_STATES

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
