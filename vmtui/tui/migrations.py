"""The TUI's migration jobs: pre-checks per host, the migration itself, and watching jobs already in flight.

Every one of them is a function of `vmtui.ops` started by the job starter (`vmtui.tui.actions`: a
daemon thread with a progress callback and a cancel Event); this module only knows which job is
which, so the migration flow can route their progress to the right screen. It lives on Textual's
loop, like `Fleet`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

from vmtui.drivers.base import Hypervisor, Migrator
from vmtui.errors import UsageError, VmtuiError
from vmtui.models import HostEntry
from vmtui.ops.base import Progress, Step
from vmtui.ops.migrate import MigrationOptions, migrate
from vmtui.ops.migrate.inflight import InflightJob, find_inflight, watch
from vmtui.ops.migrate.precheck import PrecheckReport, precheck, unreachable
from vmtui.tui.jobs import Job
from vmtui.tui.parts import Controller, Parts

Connector = Callable[[HostEntry], Hypervisor]
PENDING = "migrating…"


@dataclass(frozen=True, slots=True)
class MigrationJob:
    """What a job of this module is for."""

    kind: str
    """precheck, migrate, watch or scan."""
    host: str
    """The source host (the scanned host for a scan)."""
    uuid: str | None
    name: str
    target: str | None = None


def _live(conn: Hypervisor) -> Migrator:
    if not isinstance(conn, Migrator):
        raise UsageError(f"{conn.uri}: a recording cannot take part in a migration")
    return conn


class Migrations(Controller):
    """Starts the TUI's migration jobs and remembers which job is which."""

    def __init__(self, parts: Parts) -> None:
        super().__init__(parts)
        self.by_job: dict[int, MigrationJob] = {}

    def job_for(self, uuid: str) -> Job | None:
        """The running migration or watch job of a domain."""
        for job_id, mig in self.by_job.items():
            if mig.uuid == uuid and mig.kind in ("migrate", "watch") and job_id in self.jobs.jobs:
                return self.jobs.jobs[job_id]
        return None

    def refusal(self, uuid: str | None) -> str | None:
        """Why the domain cannot be migrated now (host, job in flight, state), or None."""
        found = self.fleet.find(uuid) if uuid else None
        return self.fleet.migrate_refusal(uuid, self.candidates(found[0].name) if found else [])

    def candidates(self, source: str) -> list[str]:
        """Hosts a domain of `source` could move to: connected, writable, not the source, not in maintenance."""
        return [
            name
            for name, view in self.fleet.hosts.items()
            if name != source
            and name in self.entries
            and not self.entries[name].maintenance
            and self.fleet.write_refusal(view) is None
        ]

    def _start(
        self, mig: MigrationJob, label: str, operation: Callable[[Progress, threading.Event], Any]
    ) -> Job | None:
        job = self.starter.start(mig.host, mig.uuid if mig.kind in ("migrate", "watch") else None, label, operation)
        if job is not None:
            self.by_job[job.job_id] = mig
        return job

    def finished(self, job_id: int) -> MigrationJob | None:
        return self.by_job.pop(job_id, None)

    # ----- the jobs ---------------------------------------------------------------------------------

    def start_prechecks(self, uuid: str, *, copy_storage: bool = False) -> Job | None:
        """Pre-check every candidate host in parallel; each report arrives as a step (`type` host-report).

        `copy_storage`: as the migration would be asked (disks the target lacks are then copied, not refused).
        """
        view = self.fleet.find(uuid)
        if view is None:
            return None
        source = view[0].name
        name = self.fleet.name_of(uuid)
        targets = self.candidates(source)
        src_entry = self.entries[source]
        connector = self.connector

        def operation(progress: Progress, cancel: threading.Event) -> list[PrecheckReport]:
            with connector(src_entry) as src_conn:
                src = _live(src_conn)
                info = src.domain(uuid)

                def one(target: str) -> PrecheckReport:
                    try:
                        with connector(self.entries[target]) as dst:
                            report = precheck(
                                src, _live(dst), info, source=source, target=target, copy_storage=copy_storage
                            )
                    except VmtuiError as exc:
                        report = unreachable(info, source, target, exc)
                    progress(Step(report.summary(), None, {"type": "host-report", "host": target, "report": report}))
                    return report

                # One connection to the source serves every check; libvirt answers calls from many threads.
                with ThreadPoolExecutor(max_workers=max(1, min(8, len(targets)))) as pool:
                    return list(pool.map(one, targets))

        return self._start(MigrationJob("precheck", source, uuid, name), f"Pre-checks for {name}", operation)

    def start_migration(self, uuid: str, target: str, options: MigrationOptions) -> Job | None:
        found = self.fleet.find(uuid)
        if found is None or target not in self.entries:
            return None
        source = found[0].name
        name = self.fleet.name_of(uuid)
        src_entry, dst_entry = self.entries[source], self.entries[target]
        connector = self.connector

        def operation(progress: Progress, cancel: threading.Event) -> object:
            with connector(src_entry) as src, connector(dst_entry) as dst:
                return migrate(_live(src), _live(dst), uuid, options, source=source, target=target,
                               target_uri=dst_entry.uri, progress=progress, cancel=cancel)  # fmt: skip

        job = self._start(MigrationJob("migrate", source, uuid, name, target), f"Migrate {name} to {target}", operation)
        if job is not None:
            self.fleet.migration_began(uuid, source, target, PENDING)
        return job

    def start_watch(self, source: str, uuid: str, target: str | None = None) -> Job | None:
        """Re-attach to a migration running on `source` (started elsewhere, or by a vmtui that died)."""
        if source not in self.entries or self.jobs.busy(uuid):
            return None
        target = target or self.fleet.incoming_host(uuid)
        name = self.fleet.name_of(uuid)
        src_entry = self.entries[source]
        dst_entry = self.entries.get(target) if target else None
        connector = self.connector

        def operation(progress: Progress, cancel: threading.Event) -> object:
            with connector(src_entry) as src:
                if dst_entry is None:
                    return watch(_live(src), uuid, source=source, target=target, progress=progress, cancel=cancel)
                with connector(dst_entry) as dst:
                    return watch(_live(src), uuid, dst=_live(dst), source=source, target=target, progress=progress,
                                 cancel=cancel)  # fmt: skip

        job = self._start(MigrationJob("watch", source, uuid, name, target), f"Migration of {name}", operation)
        if job is not None:
            self.fleet.migration_began(uuid, source, target, PENDING)
        return job

    def ended(self, mig: MigrationJob) -> None:
        """A migrate or watch job ended: the domain is one host's again."""
        if mig.uuid is not None:
            self.fleet.migration_ended(mig.uuid)

    def start_scan(self, host: str) -> Job | None:
        """Look for migrations in flight on a host that just connected (a vmtui that died left them)."""
        entry = self.entries.get(host)
        if entry is None or entry.read_only:
            return None  # a read-only host could not abort what it found; its events still show migrations
        connector = self.connector

        def operation(progress: Progress, cancel: threading.Event) -> list[InflightJob]:
            with connector(entry) as conn:
                return find_inflight(_live(conn), host) if isinstance(conn, Migrator) else []

        return self._start(MigrationJob("scan", host, None, host), f"Migrations in flight on {host}", operation)

    @staticmethod
    def inflight(result: object) -> list[InflightJob]:
        return [j for j in cast(list[Any], result or []) if isinstance(j, InflightJob)]
