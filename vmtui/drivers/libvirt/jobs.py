"""Jobs: live migration (migrate3 with typed parameters), job stats, abort, dirty rate, migration events.

Everything a migration needs from one host, as blocking calls. The source's `migrate` call blocks
for the whole job; libvirt's remote driver answers other calls on the same connection meanwhile
(virsh's `migrate --verbose` reads job info the same way), so a monitor can poll `job_stats` and
call `abort_job` from another thread while it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import libvirt

from vmtui.drivers.base import JobEventCallback
from vmtui.drivers.libvirt.connection import ConnectionCore, convert_error, mapped
from vmtui.models import state_name

# The job value types are imported where they are built: `vmtui list` opens a Connection too, and
# must not build them (see vmtui.models). MigrationXml is only a parameter's type.
if TYPE_CHECKING:
    from vmtui.drivers.xml.migrate import MigrationXml
    from vmtui.models import DirtyRate, DomainPresence, JobStats, MigrateSpec

log = logging.getLogger("vmtui.drivers.libvirt.jobs")

_RUNNING_REASONS = {
    libvirt.VIR_DOMAIN_RUNNING_MIGRATED: "migration",
    libvirt.VIR_DOMAIN_RUNNING_MIGRATION_CANCELED: "migration-cancelled",
    libvirt.VIR_DOMAIN_RUNNING_POSTCOPY: "postcopy",
    libvirt.VIR_DOMAIN_RUNNING_POSTCOPY_FAILED: "postcopy-failed",
}
_PAUSED_REASONS = {
    libvirt.VIR_DOMAIN_PAUSED_USER: "user",
    libvirt.VIR_DOMAIN_PAUSED_MIGRATION: "migration",
    libvirt.VIR_DOMAIN_PAUSED_POSTCOPY: "postcopy",
    libvirt.VIR_DOMAIN_PAUSED_POSTCOPY_FAILED: "postcopy-failed",
    libvirt.VIR_DOMAIN_PAUSED_IOERROR: "io-error",
    libvirt.VIR_DOMAIN_PAUSED_STARTING_UP: "starting-up",
}


def _int(raw: dict[str, Any], key: str) -> int | None:
    value = raw.get(key)
    return int(value) if isinstance(value, int | float) else None


def job_stats_from(raw: dict[str, Any]) -> JobStats:
    """libvirt's job stats dict as a frozen JobStats (the JOB_COMPLETED event's dict has no `type`)."""
    from vmtui.models import JOB_OPERATIONS, JOB_TYPES, JobStats

    type_code = _int(raw, "type")
    op_code = _int(raw, "operation") or 0
    return JobStats(
        type=JOB_TYPES[type_code] if type_code is not None and 0 <= type_code < len(JOB_TYPES) else "completed",
        operation=JOB_OPERATIONS[op_code] if 0 <= op_code < len(JOB_OPERATIONS) else str(op_code),
        elapsed_ms=_int(raw, "time_elapsed"),
        data_total=_int(raw, "data_total"),
        data_processed=_int(raw, "data_processed"),
        data_remaining=_int(raw, "data_remaining"),
        memory_total=_int(raw, "memory_total"),
        memory_processed=_int(raw, "memory_processed"),
        memory_remaining=_int(raw, "memory_remaining"),
        memory_bps=_int(raw, "memory_bps"),
        dirty_rate_pages=_int(raw, "memory_dirty_rate"),
        page_size=_int(raw, "memory_page_size") or 4096,
        iteration=_int(raw, "memory_iteration"),
        downtime_ms=_int(raw, "downtime"),
        setup_ms=_int(raw, "setup_time"),
        throttle_pct=_int(raw, "auto_converge_throttle"),
        postcopy_requests=_int(raw, "memory_postcopy_requests"),
        disk_total=_int(raw, "disk_total"),
        disk_remaining=_int(raw, "disk_remaining"),
        error=str(raw["errmsg"]) if raw.get("errmsg") else None,
    )


def migrate_flags(spec: MigrateSpec) -> int:
    """Live and peer-to-peer always: the source daemon drives the job, so a client that dies orphans nothing."""
    flags = int(libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER)
    for wanted, flag in (
        (spec.persist, libvirt.VIR_MIGRATE_PERSIST_DEST),
        (spec.undefine_source, libvirt.VIR_MIGRATE_UNDEFINE_SOURCE),
        (spec.auto_converge, libvirt.VIR_MIGRATE_AUTO_CONVERGE),
        (spec.postcopy, libvirt.VIR_MIGRATE_POSTCOPY),
        (spec.compressed, libvirt.VIR_MIGRATE_COMPRESSED),
        (spec.tunnelled, libvirt.VIR_MIGRATE_TUNNELLED),
        (spec.parallel is not None, libvirt.VIR_MIGRATE_PARALLEL),
        (spec.copy_storage, libvirt.VIR_MIGRATE_NON_SHARED_DISK),
    ):
        if wanted:
            flags |= int(flag)
    return flags


def migrate_params(spec: MigrateSpec) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if spec.bandwidth_mib_s is not None:
        params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = spec.bandwidth_mib_s
        if spec.postcopy:
            # A cap is a cap: without this, the post-copy phase would run unlimited.
            params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY] = spec.bandwidth_mib_s
    if spec.parallel is not None:
        params[libvirt.VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS] = spec.parallel
    return params


class JobsMixin(ConnectionCore):
    lookup: Callable[[str], Any]
    """Resolve a domain like virsh (from `DomainsMixin`, the sibling mixin of every Connection)."""

    def _dom(self, ident: str) -> Any:
        return self.lookup(ident)

    # ----- the migration itself ------------------------------------------------------------------

    def migrate(self, ident: str, dest_uri: str, spec: MigrateSpec) -> None:
        """Migrate peer-to-peer to `dest_uri` (as the source daemon will reach it); blocks until the job ends."""
        self.require_writable("migrate")
        with mapped(self.uri, "migrate"):
            self._dom(ident).migrateToURI3(dest_uri, migrate_params(spec), migrate_flags(spec))

    def job_stats(self, ident: str, *, completed: bool = False) -> JobStats:
        """The domain's current job; `completed`: the last completed one (read it on the target).

        Completed stats are read with KEEP_COMPLETED: by default libvirt hands them out once and
        forgets them, and `virsh domjobinfo --completed` (or another tool) must still find them.
        """
        flags = (
            (libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED | libvirt.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED) if completed else 0
        )
        with mapped(self.uri, "job stats"):
            return job_stats_from(self._dom(ident).jobStats(flags))

    def abort_job(self, ident: str) -> None:
        self.require_writable("abort job")
        with mapped(self.uri, "abort job"):
            self._dom(ident).abortJob()

    def set_max_downtime(self, ident: str, ms: int) -> None:
        self.require_writable("set max downtime")
        with mapped(self.uri, "set max downtime"):
            self._dom(ident).migrateSetMaxDowntime(ms, 0)

    def max_downtime(self, ident: str) -> int | None:
        with mapped(self.uri, "max downtime"):
            return int(self._dom(ident).migrateGetMaxDowntime(0))

    def start_postcopy(self, ident: str) -> None:
        self.require_writable("start post-copy")
        with mapped(self.uri, "start post-copy"):
            self._dom(ident).migrateStartPostCopy(0)

    # ----- dirty rate ------------------------------------------------------------------------------

    def start_dirty_rate(self, ident: str, seconds: int) -> None:
        """Ask QEMU to measure the guest's dirty rate over `seconds` (page sampling; works under TCG too)."""
        with mapped(self.uri, "dirty rate"):
            self._dom(ident).startDirtyRateCalc(seconds, 0)

    def dirty_rate(self, ident: str) -> DirtyRate:
        """The last dirty-rate measurement (read through the bulk stats call, as libvirt offers it)."""
        from vmtui.models import DirtyRate

        with mapped(self.uri, "dirty rate"):
            dom = self._dom(ident)
            records = self._conn.domainListGetStats([dom], libvirt.VIR_DOMAIN_STATS_DIRTYRATE, 0)
        raw = records[0][1] if records else {}
        measured = raw.get("dirtyrate.calc_status") == libvirt.VIR_DOMAIN_DIRTYRATE_MEASURED
        rate = raw.get("dirtyrate.megabytes_per_second")
        return DirtyRate(
            measured=measured,
            mib_per_s=float(rate) if measured and isinstance(rate, int | float) else None,
            period_s=_int(raw, "dirtyrate.calc_period"),
            mode=str(raw.get("dirtyrate.calc_mode", "")),
        )

    def memory_touched_kib(self, ident: str) -> int | None:
        """What QEMU has touched of the guest's memory (`balloon.rss`), None where not reported.

        One domain's stats, not the host's: on a host of many guests the bulk call asks every QEMU.
        """
        with mapped(self.uri, "memory stats"):
            records = self._conn.domainListGetStats([self._dom(ident)], libvirt.VIR_DOMAIN_STATS_BALLOON, 0)
        rss = records[0][1].get("balloon.rss") if records else None
        return rss if isinstance(rss, int) and rss > 0 else None

    # ----- facts for pre-checks and for deciding how a job ended ---------------------------------------

    def presence(self, uuid: str) -> DomainPresence:
        """Whether the domain exists here, its state and why: a missing domain is an answer, not an error."""
        from vmtui.models import DomainPresence

        try:
            dom = self._conn.lookupByUUIDString(uuid)
            state, reason = dom.state()
            persistent = bool(dom.isPersistent())
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return DomainPresence(uuid, exists=False)
            raise_mapped(exc, self.uri, "look up domain")
        names = _RUNNING_REASONS if state == libvirt.VIR_DOMAIN_RUNNING else _PAUSED_REASONS
        why = names.get(reason, str(reason)) if state in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_PAUSED) else ""
        return DomainPresence(uuid, True, state_name(state), why, persistent)

    def find_by_name(self, name: str) -> tuple[str, bool] | None:
        """(uuid, active) of the domain called `name` here, or None."""
        try:
            dom = self._conn.lookupByName(name)
            return dom.UUIDString(), bool(dom.isActive())
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise_mapped(exc, self.uri, f"look up {name!r}")

    def compare_cpu(self, facts: MigrationXml) -> str | None:
        """None when this host can run the domain's CPU; else libvirt's reason (missing features...)."""
        if facts.cpu_xml is None:
            return None
        try:
            self._conn.compareHypervisorCPU(
                None,
                facts.arch or None,
                facts.machine or None,
                facts.virt_type or None,
                facts.cpu_xml,
                libvirt.VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE,
            )
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_CPU_INCOMPATIBLE:
                return (exc.get_error_message() or str(exc)).strip()
            raise_mapped(exc, self.uri, "compare CPU")
        return None

    def storage_visible(self, path: str) -> bool:
        """Whether a storage pool of this host holds `path` (so the image is shared, not copied)."""
        try:
            self._conn.storageVolLookupByPath(path)
        except libvirt.libvirtError:
            return False
        return True

    def migration_jobs(self) -> list[tuple[str, str, JobStats]]:
        """(uuid, name, stats) of every active domain with a migration in flight here, in or out."""
        found = []
        with mapped(self.uri, "list jobs"):
            domains = self._conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
        for dom in domains:
            try:
                stats = job_stats_from(dom.jobStats(0))
                if stats.migrating:
                    found.append((dom.UUIDString(), dom.name(), stats))
            except libvirt.libvirtError:
                continue  # gone between the listing and the question
        return found

    # ----- events ------------------------------------------------------------------------------------

    def on_job_events(self, callback: JobEventCallback) -> Callable[[], None]:
        """Call `callback` on each migration iteration and completed job; returns a function that stops it."""

        def iteration(_conn: object, dom: Any, number: int, _opaque: object) -> None:
            try:
                callback(dom.UUIDString(), "migration-iteration", int(number), None)
            except Exception:  # never let a callback error escape into libvirt's loop
                log.exception("job event callback failed")

        def completed(_conn: object, dom: Any, params: dict[str, Any], _opaque: object) -> None:
            try:
                callback(dom.UUIDString(), "job-completed", 0, job_stats_from(params))
            except Exception:
                log.exception("job event callback failed")

        with mapped(self.uri, "register job events"):
            ids = [
                self._conn.domainEventRegisterAny(
                    None, libvirt.VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION, iteration, None
                ),
                self._conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, completed, None),
            ]
        self._callback_ids.extend(ids)

        def stop() -> None:
            for cb_id in ids:
                if cb_id in self._callback_ids:
                    self._callback_ids.remove(cb_id)
                    try:
                        self._conn.domainEventDeregisterAny(cb_id)
                    except libvirt.libvirtError:
                        pass

        return stop


def raise_mapped(exc: libvirt.libvirtError, uri: str, action: str) -> NoReturn:
    """Raise the VmtuiError for `exc` where `mapped` cannot wrap the whole call (some codes are answers)."""
    raise convert_error(exc, uri=uri, action=action) from exc
