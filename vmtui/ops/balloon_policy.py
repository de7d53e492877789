"""The balloon policy: which running guest gives memory back or gets it, how much, and why. Pure.

In the spirit of Proxmox's auto-balloon (pve-manager `AutoBalloon.pm`, `compute_alg1`) and oVirt MoM's
balloon rules: keep the host's used memory near a target (80 % by default). The gap is shared among the
guests that can take part, by their shares (1000 each unless told), each kept within [floor, max] and
moved at most `max_change` per step. Growing serves guests short of memory first; shrinking takes from
guests with memory to spare first. A gap under 10 MiB, or a move under 0.25 % of a guest (MoM's
`min_balloon_change_percent`), is not worth a balloon operation.

Guests that cannot take part are listed with the reason: not running, no balloon device, no guest
driver reporting (the balloon would be ignored), statistics period unset, a job (migration) running,
or shares 0. A plan is one step; `vmtui balloon policy --apply` repeats it every interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from vmtui.errors import UsageError
from vmtui.models import BalloonReading

MIN_FLOOR_KIB = 64 * 1024
"""No guest is ballooned below this, whatever its statistics say."""
HEADROOM_MIN_KIB = 32 * 1024
NOISE_KIB = 10 * 1024
"""A host gap below this is left alone (Proxmox: 10 MiB)."""
DEFAULT_SHARES = 1000


@dataclass(frozen=True, slots=True)
class GuestMemory:
    """One guest's memory as the policy and the balloon command see it (sizes in KiB)."""

    uuid: str
    name: str
    state: str
    max_kib: int
    actual_kib: int | None
    """Where the balloon is now (libvirt's `actual`)."""
    usable_kib: int | None = None
    """What the guest could still use without swapping (its MemAvailable), as its driver reports."""
    unused_kib: int | None = None
    """Its free memory (MemFree)."""
    available_kib: int | None = None
    """The memory the guest sees (MemTotal): `actual` less what its kernel reserved."""
    model: str | None = "virtio"
    period: int | None = None
    job_active: bool = False
    last_update: int | None = None

    @property
    def reports(self) -> bool:
        """Its balloon driver answers: without one the host has only `actual`, and a new target is ignored."""
        return self.usable_kib is not None or self.unused_kib is not None

    @property
    def need_kib(self) -> int | None:
        """Balloon size at which the guest would have nothing left to give without swapping.

        What its kernel reserved (`actual` - `available`) plus what it uses (`available` - `usable`).
        The guest reports every period while `actual` is fresh: just after a shrink `actual` can be
        below a stale `available`, and then the reserve is taken as `max` - `available`, which is
        exact for a guest last seen unballooned and too high (the safe side) otherwise.
        """
        if self.actual_kib is None or self.usable_kib is None or self.available_kib is None:
            return None
        if self.actual_kib >= self.available_kib:
            reserved = self.actual_kib - self.available_kib
        else:
            reserved = max(0, self.max_kib - self.available_kib)
        return reserved + max(0, self.available_kib - self.usable_kib)


def guest_from_reading(r: BalloonReading) -> GuestMemory:
    s = r.stats
    return GuestMemory(
        uuid=r.uuid,
        name=r.name,
        state=r.state,
        max_kib=r.max_kib,
        actual_kib=s.get("actual"),
        usable_kib=s.get("usable"),
        unused_kib=s.get("unused"),
        available_kib=s.get("available"),
        model=r.model,
        period=r.period,
        job_active=r.job_active,
        # 0 means never: QEMU has not heard from the guest since the period was set.
        last_update=s.get("last_update") or None,
    )


def alive_floor_kib(g: GuestMemory) -> int:
    """The smallest balloon that keeps the guest alive: what it cannot give back, plus headroom.

    Headroom is a quarter of that need, at least 32 MiB; never below 64 MiB nor above max.
    Without statistics from the guest only the 64 MiB minimum is known.
    """
    need = g.need_kib
    floor = MIN_FLOOR_KIB if need is None else max(MIN_FLOOR_KIB, need + max(HEADROOM_MIN_KIB, need // 4))
    return min(floor, g.max_kib)


@dataclass(frozen=True, slots=True)
class HostMemory:
    """Host memory in KiB, as libvirt's node memory statistics give it."""

    total_kib: int
    free_kib: int
    buffers_kib: int = 0
    cached_kib: int = 0

    @property
    def used_kib(self) -> int:
        """As `free` counts it: total less free, buffers and page cache."""
        return self.total_kib - self.free_kib - self.buffers_kib - self.cached_kib

    @staticmethod
    def from_stats(stats: Mapping[str, int]) -> HostMemory:
        return HostMemory(stats["total"], stats["free"], stats.get("buffers", 0), stats.get("cached", 0))


@dataclass(frozen=True, slots=True)
class BalloonKnobs:
    target_used_pct: float = 80.0
    """Host memory use the policy aims for (Proxmox's `ballooning-target`)."""
    floor_pct: float = 50.0
    """Per-guest floor as a share of its max memory (Proxmox's `balloon_min`); the alive floor wins if higher."""
    max_change_kib: int = 100 * 1024
    """The most one guest moves in one step (Proxmox: 100 MiB)."""
    min_change_pct: float = 0.25
    """A move smaller than this share of the guest's balloon is skipped (MoM: 0.25 %)."""
    shares: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Guest name or UUID -> shares (default 1000; 0 leaves the guest out)."""

    def shares_of(self, g: GuestMemory) -> int:
        return self.shares.get(g.name, self.shares.get(g.uuid, DEFAULT_SHARES))


def parse_shares(items: Iterable[str]) -> dict[str, int]:
    """NAME=N items (the CLI's repeated --shares, the TUI's space-separated field) as guest -> shares."""
    out = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        if not sep or not name or not (value.isascii() and value.isdigit()):
            raise UsageError(f"--shares {item!r}: expected NAME=N with N a whole number")
        out[name] = int(value)
    return out


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One guest in a plan: what happens to its balloon and why."""

    uuid: str
    name: str
    action: str
    """grow, shrink, hold (takes part, does not move this step) or skip (cannot take part)."""
    why: str
    actual_kib: int | None
    new_kib: int | None = None
    floor_kib: int | None = None
    max_kib: int | None = None
    shares: int | None = None

    @property
    def delta_kib(self) -> int:
        return 0 if self.new_kib is None or self.actual_kib is None else self.new_kib - self.actual_kib


@dataclass(frozen=True, slots=True)
class BalloonPlan:
    host_total_kib: int
    host_used_kib: int
    target_used_kib: int
    goal_kib: int
    """target - used: positive gives guests memory, negative takes it back."""
    mode: str
    """grow, shrink or hold."""
    why: str
    rows: tuple[PlanRow, ...]

    @property
    def moves(self) -> tuple[PlanRow, ...]:
        return tuple(r for r in self.rows if r.action in ("grow", "shrink"))

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        for row, out in zip(self.rows, body["rows"], strict=True):
            out["delta_kib"] = row.delta_kib
        return body


def _skip_reason(g: GuestMemory, shares: int) -> str | None:
    if g.state != "running":
        return f"not running ({g.state})"
    if g.model in (None, "none"):
        return "no balloon device"
    if g.actual_kib is None:
        return "no balloon figures from the host"
    if g.job_active:
        return "a job (migration) is running on it"
    if shares <= 0:
        return "shares 0: left out"
    if not g.reports:
        if not g.period:
            return "balloon statistics period unset: the guest cannot be judged"
        return "no guest balloon driver reporting: a new target would be ignored"
    return None


def _distribute(
    ids: list[str],
    amount: int,
    res: dict[str, int],
    start: dict[str, int],
    limits: dict[str, tuple[int, int, int]],
    max_change: int,
) -> int:
    """Share `amount` KiB among `ids` by shares within [floor, max] and `max_change`; returns what is left.

    `res` holds each guest's new balloon and is updated. Grows only when `amount` > 0, shrinks only
    when < 0; a guest whose fair share lies the other way holds where it started. Shares are worked out
    again each round over the guests still moving, so one moved in an earlier round comes back towards its
    start when its share has dropped (a guest capped per step, or one that held, left the others more):
    kept where it was, it would give guests more than `amount` (or take more), past the host's target.
    """
    rest = amount
    done: set[str] = set()
    for _round in range(4 * len(ids) + 4):  # converges in a few rounds; the bound only guards the loop
        live = [i for i in ids if i not in done]
        if rest == 0 or not live:
            break
        alloc = sum(res[i] - limits[i][0] for i in live) + rest
        total_shares = sum(limits[i][2] for i in live)
        moved = 0
        for i in live:
            floor, top, shares = limits[i]
            desired = min(top, max(floor, floor + alloc * shares // total_shares))
            if amount > 0:
                new = max(start[i], min(desired, start[i] + max_change))
            else:
                new = min(start[i], max(desired, start[i] - max_change))
            step = new - res[i]
            if step == 0:
                done.add(i)
            res[i] = new
            moved += step
        if moved == 0:
            break
        rest -= moved
    return rest


def plan_balloons(host: HostMemory, guests: Iterable[GuestMemory], knobs: BalloonKnobs | None = None) -> BalloonPlan:
    """One step of the policy for one host."""
    k = knobs or BalloonKnobs()
    guests = list(guests)
    target = int(host.total_kib * k.target_used_pct / 100)
    goal = target - host.used_kib
    used_pct = host.used_kib / host.total_kib * 100 if host.total_kib else 0.0
    rows: dict[str, PlanRow] = {}
    eligible: list[GuestMemory] = []
    limits: dict[str, tuple[int, int, int]] = {}
    for g in guests:
        shares = k.shares_of(g)
        why = _skip_reason(g, shares)
        if why is not None:
            rows[g.uuid] = PlanRow(g.uuid, g.name, "skip", why, g.actual_kib, max_kib=g.max_kib, shares=shares)
            continue
        floor = min(g.max_kib, max(alive_floor_kib(g), -(-g.max_kib * int(k.floor_pct * 100) // 10000)))
        limits[g.uuid] = (floor, g.max_kib, shares)
        eligible.append(g)
    start = {g.uuid: int(g.actual_kib or 0) for g in eligible}
    res = dict(start)
    state = f"host uses {used_pct:.1f} % against a target of {k.target_used_pct:g} %"
    if abs(goal) < NOISE_KIB:
        mode, why = "hold", f"{state}: within 10 MiB of it"
    elif goal > 0:
        mode, why = "grow", f"{state}: room to give guests memory back"
        # Guests short of memory first; the rest only when none of them could take any.
        short = [g.uuid for g in eligible if not _has_spare(g, limits[g.uuid][0])]
        rest = _distribute(short, goal, res, start, limits, k.max_change_kib)
        if rest == goal:
            _distribute([g.uuid for g in eligible], rest, res, start, limits, k.max_change_kib)
    else:
        mode, why = "shrink", f"{state}: memory pressure, guests give some back"
        spare = [g.uuid for g in eligible if _has_spare(g, limits[g.uuid][0])]
        rest = _distribute(spare, goal, res, start, limits, k.max_change_kib)
        if rest == goal:
            _distribute([g.uuid for g in eligible], rest, res, start, limits, k.max_change_kib)
    total_shares = sum(limits[g.uuid][2] for g in eligible)
    for g in eligible:
        floor, top, shares = limits[g.uuid]
        new, now = res[g.uuid], start[g.uuid]
        base = PlanRow(g.uuid, g.name, "hold", "", now, new, floor, top, shares)
        share_text = f"{shares} of {total_shares} shares"
        if new == now:
            if mode == "hold":
                reason = "the host is at its target"
            elif mode == "grow" and now >= top:
                reason = "at its max memory"
            elif mode == "shrink" and now <= floor:
                reason = f"at its floor ({_mib(floor)})"
            else:
                reason = f"already at its fair share ({share_text})"
            rows[g.uuid] = _replace(base, why=reason)  # new is now: the row already says so
        elif abs(new - now) * 10000 < now * int(k.min_change_pct * 100):
            rows[g.uuid] = _replace(base, why=f"a move of {_mib(abs(new - now))} is below {k.min_change_pct:g} %")
            rows[g.uuid] = _replace(rows[g.uuid], new_kib=now)
        else:
            action = "grow" if new > now else "shrink"
            usable = f"; guest has {_mib(g.usable_kib)} usable" if g.usable_kib is not None else ""
            cap = " (capped per step)" if abs(new - now) == k.max_change_kib else ""
            rows[g.uuid] = _replace(base, action=action, why=f"{action} by {share_text}{cap}{usable}")
    ordered = tuple(rows[g.uuid] for g in guests)
    return BalloonPlan(host.total_kib, host.used_kib, target, goal, mode, why, ordered)


def _has_spare(g: GuestMemory, floor: int) -> bool:
    """Proxmox's 'enough free memory': above its floor, and usable memory over a quarter of the floor."""
    return g.usable_kib is not None and g.actual_kib is not None and g.actual_kib >= floor and g.usable_kib > floor // 4


def _replace(row: PlanRow, **changes: Any) -> PlanRow:
    return PlanRow(**{**asdict(row), **changes})


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"
