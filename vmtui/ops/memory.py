"""Ballooning: set a running guest's balloon, and run the balloon policy; both faces call these.

`set_balloon` refuses before any change what cannot work: a target of 0 or above max memory, a guest
that is not running, one without a balloon device, and one whose guest has no balloon driver (QEMU
accepts the target and the guest silently ignores it). With the statistics period unset the guest
never reports, so the period is set first (5 s) and the guest given that long to answer; then a target
below the floor that keeps the guest alive (`balloon_policy.alive_floor_kib`) is refused too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol, cast

from vmtui.errors import OperationError, UsageError
from vmtui.models import BalloonReading, DomainInfo
from vmtui.ops.balloon_policy import (
    BalloonKnobs,
    BalloonPlan,
    GuestMemory,
    HostMemory,
    alive_floor_kib,
    guest_from_reading,
    plan_balloons,
)
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.busy import refuse_if_migrating

DEFAULT_PERIOD = 5
"""Seconds between the guest's statistics when vmtui has to turn them on (cockpit uses 10, oVirt 5)."""
FOLLOW_TIMEOUT = 30.0
"""How long `set_balloon` follows `actual` towards the target before it reports where it stopped."""
REACHED_KIB = 1024
"""`actual` within 1 MiB of the target counts as reached (the driver moves in pages)."""


class MemoryHost(Protocol):
    """What the memory and KSM operations need of a connection (`drivers.libvirt.driver.Connection` has it)."""

    uri: str

    def require_writable(self, action: str) -> None: ...

    def list_domains(self) -> list[DomainInfo]: ...

    def balloon_reading(self, ident: str) -> BalloonReading: ...

    def set_balloon_target(self, uuid: str, kib: int) -> None: ...

    def set_balloon_period(self, uuid: str, seconds: int) -> None: ...

    def node_memory(self) -> dict[str, int]: ...

    def ksm_parameters(self) -> Mapping[str, int]: ...

    def set_ksm_parameters(self, values: Mapping[str, int]) -> None: ...

    def base_page_kib(self) -> int: ...

    def set_nosharepages(self, ident: str, *, opt_out: bool) -> bool: ...


def memory_host(conn: object) -> MemoryHost:
    """`conn` as a host whose memory can be read and changed; a recording played back cannot."""
    if not hasattr(conn, "balloon_reading"):
        raise UsageError("a recording has no live host: memory and KSM need a libvirt connection")
    return cast(MemoryHost, conn)


@dataclass(frozen=True, slots=True)
class BalloonResult:
    name: str
    uuid: str
    before_kib: int
    """`actual` before the change."""
    target_kib: int
    actual_kib: int
    """`actual` when the operation returned."""
    max_kib: int
    floor_kib: int
    reached: bool
    """`actual` came within 1 MiB of the target while it was followed."""
    guest_available_kib: int | None
    guest_usable_kib: int | None
    period_set: int | None
    """The statistics period vmtui had to set, or None when one was set already."""
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_target(r: BalloonReading, size_kib: int) -> None:
    """The refusals that need no call: size, state, device. Raises UsageError / OperationError."""
    if size_kib <= 0:
        raise UsageError(f"balloon {r.name}: the target must be above 0 (max is {_mib(r.max_kib)})")
    if size_kib > r.max_kib:
        raise UsageError(
            f"balloon {r.name}: {_mib(size_kib)} is above its max memory, {_mib(r.max_kib)}",
            hint="the balloon can only give back what <memory> allows; raise it with the guest shut off",
        )
    if r.state != "running":
        raise OperationError(f"balloon {r.name}: it is {r.state}; only a running guest has a balloon to move")
    if r.model in (None, "none"):
        raise OperationError(f"balloon {r.name}: it has no balloon device (<memballoon model='none'> or none at all)")


def set_balloon(
    conn: MemoryHost,
    ident: str,
    size_kib: int,
    *,
    wait: bool = True,
    timeout: float = FOLLOW_TIMEOUT,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
    sleep: Callable[[float], Any] | None = None,
) -> BalloonResult:
    """Set the live balloon target of `ident` to `size_kib` KiB and (with `wait`) follow `actual` to it."""
    cancel = cancel or never_cancelled()
    pause = sleep or cancel.wait
    conn.require_writable("balloon")
    refuse_if_migrating(conn, ident, "balloon")
    r = conn.balloon_reading(ident)
    check_target(r, size_kib)
    warnings: list[str] = []
    period_set = None
    if not r.period:
        # Without a period the guest never reports, and neither the floor nor the driver can be told.
        conn.set_balloon_period(r.uuid, DEFAULT_PERIOD)
        period_set = DEFAULT_PERIOD
        warnings.append(f"the balloon statistics period was unset; set to {DEFAULT_PERIOD} s (live)")
        progress(Step(f"{r.name}: statistics period set to {DEFAULT_PERIOD} s; waiting for the guest to report"))
        deadline = time.monotonic() + DEFAULT_PERIOD + 2
        while not guest_from_reading(r).reports and time.monotonic() < deadline:
            check_cancel(cancel, f"balloon {r.name}")
            pause(0.5)
            r = conn.balloon_reading(r.uuid)
    guest = guest_from_reading(r)
    if not guest.reports:
        raise OperationError(
            f"balloon {r.name}: its balloon device has no driver in the guest (no statistics from it"
            f"{f' within {DEFAULT_PERIOD + 2} s' if period_set else ''}): the new target would be ignored",
            hint="load virtio_balloon in the guest",
        )
    floor = alive_floor_kib(guest)
    if size_kib < floor:
        raise UsageError(
            f"balloon {r.name}: {_mib(size_kib)} is below the floor that keeps it alive, {_mib(floor)} "
            f"(it needs {_mib(guest.need_kib or 0)} it cannot give back, plus headroom)",
            hint=f"choose {_mib(floor)} to {_mib(r.max_kib)}",
        )
    period = period_set or r.period or DEFAULT_PERIOD
    if guest.last_update and time.time() - guest.last_update > 3 * period:
        warnings.append(f"the guest's statistics are {time.time() - guest.last_update:.0f} s old (period {period} s)")
    before = int(guest.actual_kib or 0)
    check_cancel(cancel, f"balloon {r.name}")
    progress(Step(f"{r.name}: balloon {_mib(before)} -> {_mib(size_kib)}", 0.0))
    conn.set_balloon_target(r.uuid, size_kib)
    actual = before
    stats = r.stats
    deadline = time.monotonic() + (timeout if wait else 0)
    while True:
        stats = conn.balloon_reading(r.uuid).stats
        actual = int(stats.get("actual", actual))
        if abs(actual - size_kib) <= REACHED_KIB or time.monotonic() >= deadline:
            break
        done = 1 - abs(actual - size_kib) / max(1, abs(before - size_kib))
        progress(Step(f"{r.name}: actual {_mib(actual)}, target {_mib(size_kib)}", max(0.0, min(1.0, done))))
        check_cancel(cancel, f"balloon {r.name}")
        pause(0.5)
    reached = abs(actual - size_kib) <= REACHED_KIB
    if wait and not reached:
        warnings.append(f"actual is {_mib(actual)} after {timeout:g} s; the guest may still be moving it")
    progress(Step(f"{r.name}: actual {_mib(actual)}", 1.0 if reached else None))
    return BalloonResult(
        name=r.name,
        uuid=r.uuid,
        before_kib=before,
        target_kib=size_kib,
        actual_kib=actual,
        max_kib=r.max_kib,
        floor_kib=floor,
        reached=reached,
        guest_available_kib=stats.get("available"),
        guest_usable_kib=stats.get("usable"),
        period_set=period_set,
        warnings=tuple(warnings),
    )


# ----- the policy on a live host ----------------------------------------------------------------


def collect(conn: MemoryHost) -> tuple[HostMemory, list[GuestMemory]]:
    """Host memory and every running guest's balloon, as the policy reads them."""
    host = HostMemory.from_stats(conn.node_memory())
    guests = [guest_from_reading(conn.balloon_reading(d.uuid)) for d in conn.list_domains() if d.state == "running"]
    return host, guests


def check_shares(conn: MemoryHost, knobs: BalloonKnobs) -> None:
    """Refuse shares for a guest the host does not have (by name or UUID, running or not): a typo
    would otherwise leave the meant guest at the default weight, silently."""
    domains = conn.list_domains()
    known = {d.name for d in domains} | {d.uuid for d in domains}
    unknown = [name for name in knobs.shares if name not in known]
    if unknown:
        raise UsageError(
            f"shares for {unknown[0]!r}: no such domain on {conn.uri}",
            hint="name a domain of this host (see `vmtui list`)",
        )


def plan_host(conn: MemoryHost, knobs: BalloonKnobs) -> BalloonPlan:
    """The policy's plan for this host now (a dry run: nothing is changed)."""
    check_shares(conn, knobs)
    return plan_balloons(*collect(conn), knobs)


@dataclass(frozen=True, slots=True)
class PolicyRun:
    steps: int
    moves: int
    last_plan: BalloonPlan | None

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "moves": self.moves,
            "last_plan": self.last_plan.to_json() if self.last_plan else None,
        }


def apply_policy(
    conn: MemoryHost,
    knobs: BalloonKnobs,
    *,
    interval: float,
    count: int | None = None,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> PolicyRun:
    """Plan and apply every `interval` seconds, `count` times (None: until cancelled), each step reported.

    Raises UserCancelledError when cancelled (after the move in flight, never in the middle of one).
    """
    cancel = cancel or never_cancelled()
    conn.require_writable("balloon policy")
    check_shares(conn, knobs)  # once: a guest undefined later just drops out of the plan
    steps = moves = 0
    plan: BalloonPlan | None = None
    while count is None or steps < count:
        check_cancel(cancel, "balloon policy")
        plan = plan_balloons(*collect(conn), knobs)
        steps += 1
        progress(Step(f"step {steps}: {plan.why}; {len(plan.moves)} to move", data={"plan": plan.to_json()}))
        for row in plan.moves:
            check_cancel(cancel, "balloon policy")
            assert row.new_kib is not None
            conn.set_balloon_target(row.uuid, row.new_kib)
            moves += 1
            progress(Step(f"{row.name}: {_mib(row.actual_kib)} -> {_mib(row.new_kib)} ({row.why})"))
        if count is not None and steps >= count:
            break
        if cancel.wait(interval):
            check_cancel(cancel, "balloon policy")
    return PolicyRun(steps, moves, plan)


def _mib(kib: int | None) -> str:
    if kib is None:
        return "?"
    return f"{kib // 1024} MiB" if kib % 1024 == 0 else f"{kib / 1024:.1f} MiB"
