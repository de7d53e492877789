"""The KSM policy: run ksmd when it can pay, and scan harder under pressure. Pure.

The rules of oVirt MoM's KSM policy (`ksm.rules`), which ksmtuned follows too: with `threshold` =
20 % of host memory, KSM is stopped when the memory guests could share plus the threshold still fits
in the host (`shareable + threshold < total`) and free memory (page cache included) is above the
threshold. Otherwise it runs, sleeping `10 ms x 16 GiB / host memory` between scans (bigger hosts
scan more often), and `pages_to_scan` rises by 300 while free memory is below the threshold and
falls by 50 otherwise, within 64..1250.

`shareable` is the memory of the running guests (their balloons' `actual`); MoM sums the QEMU
processes' virtual sizes, which also counts QEMU's own mappings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

GIB16_KIB = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class KsmKnobs:
    boost: int = 300
    decay: int = -50
    pages_min: int = 64
    pages_max: int = 1250
    sleep_ms_baseline: int = 10
    """ms between scans on a 16 GiB host; scaled by 16 GiB / host memory."""
    free_pct: float = 20.0


@dataclass(frozen=True, slots=True)
class KsmInputs:
    """What the policy reads (sizes in KiB)."""

    total_kib: int
    free_kib: int
    """Free memory including buffers and page cache (MoM's `mem_free`)."""
    shareable_kib: int
    run: int
    pages_to_scan: int
    sleep_ms: int


@dataclass(frozen=True, slots=True)
class KsmChange:
    knob: str
    """run, pages_to_scan or sleep_millisecs."""
    old: int
    new: int
    why: str


@dataclass(frozen=True, slots=True)
class KsmPlan:
    run: int
    pages_to_scan: int
    sleep_ms: int
    pressure: bool
    why: str
    changes: tuple[KsmChange, ...]
    threshold_kib: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def plan_ksm(s: KsmInputs, knobs: KsmKnobs | None = None) -> KsmPlan:
    """One step of the policy; `changes` lists only what differs from now."""
    k = knobs or KsmKnobs()
    threshold = int(s.total_kib * k.free_pct / 100)
    pressure = s.free_kib < threshold
    facts = (
        f"free {_gib(s.free_kib)} vs threshold {_gib(threshold)} ({k.free_pct:g} % of {_gib(s.total_kib)}), "
        f"guests could share {_gib(s.shareable_kib)}"
    )
    if s.shareable_kib + threshold < s.total_kib and not pressure:
        why = f"not needed: {facts}; everything fits with room to spare"
        changes = (KsmChange("run", s.run, 0, why),) if s.run == 1 else ()
        # run=2 (unmerging) is the user's to end: the policy leaves it alone, as it does pages and sleep.
        return KsmPlan(s.run if s.run == 2 else 0, s.pages_to_scan, s.sleep_ms, False, why, changes, threshold)
    sleep = max(1, k.sleep_ms_baseline * GIB16_KIB // max(1, s.total_kib))
    delta = k.boost if pressure else k.decay
    pages = min(k.pages_max, max(k.pages_min, s.pages_to_scan + delta))
    if pressure:
        why = f"memory pressure: {facts}; scan harder (+{k.boost})"
    else:
        why = f"guests could fill the host: {facts}; keep scanning, gently ({k.decay})"
    out = []
    if s.run != 1:
        out.append(KsmChange("run", s.run, 1, "start merging"))
    if pages != s.pages_to_scan:
        out.append(
            KsmChange("pages_to_scan", s.pages_to_scan, pages, f"{delta:+d}, within {k.pages_min}..{k.pages_max}")
        )
    if sleep != s.sleep_ms:
        out.append(KsmChange("sleep_millisecs", s.sleep_ms, sleep, f"{k.sleep_ms_baseline} ms x 16 GiB / host memory"))
    return KsmPlan(1, pages, sleep, pressure, why, tuple(out), threshold)


def _gib(kib: int) -> str:
    return f"{kib / 1024 / 1024:.1f} GiB"
