"""Migrations already running: find them, re-attach a monitor, or abort them.

A peer-to-peer job runs in the source daemon, not in the client: a vmtui (or virsh) that dies leaves
it running. The next vmtui finds it (`find_inflight`, with vmtui's own note naming the target when it
started the job), watches it to its end (`watch`, which decides that end from facts like `migrate`)
or stops it (`abort`). A job whose end could not be learnt (its source stopped answering) is settled
by `settle` once the source answers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from vmtui.drivers.base import Migrator
from vmtui.errors import OperationError, VmtuiError
from vmtui.models import JobStats
from vmtui.ops.base import Progress, Step, never_cancelled, no_progress
from vmtui.ops.migrate import history
from vmtui.ops.migrate.job import JobHandover, JobRun, monitor
from vmtui.ops.migrate.policy import StallPolicy
from vmtui.ops.migrate.run import (
    MigrationCancelledError,
    MigrationFailedError,
    MigrationOptions,
    MigrationResult,
    finish,
)


@dataclass(frozen=True, slots=True)
class InflightJob:
    """A migration found running on a host (started by another tool, or by a vmtui that died)."""

    host: str
    uuid: str
    domain: str
    stats: JobStats
    target: str | None = None
    """The target, when a vmtui note names it."""
    orphaned: bool = False
    """A vmtui started it and is gone."""
    note: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "uuid": self.uuid, "domain": self.domain, "direction": self.stats.operation,
                "elapsed_ms": self.stats.elapsed_ms, "iteration": self.stats.iteration,
                "memory_remaining": self.stats.memory_remaining, "target": self.target,
                "orphaned": self.orphaned}  # fmt: skip


def find_inflight(conn: Migrator, host: str) -> list[InflightJob]:
    """Migrations in flight on `host`, with what vmtui's notes say about them."""
    out = []
    for uuid, name, stats in conn.migration_jobs():
        notes = history.inflight(uuid)
        note = notes[0] if notes else {}
        orphan = bool(note) and history.orphaned(note)
        out.append(InflightJob(host, uuid, name, stats, note.get("target"), orphan, note))
    return out


def watch(
    src: Migrator,
    ident: str,
    *,
    dst: Migrator | None = None,
    source: str | None = None,
    target: str | None = None,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> MigrationResult:
    """Re-attach to a migration already running on `src`: progress, abort on `cancel`, the end from facts.

    The stall policy only reports here (its steps belong to whoever started the job). Raises like
    `migrate`; NotFoundError or OperationError when no migration is running on the domain.
    """
    cancel = cancel or never_cancelled()
    info = src.domain(ident)
    stats = src.job_stats(info.uuid)
    if not stats.migrating or stats.operation != "migration-out":
        raise OperationError(f"{info.name}: no outgoing migration is running on {source or src.uri}")
    note = next(iter(history.inflight(info.uuid)), {})
    options = noted_options(note)
    source = source or src.uri
    target = target or str(note.get("target") or (dst.uri if dst is not None else "?"))
    run = JobRun(downtime_ms=options.max_downtime_ms, last=stats)
    if stats.elapsed_ms:
        run.began -= stats.elapsed_ms / 1000  # the job began before we came
        run.began_wall -= stats.elapsed_ms / 1000
    handover = JobHandover(info.uuid)
    stop_events = src.on_job_events(handover.job_event)
    policy = StallPolicy(start_ms=options.max_downtime_ms, postcopy=False, enabled=False)
    progress(Step(f"watching the migration of {info.name} to {target}", run.fraction, {"type": "phase",
                  "phase": "attached"}))  # fmt: skip
    try:
        monitor(
            src,
            info.uuid,
            run,
            handover=handover,
            policy=policy,
            progress=progress,
            cancel=cancel,
            attached=True,
        )
    finally:
        stop_events()
    handover.drain(run)  # a completed event that came after the monitor's last look
    run.ended = time.monotonic()
    return finish(src, dst, info, options, None, run, source=source, target=target, progress=progress, reattached=True)


def abort(conn: Migrator, ident: str, *, host: str | None = None) -> str:
    """Abort the migration running on `ident` (on its source); returns the domain's name."""
    conn.require_writable("abort migration")
    info = conn.domain(ident)
    stats = conn.job_stats(info.uuid)
    if not stats.migrating:
        raise OperationError(f"{info.name}: no migration is running on {host or conn.uri}")
    conn.abort_job(info.uuid)
    history.mark_aborted(info.uuid)
    return info.name


def noted_options(note: dict[str, Any]) -> MigrationOptions:
    options = note.get("options")
    try:
        return MigrationOptions(**options) if isinstance(options, dict) else MigrationOptions()
    except TypeError:  # a note written by another version of vmtui
        return MigrationOptions()


@dataclass(frozen=True, slots=True)
class NotedDomain:
    """The domain an in-flight note names."""

    uuid: str
    name: str


def unsettled() -> list[dict[str, Any]]:
    """Notes of jobs whose end is still unknown, for `settle`."""
    return history.unknown()


def settle(src: Migrator, dst: Migrator | None, note: dict[str, Any], *, progress: Progress = no_progress) -> (
    MigrationResult | None
):  # fmt: skip
    """Decide the end of a job that was unknown (RELIABILITY #30), now that its source answers.

    From facts, as `migrate` decides: the source runs it -> failed (the guest stayed there); the source
    no longer has it and the target runs it -> completed. Returned whatever the outcome (recorded in
    the history when known; a still unknown end keeps its note); None when the source still runs an
    outgoing migration of it (`watch` follows that one).
    """
    named = NotedDomain(str(note["uuid"]), str(note.get("domain") or note["uuid"]))
    try:
        stats = src.job_stats(named.uuid)
        if stats.migrating and stats.operation == "migration-out":
            return None
    except VmtuiError:
        pass  # not there, or not answering: the facts below say which
    started = note.get("started_at")
    run = JobRun(began_wall=float(started) if isinstance(started, int | float) else time.time())
    try:
        return finish(src, dst, named, noted_options(note), None, run, source=str(note.get("source") or src.uri),
                      target=str(note.get("target") or "?"), progress=progress, reattached=True,
                      settling=True)  # fmt: skip
    except (MigrationFailedError, MigrationCancelledError) as exc:
        return exc.result
