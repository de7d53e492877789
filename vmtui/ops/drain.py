"""Draining a host for maintenance: a plan for every guest on it, then the migrations, at most N at once.

`plan_drain` decides, before anything moves, where each running guest goes (placement's ranking over
the migration pre-checks, with the memory of the guests planned before it taken off each target) and
how long it should take (the migration forecast), or why it cannot move; shut-off guests are listed,
never moved. `run_drain` then migrates the movable guests with `vmtui.ops.migrate.migrate` (its
pre-checks again, its progress, its stall policy) on a ThreadPoolExecutor of N workers, reports each
guest's steps and an overall progress whose ETA never runs backwards, and stops at the cancel Event:
running jobs abort (their guests keep running on the source), queued ones never start. Every guest
thus stays whole on exactly one host. The summary says what moved, what did not, and why.

Maintenance itself (the flag saved with the host) is the caller's: it is configuration, not a host's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from vmtui.drivers.base import Migrator
from vmtui.errors import ExitCode, UsageError, VmtuiError
from vmtui.models import DomainInfo
from vmtui.ops.base import Progress, Step, UserCancelledError, check_cancel, never_cancelled, no_progress
from vmtui.ops.migrate import MigrationOptions, MigrationResult, migrate
from vmtui.ops.migrate.forecast import Forecast
from vmtui.ops.migrate.job import DIRTY_RATE_SECONDS
from vmtui.ops.migrate.precheck import MIGRATABLE_STATES, PrecheckReport, available_kib, precheck
from vmtui.ops.migrate.run import measure_forecast
from vmtui.ops.place import Placement, cpu_busy_pct, rank

log = logging.getLogger("vmtui.ops.drain")

PARALLEL_DEFAULT = 2
PARALLEL_RANGE = (1, 16)
PLAN_WORKERS = 8
"""Guests pre-checked at once while planning (a handful of calls each, over one connection)."""
FORECAST_WORKERS = 16
"""Guests whose dirty rate is measured at once (each measurement waits ~1 s on its QEMU)."""


def validate_parallel(parallel: int) -> None:
    low, high = PARALLEL_RANGE
    if not low <= parallel <= high:
        raise UsageError(f"--parallel {parallel}: must be {low} to {high} migrations at once")


# ----- the plan ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GuestPlan:
    """One guest of the drained host: where it goes, or why it stays."""

    domain: str
    uuid: str
    state: str
    memory_kib: int
    action: str
    """move, refused (it runs and cannot move: `reason`), or stays (not running: listed, not moved)."""
    target: str | None = None
    reason: str = ""
    forecast: Forecast | None = None
    prechecks: PrecheckReport | None = None

    @property
    def forecast_seconds(self) -> float | None:
        return self.forecast.seconds if self.forecast else None

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain, "uuid": self.uuid, "state": self.state, "memory_kib": self.memory_kib,
            "action": self.action, "target": self.target, "reason": self.reason,
            "forecast": self.forecast.to_json() if self.forecast else None,
            "prechecks": self.prechecks.to_json() if self.prechecks else None,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class DrainPlan:
    host: str
    targets: tuple[str, ...]
    parallel: int
    options: MigrationOptions
    guests: tuple[GuestPlan, ...]
    unreachable: tuple[tuple[str, str], ...] = ()
    """(target, why) for targets that could not be asked: none of the guests goes there."""

    @property
    def moving(self) -> list[GuestPlan]:
        return [g for g in self.guests if g.action == "move"]

    @property
    def refused(self) -> list[GuestPlan]:
        return [g for g in self.guests if g.action == "refused"]

    @property
    def forecast_seconds(self) -> float | None:
        """The whole drain, N lanes at once, each guest taking its forecast; None if one has none."""
        return lanes_seconds([g.forecast_seconds for g in self.moving], self.parallel)

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host, "targets": list(self.targets), "parallel": self.parallel,
            "copy_storage": self.options.copy_storage, "forecast_seconds": self.forecast_seconds,
            "guests": [g.to_json() for g in self.guests],
            "unreachable": [{"host": h, "reason": r} for h, r in self.unreachable],
        }  # fmt: skip


def lanes_seconds(durations: list[float | None], parallel: int) -> float | None:
    """When the last of `durations` ends with `parallel` at once, each started as soon as a lane frees."""
    if any(d is None for d in durations):
        return None
    lanes = [0.0] * max(1, parallel)
    for took in durations:
        lanes.sort()
        lanes[0] += float(took or 0.0)
    return max(lanes) if durations else 0.0


@dataclass(slots=True)
class _Target:
    """A candidate target as the planner sees it: its room, shrinking as guests are planned onto it."""

    name: str
    conn: Migrator
    total_kib: int | None
    available_kib: int | None
    cpu_busy_pct: float | None
    planned_kib: int = 0


def plan_drain(
    src: Migrator,
    targets: Mapping[str, Migrator | VmtuiError],
    options: MigrationOptions,
    *,
    source: str,
    parallel: int = PARALLEL_DEFAULT,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> DrainPlan:
    """Where every guest of `src` would go among `targets` (opened connections, or why they could not be).

    Nothing changes on a host (the forecast's dirty-rate sampling excepted, as for `migrate --precheck-only`).
    """
    cancel = cancel or never_cancelled()
    options.validate()
    validate_parallel(parallel)
    domains = sorted(src.list_domains(), key=lambda d: d.name)
    reached = {name: conn for name, conn in targets.items() if not isinstance(conn, VmtuiError)}
    down = tuple((name, err.message) for name, err in targets.items() if isinstance(err, VmtuiError))
    progress(Step(f"planning the drain of {source}: {len(domains)} guests, {len(reached)} targets", 0.0,
                  {"type": "plan-start", "guests": len(domains), "targets": sorted(reached)}))  # fmt: skip
    active = [d for d in domains if d.state in MIGRATABLE_STATES]
    # Each guest's dirty-rate second starts now and runs while the pre-checks and the room are asked.
    sampling = {d.uuid for d in active if d.state == "running" and _start_sampling(src, d)}

    def checks(info: DomainInfo) -> tuple[DomainInfo, dict[str, PrecheckReport]]:
        check_cancel(cancel, f"drain plan of {source}")
        fresh = src.domain(info.uuid)  # list_domains's facts may lack the devices a pre-check reads
        return fresh, {
            name: precheck(src, conn, fresh, source=source, target=name, copy_storage=options.copy_storage)
            for name, conn in reached.items()
        }

    # The targets' room (half a second of CPU sampling) is measured while the pre-checks run.
    with ThreadPoolExecutor(max_workers=1) as side:
        measuring = side.submit(_rooms, reached)
        with ThreadPoolExecutor(max_workers=max(1, min(PLAN_WORKERS, len(active)))) as pool:
            reports = list(pool.map(checks, active))
        rooms = measuring.result()
    # Biggest first: the guests hardest to fit choose before the small ones take the room.
    planned: dict[str, GuestPlan] = {}
    for info, by_target in sorted(reports, key=lambda r: -r[0].memory_kib):
        planned[info.uuid] = _choose(info, by_target, rooms, source, down)
    movers = [p for p in planned.values() if p.action == "move"]

    def forecast_of(plan: GuestPlan) -> GuestPlan:
        check_cancel(cancel, f"drain plan of {source}")
        info = next(i for i, _ in reports if i.uuid == plan.uuid)
        try:
            fc = measure_forecast(src, info, options, source=source, target=plan.target or "", cancel=cancel,
                                  started=info.uuid in sampling)  # fmt: skip
        except UserCancelledError:
            raise
        except VmtuiError as exc:
            log.info("no forecast for %s: %s", plan.domain, exc)
            return plan
        return replace(plan, forecast=fc)

    # Every guest's dirty rate at once: each measurement waits its second on QEMU, not on us.
    with ThreadPoolExecutor(max_workers=max(1, min(FORECAST_WORKERS, len(movers)))) as pool:
        for done in pool.map(forecast_of, movers):
            planned[done.uuid] = done
    guests = []
    for d in domains:
        if d.uuid in planned:
            guests.append(planned[d.uuid])
        else:
            why = f"{d.state}: not running, not moved (its definition stays on {source})"
            guests.append(GuestPlan(d.name, d.uuid, d.state, d.memory_kib, "stays", reason=why))
    plan = DrainPlan(source, tuple(targets), parallel, options, tuple(guests), down)
    progress(Step(f"plan: {len(plan.moving)} to move, {len(plan.refused)} cannot, "
                  f"{len(guests) - len(plan.moving) - len(plan.refused)} not running", 0.0,
                  {"type": "plan-done"}))  # fmt: skip
    return plan


def _start_sampling(src: Migrator, info: DomainInfo) -> bool:
    """Start the guest's dirty-rate measurement (the forecast reads it); False when it cannot be."""
    if src.read_only:
        return False
    try:
        src.start_dirty_rate(info.uuid, DIRTY_RATE_SECONDS)
    except VmtuiError as exc:
        log.info("no dirty rate for %s: %s", info.name, exc)
        return False
    return True


def _rooms(reached: Mapping[str, Migrator]) -> list[_Target]:
    """Each target's memory and CPU load, asked of all at once (the CPU load takes half a second)."""

    def one(item: tuple[str, Migrator]) -> _Target:
        name, conn = item
        memory = conn.node_memory_kib()
        return _Target(name, conn, memory.get("total"), available_kib(memory), cpu_busy_pct(conn))

    if not reached:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(reached))) as pool:
        return list(pool.map(one, reached.items()))


def _choose(
    info: DomainInfo,
    by_target: Mapping[str, PrecheckReport],
    rooms: list[_Target],
    source: str,
    down: tuple[tuple[str, str], ...],
) -> GuestPlan:
    """The roomiest target that passes the pre-checks and still has room once earlier guests are placed."""
    base = GuestPlan(info.name, info.uuid, info.state, info.memory_kib, "refused")
    if not rooms:
        why = "; ".join(f"{h}: {r}" for h, r in down) or "no target host"
        return replace(base, reason=f"no target can be reached ({why})")
    placements: list[Placement] = []
    crowded: list[str] = []
    for room in rooms:
        report = by_target[room.name]
        needed = report.memory_needed_kib or info.memory_kib
        after = None if room.available_kib is None else room.available_kib - room.planned_kib - needed
        if report.ok and after is not None and after < 0 and room.planned_kib:
            crowded.append(f"{room.name}: no memory left after the guests planned before it "
                           f"(needs {needed // 1024} MiB, {((room.available_kib or 0) - room.planned_kib) // 1024} "
                           "MiB not yet taken)")  # fmt: skip
            continue
        placements.append(Placement(room.name, False, True, room.total_kib, room.available_kib, after,
                                    room.cpu_busy_pct, report, reason=report.summary()))  # fmt: skip
    ranked = rank(placements)
    best = ranked[0] if ranked else None
    if best is None or best.score is None:
        reasons = [f"{p.host}: {p.reason}" for p in ranked] + crowded
        reasons += [f"{h}: unreachable ({r})" for h, r in down]
        return replace(base, reason="; ".join(reasons), prechecks=ranked[0].prechecks if ranked else None)
    room = next(r for r in rooms if r.name == best.host)
    room.planned_kib += best.prechecks.memory_needed_kib if best.prechecks and best.prechecks.memory_needed_kib \
        else info.memory_kib  # fmt: skip
    return replace(base, action="move", target=best.host, reason=best.reason, prechecks=best.prechecks)


# ----- the drain ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GuestOutcome:
    domain: str
    uuid: str
    target: str | None
    outcome: str
    """moved, failed, cancelled (aborted or never started), refused (by the plan), stays (not running),
    or unknown (the source stopped answering: see `vmtui migrate jobs`)."""
    message: str
    forecast_seconds: float | None = None
    forecast_downtime_ms: float | None = None
    seconds: float | None = None
    downtime_ms: int | None = None
    result: MigrationResult | None = None

    def to_json(self) -> dict[str, Any]:
        body = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "result"}
        body["migration"] = self.result.to_json() if self.result else None
        return body


@dataclass(frozen=True, slots=True)
class DrainSummary:
    host: str
    plan: DrainPlan
    outcomes: tuple[GuestOutcome, ...]
    seconds: float

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    @property
    def exit_code(self) -> ExitCode:
        """0 when every running guest moved; 130 when cancelled; 6 when an end is unknown; else 7 when
        some moved (as a bulk action done on some domains), 1 when none did."""
        kinds = {o.outcome for o in self.outcomes}
        if "unknown" in kinds:
            return ExitCode.UNKNOWN
        if "cancelled" in kinds:
            return ExitCode.INTERRUPTED
        if kinds & {"failed", "refused"}:
            return ExitCode.PARTIAL if "moved" in kinds else ExitCode.FAILED
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host, "seconds": round(self.seconds, 3),
            "forecast_seconds": self.plan.forecast_seconds, "moved": self.count("moved"),
            "not_moved": len(self.outcomes) - self.count("moved") - self.count("stays"),
            "exit_code": int(self.exit_code), "guests": [o.to_json() for o in self.outcomes],
        }  # fmt: skip


@dataclass(slots=True)
class OverallProgress:
    """The drain's progress over all its guests, weighted by their memory, with an ETA that never runs back.

    The ETA is a deadline: each new estimate may bring it closer, never push it later, so the seconds
    shown only count down (an estimate that was too short stays at "0 s" until the end comes).
    """

    weights: dict[str, float]
    parallel: int
    expected: dict[str, float | None]
    """Per guest, its forecast seconds (None: unknown)."""
    clock: Callable[[], float] = time.monotonic
    fractions: dict[str, float] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    fraction: float = 0.0
    deadline: float | None = None
    moved_bytes: float = 0.0
    moving_seconds: float = 0.0

    def guest(self, uuid: str, fraction: float | None, *, started: bool = False) -> None:
        if started:
            self.started.setdefault(uuid, self.clock())
        if fraction is not None:
            self.fractions[uuid] = max(self.fractions.get(uuid, 0.0), fraction)

    def done(self, uuid: str) -> None:
        began = self.started.pop(uuid, None)
        if began is not None and self.fractions.get(uuid, 0.0) > 0:
            # What this drain really achieves: the estimate of guests that have no forecast of their own.
            self.moved_bytes += self.weights[uuid]
            self.moving_seconds += self.clock() - began
        self.fractions[uuid] = 1.0

    def estimate(self) -> tuple[float, float | None]:
        """(fraction, seconds left): both monotone (the fraction never down, the seconds never up)."""
        total = sum(self.weights.values()) or 1.0
        now_fraction = sum(self.weights[u] * self.fractions.get(u, 0.0) for u in self.weights) / total
        self.fraction = max(self.fraction, min(1.0, now_fraction))
        fresh = self._fresh()
        now = self.clock()
        if fresh is not None:
            candidate = now + fresh
            self.deadline = candidate if self.deadline is None else min(self.deadline, candidate)
        left = None if self.deadline is None else max(0.0, self.deadline - now)
        return self.fraction, left

    def _fresh(self) -> float | None:
        """Seconds left: each running guest's rest of its forecast, then the queue over the lanes."""
        now = self.clock()
        running, queued = [], []
        for uuid in self.weights:
            if self.fractions.get(uuid, 0.0) >= 1.0:
                continue
            took = self.expected.get(uuid)
            if took is None and self.moved_bytes and self.moving_seconds > 0:
                took = self.weights[uuid] / (self.moved_bytes / self.moving_seconds)
            if took is None:
                return None
            if uuid in self.started:
                fraction = self.fractions.get(uuid, 0.0)
                elapsed = now - self.started[uuid]
                # What the job's own rate says, when it has shown some, else what is left of the forecast.
                rest = elapsed * (1 - fraction) / fraction if fraction > 0.05 else max(0.0, took - elapsed)
                running.append(rest)
            else:
                queued.append(took)
        lanes = sorted(running) + [0.0] * max(0, self.parallel - len(running))
        for took in queued:
            lanes.sort()
            lanes[0] += took
        return max(lanes) if lanes else 0.0


Migrate = Callable[..., MigrationResult]


def run_drain(
    targets: Mapping[str, Migrator],
    plan: DrainPlan,
    *,
    connect_source: Callable[[], Migrator],
    target_uris: Mapping[str, str] | None = None,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
    migrate_one: Migrate = migrate,
) -> DrainSummary:
    """Migrate the plan's movable guests, at most `plan.parallel` at once; see the module docstring.

    `connect_source` opens a connection to the drained host for each worker (closed at the end; its jobs
    run one after another on it): a job watches its guest through libvirt's job events, and libvirt takes
    one registration of them per connection ("event callback already tracked"), so two jobs at once need
    two connections. The targets' connections are shared (plain calls).
    Never raises for one guest's failure: every guest's end is in the summary (a cancel included).
    """
    cancel = cancel or never_cancelled()
    began = time.monotonic()
    moving = plan.moving
    overall = OverallProgress(
        {g.uuid: float(g.forecast.memory_bytes if g.forecast else g.memory_kib * 1024) for g in moving},
        plan.parallel,
        {g.uuid: g.forecast_seconds for g in moving},
    )
    lock = threading.Lock()

    def report(step: Step) -> None:
        with lock:  # one guest's line at a time, whatever thread it comes from
            progress(step)

    def overall_step() -> None:
        with lock:
            fraction, left = overall.estimate()
            moved = sum(1 for g in moving if overall.fractions.get(g.uuid, 0.0) >= 1.0)
            eta = "ETA unknown" if left is None else f"about {left:.0f} s left"
            progress(Step(f"drain {plan.host}: {moved}/{len(moving)} done, {eta}", fraction,
                          {"type": "drain", "fraction": fraction, "eta_s": left, "done": moved,
                           "total": len(moving)}))  # fmt: skip

    def one(guest: GuestPlan) -> GuestOutcome:
        base = GuestOutcome(guest.domain, guest.uuid, guest.target, "cancelled", "",
                            guest.forecast_seconds, guest.forecast.downtime_ms if guest.forecast else None)  # fmt: skip
        if cancel.is_set():
            return replace(base, message=f"{guest.domain}: not started (the drain was cancelled); it runs on "
                                         f"{plan.host}")  # fmt: skip
        target = guest.target or ""

        def guest_progress(step: Step) -> None:
            kind = step.data.get("type")
            with lock:
                overall.guest(guest.uuid, step.fraction if kind == "progress" else None,
                              started=kind == "phase" and step.data.get("phase") == "started")  # fmt: skip
            report(Step(f"{guest.domain}: {step.text}", step.fraction,
                        {**step.data, "domain": guest.domain, "uuid": guest.uuid, "target": target}))  # fmt: skip
            if kind in ("progress", "phase"):
                overall_step()

        try:
            uri = (target_uris or {}).get(target)
            result = migrate_one(lane_source(), targets[target], guest.uuid, plan.options, source=plan.host,
                                 target=target, target_uri=uri, progress=guest_progress, cancel=cancel)  # fmt: skip
            outcome = replace(base, outcome="moved", message=result.message, seconds=result.seconds,
                              downtime_ms=result.downtime_ms, result=result)  # fmt: skip
        except VmtuiError as exc:
            failed: MigrationResult | None = getattr(exc, "result", None)
            kind = "cancelled" if isinstance(exc, UserCancelledError) else "failed"
            if failed is not None and failed.outcome == "unknown":
                kind = "unknown"
            elif failed is None and getattr(exc, "report", None) is not None:
                kind = "failed"  # refused by the pre-checks at its start (something changed since the plan)
            outcome = replace(base, outcome=kind, message=exc.message, result=failed,
                              seconds=failed.seconds if failed else None)  # fmt: skip
        except Exception as exc:  # one guest's bug must not hide the others' ends
            log.exception("drain of %s: %s", plan.host, guest.domain)
            outcome = replace(base, outcome="failed", message=f"{guest.domain}: internal error: {exc}")
        with lock:
            overall.done(guest.uuid)
        overall_step()
        report(Step(outcome.message, None, {"type": "guest-end", "domain": guest.domain, "uuid": guest.uuid,
                                            "outcome": outcome.outcome, "target": target}))  # fmt: skip
        return outcome

    lanes = threading.local()
    opened: list[Migrator] = []

    def lane_source() -> Migrator:
        """This worker's own connection to the drained host: its jobs run one after another on it."""
        conn: Migrator | None = getattr(lanes, "conn", None)
        if conn is None or not conn.is_alive():
            conn = lanes.conn = connect_source()
            with lock:
                opened.append(conn)
        return conn

    if moving:
        overall_step()
    try:
        with ThreadPoolExecutor(max_workers=plan.parallel, thread_name_prefix=f"drain {plan.host}") as pool:
            ended = {o.uuid: o for o in pool.map(one, moving)}
    finally:
        for conn in opened:
            conn.close()
    outcomes = []
    for g in plan.guests:
        if g.uuid in ended:
            outcomes.append(ended[g.uuid])
        else:
            outcomes.append(GuestOutcome(g.domain, g.uuid, g.target, g.action, g.reason))
    return DrainSummary(plan.host, plan, tuple(outcomes), time.monotonic() - began)
