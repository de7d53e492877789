"""Will this migration converge, how long will it take, how long will the guest pause? Pure arithmetic.

Pre-copy sends all memory once, then, pass after pass, what the guest dirtied during the previous
pass. With a dirty rate D and a bandwidth B, each pass lasts r = D/B times the one before. QEMU
stops the guest and sends the rest once that rest fits in the allowed downtime (rest/B <= max
downtime). So with r < 1 it converges, after about log(downtime*B/first rest)/log(r) passes; with
r >= 1 every pass is as long as the first one, and it converges only if the first pass's dirt
already fits in the downtime. Otherwise it needs the guest slowed down (auto-converge throttles its
vCPUs) or post-copy (run on the target at once and fetch the rest on demand).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from vmtui.models import JobStats

LARGEST_STEP_MS = 500
"""The stall policy's last max-downtime step (see `migrate_policy.DOWNTIME_STEPS_MS`)."""
MAX_PASSES = 30
"""Beyond this many passes a forecast says "does not converge" rather than a number nobody will wait for."""


@dataclass(frozen=True, slots=True)
class Forecast:
    """A prediction, with the figures it came from (so a reader can check it)."""

    memory_bytes: int
    """Memory the first pass must send (guest memory in use where known, else all of it)."""
    dirty_bps: float | None
    bandwidth_bps: float | None
    bandwidth_source: str
    """Where the bandwidth came from: "cap", "measured" (this job), "last migration", "unknown"."""
    dirty_source: str
    """Where the dirty rate came from: "sampled" (libvirt's dirty-rate calculation) or "job" (QEMU's
    count over this job's passes, which sees every page: it revises a sample that missed)."""
    max_downtime_ms: int
    converges: bool | None
    """None when the dirty rate or the bandwidth is unknown."""
    passes: int | None
    seconds: float | None
    downtime_ms: float | None
    needs: str | None
    """"auto-converge or post-copy" and the like, when plain pre-copy will not make it."""
    verdict: str
    """One sentence for humans."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 1048576:.0f} MiB"


def _precopy(memory: float, dirty: float, bandwidth: float, downtime_s: float) -> tuple[int, float, float] | None:
    """(passes, seconds, downtime s) until the rest fits in `downtime_s`; None when it never does."""
    rest, seconds, passes = memory, 0.0, 0
    while passes < MAX_PASSES:
        passes += 1
        pass_s = rest / bandwidth
        if pass_s <= downtime_s:
            return passes, seconds + pass_s, pass_s  # this rest is sent with the guest paused
        seconds += pass_s
        new_rest = min(memory, dirty * pass_s)  # the guest cannot dirty more than it has
        if new_rest >= rest:
            return None  # every pass at least as long as the last: the rest never fits
        rest = new_rest
    return None


def forecast(
    memory_bytes: int,
    dirty_bps: float | None,
    bandwidth_bps: float | None,
    *,
    max_downtime_ms: int,
    bandwidth_source: str,
    dirty_source: str = "sampled",
    postcopy: bool = False,
    auto_converge: bool = False,
) -> Forecast:
    """Predict a pre-copy migration of `memory_bytes` (see the module docstring for the model)."""
    base: dict[str, Any] = {
        "memory_bytes": memory_bytes,
        "dirty_bps": dirty_bps,
        "bandwidth_bps": bandwidth_bps,
        "bandwidth_source": bandwidth_source,
        "dirty_source": dirty_source,
        "max_downtime_ms": max_downtime_ms,
    }
    if dirty_bps is None:
        return Forecast(**base, converges=None, passes=None, seconds=None, downtime_ms=None, needs=None,
                        verdict="dirty rate unknown: no forecast")  # fmt: skip
    if dirty_bps == 0:
        took = None if not bandwidth_bps else memory_bytes / bandwidth_bps
        when = f" in about {took:.1f} s" if took is not None else ""
        return Forecast(
            **base, converges=True, passes=1, seconds=took, downtime_ms=None, needs=None,
            verdict=f"converges{when}: the guest dirties no memory, one pass of {_mib(memory_bytes)} and a short pause",
        )  # fmt: skip
    if not bandwidth_bps:
        return Forecast(
            **base, converges=None, passes=None, seconds=None, downtime_ms=None, needs=None,
            verdict=f"converges if the link carries clearly more than the guest dirties ({_mib(dirty_bps)}/s)",
        )  # fmt: skip
    ratio = dirty_bps / bandwidth_bps
    plain = _precopy(memory_bytes, dirty_bps, bandwidth_bps, max_downtime_ms / 1000)
    if plain is not None:
        passes, seconds, down = plain
        return Forecast(
            **base, converges=True, passes=passes, seconds=seconds, downtime_ms=down * 1000, needs=None,
            verdict=f"converges in about {seconds:.1f} s ({passes} passes), downtime about {down * 1000:.0f} ms",
        )  # fmt: skip
    stepped = _precopy(memory_bytes, dirty_bps, bandwidth_bps, LARGEST_STEP_MS / 1000)
    if stepped is not None:
        passes, seconds, down = stepped
        return Forecast(
            **base, converges=True, passes=passes, seconds=seconds, downtime_ms=down * 1000,
            needs=f"max downtime raised to about {down * 1000:.0f} ms (the stall policy does it)",
            verdict=f"converges only with a longer pause: about {down * 1000:.0f} ms after {passes} passes",
        )  # fmt: skip
    first = memory_bytes / bandwidth_bps
    if postcopy:
        # Post-copy: the guest runs on the target after the first pass; the rest follows on demand.
        rest = min(float(memory_bytes), dirty_bps * first)
        return Forecast(
            **base, converges=True, passes=1, seconds=first + rest / bandwidth_bps, downtime_ms=None,
            needs="post-copy (allowed: the stall policy switches to it)",
            verdict=f"pre-copy cannot converge (the guest dirties {ratio:.0%} of what the link carries); "
            f"post-copy finishes it in about {first + rest / bandwidth_bps:.0f} s",
        )  # fmt: skip
    need = "post-copy (--postcopy)" if auto_converge else "auto-converge (--auto-converge) or post-copy (--postcopy)"
    return Forecast(
        **base, converges=False, passes=None, seconds=None, downtime_ms=None, needs=need,
        verdict=f"does not converge: the guest dirties {_mib(dirty_bps)}/s and the link carries "
        f"{_mib(bandwidth_bps)}/s; needs {need}",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class LiveEstimate:
    """What the figures of a running job say right now."""

    fraction: float
    """1 - remaining/total: the share of the data already sent (not necessarily monotone by itself)."""
    eta_s: float | None
    """Seconds to go while the link outruns the guest; None when it does not (it may never end)."""
    expected_downtime_ms: float | None
    """The pause if QEMU stopped the guest now: what is left over the throughput."""


def live_estimate(stats: JobStats) -> LiveEstimate:
    total = stats.data_total or stats.memory_total or 0
    remaining = stats.data_remaining if stats.data_remaining is not None else stats.memory_remaining
    fraction = 0.0 if not total or remaining is None else max(0.0, min(1.0, 1.0 - remaining / total))
    bps = float(stats.memory_bps or 0)
    dirty = float(stats.dirty_bps or 0)
    eta = None
    expected = None
    if bps > 0 and remaining is not None:
        expected = remaining / bps * 1000
        if bps > dirty:
            eta = remaining / (bps - dirty)
    if eta is not None and not math.isfinite(eta):
        eta = None
    return LiveEstimate(fraction, eta, expected)
