"""What the layers above the drivers may call: the `Hypervisor` protocol.

A live libvirt connection (`drivers.libvirt.driver.Connection`) and a recording played back
(`replay.ReplayHost`) both satisfy it, so the monitor, the CLI and the TUI never branch on which
one they hold. Calls block; errors are `vmtui.errors.VmtuiError`s.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

from vmtui.models import DomainInfo

# Only for the protocol's annotations: every command imports this module, and `vmtui list` must not
# build the value types of jobs, snapshots and samples.
if TYPE_CHECKING:
    from vmtui.drivers.xml.migrate import MigrationXml
    from vmtui.models import (
        DirtyRate,
        DiskFile,
        DomainPresence,
        HostInfo,
        HostSample,
        JobStats,
        MigrateSpec,
        Snapshot,
        UndefineFacts,
    )

JobEventCallback = Callable[[str, str, int, "JobStats | None"], None]
"""(domain uuid, "migration-iteration" or "job-completed", iteration, completed stats); on libvirt's event thread."""


class Hypervisor(Protocol):
    uri: str
    """The URI libvirt resolved (aliases expanded)."""
    read_only: bool
    finite: bool
    """True for a recording: every sample counts and the source ends (EndOfRecordingError)."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *_exc: object) -> None: ...

    def close(self) -> None: ...

    def is_alive(self) -> bool: ...

    @property
    def closed_reason(self) -> str | None:
        """Why the connection dropped (end of file, keepalive timeout, ...), or None while it is up."""

    def on_closed(self, listener: Callable[[str], None]) -> None:
        """Call `listener(reason)` from another thread when the connection drops."""

    def on_lifecycle(self, callback: Callable[[str, str, int], None]) -> None:
        """Call `callback(uuid, event, detail)` from another thread on every lifecycle event."""

    def require_writable(self, action: str) -> None:
        """Raise DeniedError, before any call, when nothing may be changed through this connection."""

    def host_info(self, *, probe: bool = True) -> HostInfo: ...

    def list_domains(self) -> list[DomainInfo]: ...

    def domain(self, ident: str) -> DomainInfo:
        """A domain by name, UUID or ID; NotFoundError when there is none."""

    def domain_xml(self, ident: str, *, inactive: bool = False) -> str: ...

    def sample(self, host: str | None = None, *, only: Collection[str] | None = None) -> HostSample:
        """One bulk sample of every domain; EndOfRecordingError when a finite source has no more.

        `only`: a hint that just these UUIDs are wanted now; a source may return more (a recording
        returns whole samples), never a figure older than the sample's own time.
        """

    def lifecycle(self, ident: str, action: str) -> DomainInfo | None:
        """Run a lifecycle action; the facts after it, or None when the domain is gone (a transient one
        that stopped)."""

    # ----- definitions (drivers/libvirt/definitions.py) -----

    def find_domain_by_xml(self, xml: str) -> DomainInfo | None:
        """The domain a definition would replace (same UUID, else same name), or None."""

    def define_xml(self, xml: str) -> DomainInfo:
        """Define or redefine a persistent domain, validated by libvirt; a refusal changes nothing."""

    def undefine_facts(self, ident: str) -> UndefineFacts: ...

    def undefine(
        self, ident: str, *, keep_nvram: bool = False, volumes: tuple[DiskFile, ...] = ()
    ) -> tuple[DiskFile, ...]: ...

    # ----- snapshots (drivers/libvirt/snapshots.py) -----

    def list_snapshots(self, ident: str) -> list[Snapshot]: ...

    def snapshot(self, ident: str, name: str) -> Snapshot: ...

    def current_snapshot(self, ident: str) -> Snapshot | None: ...

    def create_snapshot(self, ident: str, xml: str, *, disk_only: bool = False) -> Snapshot: ...

    def revert_snapshot(self, ident: str, name: str) -> DomainInfo: ...

    def delete_snapshot(self, ident: str, name: str, *, children: bool = False) -> None: ...


@runtime_checkable
class Migrator(Hypervisor, Protocol):
    """A live host that can take part in a migration (a recording cannot): `jobs.JobsMixin`'s calls."""

    def node_memory_kib(self) -> dict[str, int]:
        """The host's memory counters in KiB (total, free, buffers, cached); empty where not reported."""

    def node_cpu_ns(self) -> dict[str, int]:
        """The host's CPU time counters in ns, summed over all CPUs (kernel, user, idle, iowait)."""

    def migrate(self, ident: str, dest_uri: str, spec: MigrateSpec) -> None:
        """Peer-to-peer live migration to `dest_uri`; blocks until the job ends, raises when it failed."""

    def job_stats(self, ident: str, *, completed: bool = False) -> JobStats: ...

    def abort_job(self, ident: str) -> None: ...

    def set_max_downtime(self, ident: str, ms: int) -> None: ...

    def start_postcopy(self, ident: str) -> None: ...

    def start_dirty_rate(self, ident: str, seconds: int) -> None: ...

    def dirty_rate(self, ident: str) -> DirtyRate: ...

    def memory_touched_kib(self, ident: str) -> int | None: ...

    def presence(self, uuid: str) -> DomainPresence: ...

    def find_by_name(self, name: str) -> tuple[str, bool] | None: ...

    def compare_cpu(self, facts: MigrationXml) -> str | None: ...

    def storage_visible(self, path: str) -> bool: ...

    def migration_jobs(self) -> list[tuple[str, str, JobStats]]: ...

    def on_job_events(self, callback: JobEventCallback) -> Callable[[], None]: ...
