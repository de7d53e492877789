"""Placement: which host has room for this domain? The scheduler's question of the chapter, for one VM.

Each candidate is assessed on its own connection (free memory, CPU load over a short interval, and
the migration pre-checks), then `rank` orders them: hosts that pass the pre-checks first, by a room
score that weighs the memory left after placing the domain (60 %) and idle CPU (40 %). Memory
weighs more because it is what a host cannot share: CPU is time-sliced, memory is not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from vmtui.drivers.base import Migrator
from vmtui.errors import VmtuiError
from vmtui.models import DomainInfo
from vmtui.ops.migrate.precheck import PrecheckReport, available_kib, precheck, unreachable

CPU_INTERVAL_S = 0.5
MEMORY_WEIGHT = 0.6


@dataclass(frozen=True, slots=True)
class Placement:
    host: str
    current: bool
    """The domain runs on this host now."""
    reachable: bool
    memory_total_kib: int | None = None
    memory_available_kib: int | None = None
    memory_after_kib: int | None = None
    """Available memory once the domain (and QEMU's overhead) is placed there."""
    cpu_busy_pct: float | None = None
    prechecks: PrecheckReport | None = None
    score: float | None = None
    """0..1, higher is roomier; None for hosts that cannot take the domain."""
    reason: str = ""
    maintenance: bool = False
    """A saved host in maintenance (`vmtui host drain`): skipped, not contacted."""

    def to_json(self) -> dict[str, Any]:
        body = {f: getattr(self, f) for f in self.__dataclass_fields__}
        body["prechecks"] = self.prechecks.to_json() if self.prechecks else None
        return body


def cpu_busy_pct(conn: Migrator, interval: float = CPU_INTERVAL_S) -> float | None:
    """Share of all host CPUs busy over `interval` (node CPU counters, as `top` computes it)."""
    first = conn.node_cpu_ns()
    time.sleep(interval)
    second = conn.node_cpu_ns()
    if not first or not second:
        return None
    delta = {k: v - first.get(k, 0) for k, v in second.items()}
    total = sum(v for v in delta.values() if v > 0)
    idle = delta.get("idle", 0) + delta.get("iowait", 0)
    return None if total <= 0 else max(0.0, min(100.0, 100.0 * (total - idle) / total))


def assess(src: Migrator, info: DomainInfo, host: str, conn: Migrator | VmtuiError, *, source: str) -> Placement:
    """One candidate host (or why it could not be reached)."""
    if isinstance(conn, VmtuiError):
        return Placement(host, False, False, prechecks=unreachable(info, source, host, conn), reason=conn.message)
    memory = conn.node_memory_kib()
    have = available_kib(memory)
    busy = cpu_busy_pct(conn)
    if host == source:
        return Placement(host, True, True, memory.get("total"), have, have, busy, reason="runs here now")
    report = precheck(src, conn, info, source=source, target=host)
    needed = report.memory_needed_kib or info.memory_kib
    after = None if have is None else have - needed
    return Placement(host, False, True, memory.get("total"), have, after, busy, report,
                     reason=report.summary())  # fmt: skip


def score(p: Placement) -> float | None:
    if not p.reachable or p.current or p.prechecks is None or not p.prechecks.ok:
        return None
    mem = 0.0
    if p.memory_after_kib is not None and p.memory_total_kib:
        mem = max(0.0, p.memory_after_kib / p.memory_total_kib)
    cpu = 1.0 - (p.cpu_busy_pct if p.cpu_busy_pct is not None else 100.0) / 100.0
    return round(MEMORY_WEIGHT * mem + (1 - MEMORY_WEIGHT) * cpu, 3)


def rank(placements: list[Placement]) -> list[Placement]:
    """Eligible hosts by score (best first), then the ones that cannot take it, then the current host."""
    scored = [replace(p, score=score(p)) for p in placements]

    def key(p: Placement) -> tuple[int, float, str]:
        group = 0 if p.score is not None else (2 if p.current else 1)
        return group, -(p.score or 0.0), p.host

    return sorted(scored, key=key)


def in_maintenance(host: str) -> Placement:
    """A saved host in maintenance: listed last, never a candidate, not contacted."""
    return Placement(
        host, False, False, maintenance=True, reason=f"in maintenance: skipped until `vmtui host undrain {host}`"
    )
