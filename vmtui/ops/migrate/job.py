"""Watching a migration job on its source: progress that never runs backwards, the stall policy, abort,
and an end decided from facts.

One loop serves a job vmtui started (its `migrate` call runs on a thread beside the loop) and one it
re-attached to (started by a vmtui that died, or by another tool). The loop wakes on each libvirt
migration-iteration event or every half second, reads the job's stats, and reports a `Step`.

Threads of one job: the monitor thread (the one that runs `migrate` or `inflight.watch`: `monitor`, then
`finish`) is the only writer of the `JobRun`. libvirt's event thread and the migrate-call thread never
touch it: they post to the job's `JobHandover`, which the monitor thread drains.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from vmtui.drivers.base import Migrator
from vmtui.errors import VmtuiError
from vmtui.models import DomainPresence, JobStats, MigrateSpec
from vmtui.ops.base import Progress, Step
from vmtui.ops.migrate.forecast import Forecast, forecast, live_estimate
from vmtui.ops.migrate.policy import PolicyAction, StallPolicy
from vmtui.present import rate, seconds, size

log = logging.getLogger("vmtui.ops.migrate")

POLL_S = 0.5
"""Between two readings of the job when no iteration event arrives first."""
DIRTY_RATE_SECONDS = 1
"""The dirty-rate measurement's period: libvirt's shortest, and long enough to see a steady writer."""
MEASURE_IF_PASS_LEFT_S = 3.0
"""Measure the dirty rate beside a job only when its first pass is expected to run longer than this.

A shorter job is over before the 1 s measurement is read, so its forecast would come too late to
matter, while the page sampling costs the source QEMU CPU beside the migration. From pass 2 on,
QEMU's own count of dirtied pages gives a forecast anyway (`_revise`)."""
CLEANUP_WAIT_S = 20.0
"""How long a failed or aborted job's target may take to drop its half before vmtui says it stayed."""


@dataclass(slots=True)
class JobRun:
    """What the monitor learnt about one job, filled in as it runs.

    Written only by the monitor thread (the one that runs `migrate` or `reattach`). What other threads
    learn reaches it through a `JobHandover`: `completed` from libvirt's event thread, `call_error`
    from the migrate-call thread, each copied here by `JobHandover.drain`.
    """

    began: float = field(default_factory=time.monotonic)
    began_wall: float = field(default_factory=time.time)
    ended: float | None = None
    fraction: float = 0.0
    """Shown progress: the largest 1 - remaining/total so far, so the bar never runs backwards."""
    last: JobStats | None = None
    completed: JobStats | None = None
    """The source's JOB_COMPLETED event: its stats, kept in case the target does not keep them."""
    policy_log: list[PolicyAction] = field(default_factory=list)
    forecast: Forecast | None = None
    forecast_revised: bool = False
    cancel_requested: bool = False
    abort_taken: bool = False
    """libvirt accepted the abort. Until it does (a cancel that comes before the call has begun the
    job: "no job is active"), the monitor asks again at each look, or the job would run to its end."""
    aborted_by_policy: PolicyAction | None = None
    abort_error: str | None = None
    postcopy: bool = False
    call_error: VmtuiError | None = None
    end_type: str | None = None
    """How the source's job ended, when read in the moment libvirt shows it (failed or cancelled): after
    a failure libvirt's call may only say "End of file" (the peer connection it closed), not why."""
    downtime_ms: int = 0

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.began


@dataclass(frozen=True, slots=True)
class _CallEnded:
    error: VmtuiError | None


class JobHandover:
    """What a job's other threads tell its monitor, taken by the monitor thread once each, in the order said.

    - libvirt's event thread calls `job_event` (registered with `Migrator.on_job_events`): each
      migration iteration wakes the monitor; the source's JOB_COMPLETED posts its stats.
    - the migrate-call thread (`call_migrate`, a job vmtui started) posts how libvirt's blocking call
      ended (its error, or None), then `call_running()` turns False.
    - the monitor thread waits on `wake` and calls `drain(run)`, which copies every post into the JobRun
      (the JobRun's only news from the other threads).

    Posts go through a FIFO queue, so nothing posted is lost or taken twice, whatever the interleaving;
    the call's end is posted before `call_running()` turns False, so a drain after the loop sees it.
    """

    def __init__(self, uuid: str) -> None:
        self.uuid = uuid.lower()
        self.wake = threading.Event()
        self._posts: queue.SimpleQueue[JobStats | _CallEnded] = queue.SimpleQueue()
        self._call_returned = threading.Event()

    def job_event(self, uuid: str, _event: str, _number: int, completed: JobStats | None) -> None:
        """libvirt's event thread: a job event of any domain on the source (others are ignored)."""
        if uuid.lower() != self.uuid:
            return
        if completed is not None:
            self._posts.put(completed)
        self.wake.set()  # a new pass: read the job now, at the start of the pass, where the policy looks

    def call_ended(self, error: VmtuiError | None) -> None:
        """The migrate-call thread: libvirt's call returned (error None) or raised."""
        self._posts.put(_CallEnded(error))
        self._call_returned.set()
        self.wake.set()

    def call_running(self) -> bool:
        """Until the call thread posted its end (always, for a job we only attached to)."""
        return not self._call_returned.is_set()

    def drain(self, run: JobRun) -> None:
        """The monitor thread: copy what was posted since the last drain into `run`."""
        while True:
            try:
                post = self._posts.get_nowait()
            except queue.Empty:
                return
            if isinstance(post, _CallEnded):
                run.call_error = post.error
            else:
                run.completed = post


def call_migrate(src: Migrator, uuid: str, uri: str, spec: MigrateSpec, handover: JobHandover) -> None:
    """The migrate-call thread of a job vmtui starts: libvirt's blocking call, its end posted to `handover`."""
    error: VmtuiError | None = None
    try:
        src.migrate(uuid, uri, spec)
    except VmtuiError as exc:
        error = exc
    except Exception as exc:  # a bug must still end the job's watch, with the error kept
        log.exception("migrate call failed")
        error = VmtuiError(f"internal error: {exc}")
    finally:
        handover.call_ended(error)


@dataclass(frozen=True, slots=True)
class ForecastInputs:
    """What the in-job forecast needs besides the job's own figures."""

    memory_bytes: int
    bandwidth_bps: float | None
    bandwidth_source: str
    postcopy: bool
    auto_converge: bool


def progress_step(stats: JobStats, run: JobRun) -> Step:
    est = live_estimate(stats)
    run.fraction = max(run.fraction, est.fraction)
    remaining = stats.data_remaining if stats.data_remaining is not None else stats.memory_remaining
    total = stats.data_total or stats.memory_total
    if not total:
        # Before the first byte: the target's QEMU starts, the connections open.
        return Step("setting up", run.fraction, {"type": "progress", "fraction": run.fraction, "phase": "setup",
                                                 "elapsed_s": round(run.seconds, 2)})  # fmt: skip
    parts = [f"pass {stats.iteration or 0}"]
    if run.postcopy:
        parts[0] = "post-copy"
    parts.append(f"{size(remaining)} of {size(total)} left")
    parts.append(rate(stats.memory_bps))
    if stats.dirty_bps is not None:
        parts.append(f"dirty {rate(stats.dirty_bps)}")
    if stats.throttle_pct:
        parts.append(f"throttle {stats.throttle_pct} %")
    parts.append(f"ETA {seconds(est.eta_s)}" if est.eta_s is not None else "ETA -")
    data: dict[str, Any] = {
        "type": "progress",
        "fraction": round(run.fraction, 4),
        "elapsed_s": round(run.seconds, 2),
        "iteration": stats.iteration,
        "data_total": stats.data_total,
        "data_processed": stats.data_processed,
        "data_remaining": stats.data_remaining,
        "memory_total": stats.memory_total,
        "memory_remaining": stats.memory_remaining,
        "dirty_bps": stats.dirty_bps,
        "throughput_bps": stats.memory_bps,
        "eta_s": None if est.eta_s is None else round(est.eta_s, 1),
        "expected_downtime_ms": None if est.expected_downtime_ms is None else round(est.expected_downtime_ms),
        "max_downtime_ms": run.downtime_ms,
        "throttle_pct": stats.throttle_pct,
        "postcopy": run.postcopy,
    }
    return Step(" · ".join(parts), run.fraction, data)


def monitor(
    src: Migrator,
    uuid: str,
    run: JobRun,
    *,
    handover: JobHandover,
    policy: StallPolicy | None,
    progress: Progress,
    cancel: threading.Event,
    forecast_from: ForecastInputs | None = None,
    measuring: bool = False,
    attached: bool = False,
) -> None:
    """Until the job is over: read, report, apply the policy, abort when asked.

    A job of ours is over when its `migrate` call returns (`handover.call_running()` turns False); a
    job we `attached` to, when the source reports no job any more or no longer runs the domain. Runs on
    the monitor thread: it takes the other threads' posts from `handover` on each wake and at the end.
    """
    dirty_asked = measuring and forecast_from is not None
    said_done = False
    while handover.call_running():
        handover.wake.wait(POLL_S)
        handover.wake.clear()
        handover.drain(run)
        if cancel.is_set() and not run.abort_taken:
            if not run.cancel_requested:
                run.cancel_requested = True
                progress(
                    Step("aborting: the source keeps running", run.fraction, {"type": "phase", "phase": "aborting"})
                )
            run.abort_taken = _abort(src, uuid, run)
        if run.completed is not None and not attached:
            # The job is over and its completed event carried the figures: ask the source nothing more
            # while its daemon stops the old QEMU (a query then only queues behind that).
            if not said_done:
                said_done = True
                progress(progress_step(run.completed, run))
            continue
        try:
            stats = src.job_stats(uuid)
        except VmtuiError as exc:
            # The domain leaves the source at the end, and a dead link makes calls fail: the call's own
            # end (or the facts after it) tell what happened.
            log.debug("job stats of %s: %s", uuid, exc)
            if attached and _gone(src, uuid):
                return
            continue
        if not stats.active:
            if stats.type in ("failed", "cancelled"):
                run.end_type = stats.type
            if attached:
                return  # no call of ours to wait for: no job is the end
            continue
        if run.last is not None and run.last.data_total and not stats.data_total:
            continue  # an aborted job reads all zeros for a moment: keep the last real figures
        run.last = stats
        if dirty_asked and forecast_from is not None:
            dirty_asked = _forecast(src, uuid, run, stats, forecast_from, progress)
        elif forecast_from is not None and not run.forecast_revised:
            _revise(run, stats, forecast_from, progress)
        progress(progress_step(stats, run))
        if policy is not None and not run.cancel_requested:
            for action in policy.observe(stats):
                if forecast_from is not None:
                    _stalled_forecast(run, stats, forecast_from, progress)
                _apply(src, uuid, run, action, progress)

    handover.drain(run)  # the call's end, posted before it stopped the loop


def _gone(src: Migrator, uuid: str) -> bool:
    """For an attached job: the domain no longer runs on the source, or the source is lost."""
    if not src.is_alive():
        return True
    try:
        return not src.presence(uuid).active
    except VmtuiError:
        return False


def worth_measuring(given: ForecastInputs) -> bool:
    """Whether the first pass is expected to last long enough for an early forecast
    (MEASURE_IF_PASS_LEFT_S), or nothing tells how long it lasts. Decided before the job starts:
    libvirt runs no dirty-rate measurement while the domain's migration job runs (it waits for the job)."""
    if not given.bandwidth_bps:
        return True
    return given.memory_bytes / given.bandwidth_bps > MEASURE_IF_PASS_LEFT_S


def start_measuring(src: Migrator, uuid: str) -> bool:
    try:
        src.start_dirty_rate(uuid, DIRTY_RATE_SECONDS)
    except VmtuiError as exc:
        log.info("no dirty-rate measurement for %s: %s", uuid, exc)
        return False
    return True


def _forecast(
    src: Migrator, uuid: str, run: JobRun, stats: JobStats, given: ForecastInputs, progress: Progress
) -> bool:
    """The forecast, once the dirty-rate measurement begun with the job is in; True while still waiting."""
    try:
        measured = src.dirty_rate(uuid)
    except VmtuiError as exc:
        log.info("dirty rate of %s: %s", uuid, exc)
        return False
    if not measured.measured or measured.mib_per_s is None:
        return True
    bandwidth, source = given.bandwidth_bps, given.bandwidth_source
    if bandwidth is None and stats.memory_bps:
        bandwidth, source = float(stats.memory_bps), "measured"
    run.forecast = forecast(
        stats.memory_total or given.memory_bytes,
        measured.mib_per_s * 1048576,
        bandwidth,
        max_downtime_ms=run.downtime_ms,
        bandwidth_source=source,
        postcopy=given.postcopy,
        auto_converge=given.auto_converge,
    )
    progress(Step(f"forecast: {run.forecast.verdict}", run.fraction, {"type": "forecast", **run.forecast.to_json()}))
    return False


def _revise(run: JobRun, stats: JobStats, given: ForecastInputs, progress: Progress) -> None:
    """Once pass 2 runs, QEMU has counted every dirtied page: if that tells another story than the
    sampled rate, say so (page sampling reads a few hundred pages per GiB and misses small working sets);
    without a sampled rate (a short first pass), this is the forecast."""
    if (stats.iteration or 0) < 2 or not stats.dirty_bps or not stats.memory_bps:
        return
    run.forecast_revised = True
    revised = forecast(
        stats.memory_total or given.memory_bytes,
        float(stats.dirty_bps),
        float(stats.memory_bps),
        max_downtime_ms=run.downtime_ms,
        bandwidth_source="measured",
        dirty_source="job",
        postcopy=given.postcopy,
        auto_converge=given.auto_converge,
    )
    before = run.forecast
    first = before is None  # the first pass was too short to measure beside it
    if before is None or (revised.converges, revised.needs) != (before.converges, before.needs):
        run.forecast = revised
        text = f"forecast {'from' if first else 'revised from'} this job's passes: {revised.verdict}"
        progress(Step(text, run.fraction, {"type": "forecast", **revised.to_json()}))


def _stalled_forecast(run: JobRun, stats: JobStats, given: ForecastInputs, progress: Progress) -> None:
    """A stalled pass is the plainest evidence there is: if the forecast still said "converges", say
    what the passes show (the guest dirties as much as the link carries, within its working set)."""
    if run.forecast is None or run.forecast.converges is not True or run.forecast.needs is not None:
        return
    bps = float(stats.memory_bps or 0) or (run.forecast.bandwidth_bps or 0.0)
    if not bps:
        return
    revised = forecast(
        stats.memory_total or given.memory_bytes, bps, bps, max_downtime_ms=run.downtime_ms,
        bandwidth_source="measured", dirty_source="job (stalled passes)", postcopy=given.postcopy,
        auto_converge=given.auto_converge,
    )  # fmt: skip
    run.forecast = revised
    progress(Step(f"forecast revised after a stalled pass: {revised.verdict}", run.fraction,
                  {"type": "forecast", **revised.to_json()}))  # fmt: skip


def _apply(src: Migrator, uuid: str, run: JobRun, action: PolicyAction, progress: Progress) -> None:
    run.policy_log.append(action)
    try:
        if action.kind == "downtime":
            src.set_max_downtime(uuid, action.downtime_ms)
            run.downtime_ms = action.downtime_ms
        elif action.kind == "postcopy":
            src.start_postcopy(uuid)
            run.postcopy = True
        elif action.kind == "abort":
            run.aborted_by_policy = action
            _abort(src, uuid, run)
    except VmtuiError as exc:
        # The job may have ended between the reading and the action; the end is decided from facts.
        log.info("stall policy %s on %s: %s", action.kind, uuid, exc)
    progress(Step(action.reason, run.fraction, {"type": "policy", **action.to_json()}))


def _abort(src: Migrator, uuid: str, run: JobRun) -> bool:
    """Ask the source to abort the job; False when it refused (too early, too late, unreachable)."""
    try:
        src.abort_job(uuid)
    except VmtuiError as exc:
        # Too early (the call has not begun the job yet: asked again), too late (the job just ended) or
        # the source is unreachable: the facts decide what happened.
        run.abort_error = exc.message
        log.info("abort of %s: %s", uuid, exc)
        return False
    run.abort_error = None
    return True


@dataclass(frozen=True, slots=True)
class Facts:
    """Where the domain is after the job: what the outcome is decided from, never the call's return."""

    source: DomainPresence | None
    """None when the source could not be asked."""
    target: DomainPresence | None
    source_error: str | None = None
    target_error: str | None = None


def presence_or_error(conn: Migrator | None, uuid: str) -> tuple[DomainPresence | None, str | None]:
    if conn is None:
        return None, "not connected"
    try:
        return conn.presence(uuid), None
    except VmtuiError as exc:
        return None, exc.message


def facts_after(src: Migrator, dst: Migrator | None, uuid: str, *, wait_target_gone: bool) -> Facts:
    """Read where the domain is; after a failure, give the target time to drop its half (libvirt's Finish)."""
    source, source_error = presence_or_error(src, uuid)
    target, target_error = presence_or_error(dst, uuid)
    if wait_target_gone and source is not None and source.active and dst is not None:
        deadline = time.monotonic() + CLEANUP_WAIT_S
        while target is not None and target.exists and not target.persistent and time.monotonic() < deadline:
            time.sleep(0.2)  # libvirt sends no event to the client for this cleanup; it takes ~0.1-2 s
            target, target_error = presence_or_error(dst, uuid)
    return Facts(source, target, source_error, target_error)


def completed_stats(dst: Migrator | None, uuid: str, run: JobRun) -> JobStats | None:
    """The completed job's stats: on the target (as the issue asks), else the source's completion event."""
    if dst is not None:
        try:
            stats = dst.job_stats(uuid, completed=True)
            if stats.type == "completed":
                return stats
        except VmtuiError as exc:
            log.info("completed stats of %s on the target: %s", uuid, exc)
    return run.completed
