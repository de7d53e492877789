"""Live migration over SSH: one blocking function for the CLI's `vmtui migrate` and the TUI's `m` alike.

`migrate(src, dst, ident, options)` refuses bad input before any call, runs the pre-checks (all of
them, each with its reason), starts a peer-to-peer job (live, persistent on the target, undefined on
the source by default), watches it with progress that never runs backwards and the stall policy
(`migrate_policy`), aborts when the cancel Event is set, decides the end from where the domain is
afterwards (`migrate_job.facts_after`, `migrate_outcome.decide`), and appends it to the history.
`watch` re-attaches to a job already running (a client that died leaves a peer-to-peer job running in
the source daemon).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from vmtui.drivers.base import Migrator
from vmtui.errors import ExitCode, OperationError, UsageError, VmtuiError
from vmtui.models import DomainInfo, JobStats, MigrateSpec
from vmtui.ops.base import Progress, Step, UserCancelledError, check_cancel, never_cancelled, no_progress
from vmtui.ops.migrate import history
from vmtui.ops.migrate.forecast import Forecast, forecast
from vmtui.ops.migrate.job import (
    DIRTY_RATE_SECONDS,
    ForecastInputs,
    JobHandover,
    JobRun,
    call_migrate,
    completed_stats,
    facts_after,
    monitor,
    start_measuring,
    worth_measuring,
)
from vmtui.ops.migrate.outcome import decide, where
from vmtui.ops.migrate.policy import DOWNTIME_STEPS_MS, PolicyAction, StallPolicy
from vmtui.ops.migrate.precheck import PrecheckReport, precheck

log = logging.getLogger("vmtui.ops.migrate")

BANDWIDTH_RANGE = (1, 1_000_000)
DOWNTIME_RANGE = (1, 60_000)
PARALLEL_RANGE = (2, 32)


@dataclass(frozen=True, slots=True)
class MigrationOptions:
    """What the user chose; `validate` refuses bad combinations before anything is asked of a host."""

    bandwidth_mib_s: int | None = None
    max_downtime_ms: int = DOWNTIME_STEPS_MS[0]
    """The max downtime the job starts with; the stall policy raises it in steps from there."""
    auto_converge: bool = False
    postcopy: bool = False
    compressed: bool = False
    parallel: int | None = None
    tunnelled: bool = False
    temporary: bool = False
    """Neither persist on the target nor undefine on the source (the target runs it transient)."""
    copy_storage: bool = False
    stall_policy: bool = True
    """False: stalls are reported, nothing is changed (plain pre-copy, as virsh does it)."""

    def validate(self) -> None:
        for name, value, (low, high), unit in (
            ("--bandwidth", self.bandwidth_mib_s, BANDWIDTH_RANGE, "MiB/s"),
            ("--max-downtime", self.max_downtime_ms, DOWNTIME_RANGE, "ms"),
            ("--parallel", self.parallel, PARALLEL_RANGE, "connections"),
        ):
            if value is not None and not low <= value <= high:
                raise UsageError(f"{name} {value}: must be {low} to {high} {unit}")
        if self.tunnelled and self.parallel is not None:
            raise UsageError("--tunnelled and --parallel exclude each other: parallel connections are QEMU's own")
        if self.tunnelled and self.postcopy:
            raise UsageError("--tunnelled and --postcopy exclude each other: libvirt has no tunnelled post-copy")

    def spec(self) -> MigrateSpec:
        return MigrateSpec(
            persist=not self.temporary,
            undefine_source=not self.temporary,
            auto_converge=self.auto_converge,
            postcopy=self.postcopy,
            compressed=self.compressed,
            tunnelled=self.tunnelled,
            parallel=self.parallel,
            bandwidth_mib_s=self.bandwidth_mib_s,
            copy_storage=self.copy_storage,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class MigrationResult:
    """How a migration ended (or, for a pre-check only run, what it would face)."""

    domain: str
    uuid: str
    source: str
    target: str
    outcome: str
    """completed, failed, cancelled, checked (pre-checks only), lost (the guest runs nowhere), or
    unknown (the source could not be asked and the target holds no whole guest: settled later)."""
    message: str
    options: MigrationOptions
    prechecks: PrecheckReport | None = None
    forecast: Forecast | None = None
    started_at: float | None = None
    """time.time() when the job started."""
    seconds: float | None = None
    """Wall time from the start of the job to its verified end."""
    job_ms: int | None = None
    """libvirt's own elapsed time of the job."""
    downtime_ms: int | None = None
    """How long the guest was paused, from the completed job on the target."""
    bytes_sent: int | None = None
    memory_bytes: int | None = None
    iterations: int | None = None
    throughput_bps: float | None = None
    postcopy: bool = False
    """The job switched to post-copy."""
    max_downtime_ms: int | None = None
    """The max downtime in force at the end (after the policy's steps)."""
    policy: tuple[PolicyAction, ...] = ()
    source_state: str | None = None
    target_state: str | None = None
    reattached: bool = False
    settled: bool = False
    """The end of an earlier job whose end was unknown, decided now that the source answers."""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {f: getattr(self, f) for f in self.__dataclass_fields__}
        body["options"] = self.options.to_json()
        body["prechecks"] = self.prechecks.to_json() if self.prechecks else None
        body["forecast"] = self.forecast.to_json() if self.forecast else None
        body["policy"] = [a.to_json() for a in self.policy]
        return body


class PrecheckFailedError(OperationError):
    """A pre-check failed: nothing was started."""

    def __init__(self, report: PrecheckReport) -> None:
        super().__init__(f"migrate {report.domain} to {report.target}: refused by the pre-checks: {report.summary()}")
        self.report = report


class MigrationFailedError(OperationError):
    """The job ran and did not complete (the result says where the domain is now)."""

    def __init__(self, result: MigrationResult, *, hint: str | None = None) -> None:
        super().__init__(result.message, hint=hint)
        self.result = result


class MigrationUnknownError(MigrationFailedError):
    """The job's end could not be learnt (the source stopped answering): neither success nor failure."""

    exit_code = ExitCode.UNKNOWN
    kind = "unknown"


class MigrationCancelledError(UserCancelledError):
    """The user aborted the job; the source keeps running."""

    def __init__(self, result: MigrationResult) -> None:
        super().__init__(result.message)
        self.result = result


# ----- pre-checks and forecast ---------------------------------------------------------------------


def prepare(
    src: Migrator,
    dst: Migrator,
    ident: str,
    options: MigrationOptions,
    *,
    source: str,
    target: str,
    writable: bool = True,
) -> tuple[DomainInfo, PrecheckReport]:
    """Validate, refuse read-only hosts (unless only checking), and run every pre-check."""
    options.validate()
    for conn in (src, dst):
        if not isinstance(conn, Migrator):
            raise UsageError(f"{conn.uri}: a recording cannot take part in a migration")
    if writable:
        src.require_writable("migrate")
        dst.require_writable("migrate")
    info = src.domain(ident)
    return info, precheck(src, dst, info, source=source, target=target, copy_storage=options.copy_storage)


def measure_forecast(
    src: Migrator,
    info: DomainInfo,
    options: MigrationOptions,
    *,
    source: str,
    target: str,
    cancel: threading.Event | None = None,
    started: bool = False,
) -> Forecast:
    """Measure the guest's dirty rate now (about a second) and predict the job with the known bandwidth.

    `started`: the caller already started the measurement (`start_dirty_rate`), to overlap its second
    with other work (a drain's plan); only its result is waited for here.
    """
    dirty: float | None = None
    if info.state == "running" and not src.read_only:  # the measurement is a write to libvirt's eyes
        if not started:
            src.start_dirty_rate(info.uuid, DIRTY_RATE_SECONDS)
        deadline = time.monotonic() + DIRTY_RATE_SECONDS + 5
        while time.monotonic() < deadline:
            check_cancel(cancel or never_cancelled(), f"forecast for {info.name}")
            measured = src.dirty_rate(info.uuid)
            if measured.measured:
                dirty = None if measured.mib_per_s is None else measured.mib_per_s * 1048576
                break
            time.sleep(0.1)  # QEMU reports no event when the measurement is done
    bandwidth, where = known_bandwidth(options, source, target)
    return forecast(
        memory_in_use(src, info),
        dirty,
        bandwidth,
        max_downtime_ms=options.max_downtime_ms,
        bandwidth_source=where,
        postcopy=options.postcopy,
        auto_converge=options.auto_converge,
    )


def known_bandwidth(options: MigrationOptions, source: str, target: str) -> tuple[float | None, str]:
    """The cap when there is one, else what the last migration between these hosts achieved."""
    if options.bandwidth_mib_s is not None:
        return options.bandwidth_mib_s * 1048576.0, "cap"
    last = history.last_throughput(source, target)
    return (last, "last migration") if last else (None, "unknown")


def memory_in_use(src: Migrator, info: DomainInfo) -> int:
    """Bytes the first pass really sends: what QEMU has touched (rss), at most the guest's memory."""
    full = info.memory_kib * 1024
    try:
        touched = src.memory_touched_kib(info.uuid)
    except VmtuiError:
        return full
    return min(full, touched * 1024) if touched else full


# ----- the migration ---------------------------------------------------------------------------------


def migrate(
    src: Migrator,
    dst: Migrator,
    ident: str,
    options: MigrationOptions,
    *,
    source: str | None = None,
    target: str | None = None,
    target_uri: str | None = None,
    precheck_only: bool = False,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> MigrationResult:
    """Migrate domain `ident` from `src` to `dst`, live and peer-to-peer; see the module docstring.

    `source`/`target` name the hosts in reports and history (default: their URIs); `target_uri` is
    the URI the source daemon connects to (default: the one `dst` was opened with). Raises
    PrecheckFailedError (nothing started), MigrationFailedError, MigrationCancelledError (exit 130),
    UsageError, DeniedError, NotFoundError.
    """
    cancel = cancel or never_cancelled()
    source, target = source or src.uri, target or dst.uri
    info, report = prepare(src, dst, ident, options, source=source, target=target, writable=not precheck_only)
    for check in report.checks:
        progress(Step(f"{check.label}: {check.status}: {check.reason}", 0.0, {"type": "precheck", **check.to_json()}))
    if not report.ok:
        raise PrecheckFailedError(report)
    if precheck_only:
        fc = measure_forecast(src, info, options, source=source, target=target, cancel=cancel)
        progress(Step(f"forecast: {fc.verdict}", 0.0, {"type": "forecast", **fc.to_json()}))
        return MigrationResult(info.name, info.uuid, source, target, "checked", report.summary(), options,
                               prechecks=report, forecast=fc)  # fmt: skip
    check_cancel(cancel, f"migrate {info.name}")
    uri = target_uri or getattr(dst, "requested_uri", "") or dst.uri
    return _run(src, dst, info, options, report, source=source, target=target, target_uri=uri,
                progress=progress, cancel=cancel)  # fmt: skip


def _run(
    src: Migrator,
    dst: Migrator,
    info: DomainInfo,
    options: MigrationOptions,
    report: PrecheckReport,
    *,
    source: str,
    target: str,
    target_uri: str,
    progress: Progress,
    cancel: threading.Event,
) -> MigrationResult:
    run = JobRun(downtime_ms=options.max_downtime_ms)
    handover = JobHandover(info.uuid)
    stop_events = src.on_job_events(handover.job_event)
    bandwidth, where = known_bandwidth(options, source, target)
    inputs = ForecastInputs(memory_in_use(src, info), bandwidth, where, options.postcopy, options.auto_converge)
    # Started before the job (libvirt runs none while the migration job does); the target's QEMU takes
    # ~0.5 s to start, so the 1 s measurement mostly overlaps the job's setup.
    measuring = worth_measuring(inputs) and start_measuring(src, info.uuid)
    src.set_max_downtime(info.uuid, options.max_downtime_ms)
    policy = StallPolicy(start_ms=options.max_downtime_ms, postcopy=options.postcopy, enabled=options.stall_policy)
    history.start({"uuid": info.uuid, "domain": info.name, "source": source, "target": target,
                   "source_uri": getattr(src, "requested_uri", "") or src.uri, "target_uri": target_uri,
                   "options": options.to_json(), "started_at": time.time()})  # fmt: skip
    progress(Step(f"migrating {info.name} to {target}", 0.0, {"type": "phase", "phase": "started"}))
    call = threading.Thread(target=call_migrate, args=(src, info.uuid, target_uri, options.spec(), handover),
                            name=f"migrate {info.name}", daemon=True)  # fmt: skip
    run.began, run.began_wall = time.monotonic(), time.time()
    call.start()
    try:
        monitor(src, info.uuid, run, handover=handover, policy=policy, progress=progress,
                cancel=cancel, forecast_from=inputs, measuring=measuring)  # fmt: skip
        call.join()
    finally:
        stop_events()
    handover.drain(run)  # a completed event that came after the call's end
    run.ended = time.monotonic()
    progress(Step("verifying where the domain is", run.fraction, {"type": "phase", "phase": "verifying"}))
    return finish(src, dst, info, options, report, run, source=source, target=target, progress=progress)


class Named(Protocol):
    """What the end of a job needs to know of its domain (a DomainInfo, or an in-flight note's)."""

    @property
    def uuid(self) -> str: ...

    @property
    def name(self) -> str: ...


def finish(
    src: Migrator,
    dst: Migrator | None,
    info: Named,
    options: MigrationOptions,
    report: PrecheckReport | None,
    run: JobRun,
    *,
    source: str,
    target: str,
    progress: Progress = no_progress,
    reattached: bool = False,
    settling: bool = False,
) -> MigrationResult:
    """Decide the outcome from where the domain is, record it, and return or raise.

    An unknown end keeps its in-flight note (marked unknown) for `settle` to decide later;
    `settling`: this is that later decision (a still unknown end is then not recorded twice).
    """
    facts = facts_after(src, dst, info.uuid, wait_target_gone=True)
    if run.end_type is None and history.abort_requested(info.uuid):
        run.end_type = "cancelled"  # `vmtui migrate abort` from elsewhere, whatever libvirt's call said
    outcome, message, hint = decide(facts, run, info.name, source, target)
    done = completed_stats(dst, info.uuid, run) if outcome == "completed" else None
    last = done or run.last
    result = MigrationResult(
        domain=info.name, uuid=info.uuid, source=source, target=target, outcome=outcome, message=message,
        options=options, prechecks=report, forecast=run.forecast, started_at=run.began_wall,
        seconds=None if settling else round(run.seconds, 3), job_ms=last.elapsed_ms if last else None,
        downtime_ms=done.downtime_ms if done else None,
        bytes_sent=last.data_processed if last else None, memory_bytes=last.memory_total if last else None,
        iterations=last.iteration if last else None,
        throughput_bps=_throughput(done, run.last), postcopy=run.postcopy,
        max_downtime_ms=run.downtime_ms, policy=tuple(run.policy_log),
        source_state=where(facts.source, facts.source_error), target_state=where(facts.target, facts.target_error),
        reattached=reattached, settled=settling and outcome != "unknown",
    )  # fmt: skip
    if outcome == "unknown":
        if not settling:
            history.append({**result.to_json(), "finished_at": time.time()})
        history.mark_unknown(info.uuid, message)
    else:
        history.append({**result.to_json(), "finished_at": time.time()})
        history.end(info.uuid)
    final = 1.0 if outcome == "completed" else run.fraction
    progress(Step(message, final, {"type": "phase", "phase": outcome}))
    if outcome == "completed":
        return result
    if outcome == "cancelled":
        raise MigrationCancelledError(result)
    if outcome == "unknown":
        raise MigrationUnknownError(result, hint=hint)
    raise MigrationFailedError(result, hint=hint)


def _throughput(done: JobStats | None, last: JobStats | None) -> float | None:
    for stats in (done, last):
        if stats is not None and stats.memory_bps:
            return float(stats.memory_bps)
    return None


__all__ = [
    "MigrationCancelledError", "MigrationFailedError", "MigrationOptions", "MigrationResult", "MigrationUnknownError",
    "PrecheckFailedError", "finish", "measure_forecast", "migrate", "prepare",
]  # fmt: skip
