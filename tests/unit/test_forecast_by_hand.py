"""The migration forecast's decisions at their edges, every figure worked out on paper in the comments.

What a user reads (`vmtui migrate --dry-run`, the job view): converges or not, passes, seconds, the pause,
what it needs, the verdict sentence. Powers of two keep the float arithmetic exact.
"""

from __future__ import annotations

import pytest

from vmtui.models import JobStats
from vmtui.ops.migrate.forecast import forecast, live_estimate

MIB = 1048576


def test_a_rest_that_takes_exactly_the_max_downtime_is_sent_paused() -> None:
    # 100 MiB over 100 MiB/s: the first pass takes exactly 1.0 s, and the max downtime is 1000 ms: it fits,
    # so QEMU pauses the guest for the whole of it. One pass, 1.0 s, 1000 ms of downtime.
    fc = forecast(100 * MIB, 10 * MIB, 100 * MIB, max_downtime_ms=1000, bandwidth_source="cap")
    assert (fc.converges, fc.passes, fc.seconds, fc.downtime_ms, fc.needs) == (True, 1, 1.0, 1000.0, None)
    assert fc.verdict == "converges in about 1.0 s (1 passes), downtime about 1000 ms"
    # 999 ms: the 1.0 s pass does not fit; the guest dirtied 10 MiB/s x 1 s = 10 MiB, sent in 0.1 s:
    # 2 passes, 1.1 s, 100 ms paused.
    fc = forecast(100 * MIB, 10 * MIB, 100 * MIB, max_downtime_ms=999, bandwidth_source="cap")
    assert (fc.converges, fc.passes) == (True, 2)
    assert fc.seconds == pytest.approx(1.1)
    assert fc.downtime_ms == pytest.approx(100.0)


def test_the_converging_verdict_word_for_word() -> None:
    # 100 MiB at 20 MiB/s, 10 MiB/s dirtied: passes 5 + 2.5 + 1.25 + 0.625 + 0.3125 = 9.6875 s, then
    # 3.125 MiB in 0.15625 s paused: 9.84375 s in 6 passes, 156.25 ms down (prints 156).
    fc = forecast(100 * MIB, 10 * MIB, 20 * MIB, max_downtime_ms=300, bandwidth_source="measured", dirty_source="job")
    assert fc.verdict == "converges in about 9.8 s (6 passes), downtime about 156 ms"
    assert fc.to_json() == {
        "memory_bytes": 100 * MIB, "dirty_bps": 10 * MIB, "bandwidth_bps": 20 * MIB, "bandwidth_source": "measured",
        "dirty_source": "job", "max_downtime_ms": 300, "converges": True, "passes": 6, "seconds": 9.84375,
        "downtime_ms": 156.25, "needs": None, "verdict": fc.verdict,
    }  # fmt: skip


def test_thirty_passes_converge_and_thirty_one_are_too_many() -> None:
    # 1 B/s of link, 0.5 B/s dirtied (r = 1/2), max downtime 1 s. With 2^29 bytes, pass n lasts 2^(30-n) s:
    # pass 30 lasts exactly 1 s and fits. Seconds: 2^29 + ... + 2 (passes 1-29) + 1 = 2^30 - 1.
    fc = forecast(2**29, 0.5, 1.0, max_downtime_ms=1000, bandwidth_source="cap")
    assert (fc.converges, fc.passes, fc.seconds, fc.downtime_ms) == (True, 30, 2**30 - 1, 1000.0)
    # Twice the memory needs a 31st pass, beyond the 30 a forecast will wait for; even with the stall
    # policy's 500 ms the 30th pass (2 s) does not fit. Not allowed post-copy: it does not converge.
    fc = forecast(2**30, 0.5, 1.0, max_downtime_ms=1000, bandwidth_source="cap")
    assert (fc.converges, fc.passes, fc.seconds, fc.downtime_ms) == (False, None, None, None)
    assert fc.needs == "auto-converge (--auto-converge) or post-copy (--postcopy)"


def test_a_guest_dirtying_as_fast_as_the_link_does_not_converge_word_for_word() -> None:
    # 384 MiB, 20 MiB/s dirtied over 20 MiB/s: every pass 19.2 s, never under 100 or 500 ms.
    fc = forecast(384 * MIB, 20 * MIB, 20 * MIB, max_downtime_ms=100, bandwidth_source="cap")
    assert (fc.converges, fc.passes, fc.seconds, fc.downtime_ms) == (False, None, None, None)
    assert fc.verdict == (
        "does not converge: the guest dirties 20 MiB/s and the link carries 20 MiB/s; "
        "needs auto-converge (--auto-converge) or post-copy (--postcopy)"
    )
    # Auto-converge already on (and still forecast not to converge): only post-copy is left to suggest.
    fc = forecast(384 * MIB, 20 * MIB, 20 * MIB, max_downtime_ms=100, bandwidth_source="cap", auto_converge=True)
    assert fc.needs == "post-copy (--postcopy)"
    assert fc.verdict.endswith("; needs post-copy (--postcopy)")


def test_post_copy_takes_the_first_pass_then_the_rest_at_link_speed() -> None:
    # 384 MiB at 20 MiB/s: the first pass takes 19.2 s; meanwhile the guest dirtied 20 x 19.2 = 384 MiB
    # (all of it), fetched after the switch in another 19.2 s: 38.4 s in all, one pass, no pause figure.
    fc = forecast(384 * MIB, 20 * MIB, 20 * MIB, max_downtime_ms=100, bandwidth_source="cap", postcopy=True)
    assert (fc.converges, fc.passes, fc.downtime_ms) == (True, 1, None)
    assert fc.seconds == pytest.approx(38.4)
    assert fc.needs == "post-copy (allowed: the stall policy switches to it)"
    assert fc.verdict == (
        "pre-copy cannot converge (the guest dirties 100% of what the link carries); "
        "post-copy finishes it in about 38 s"
    )


def test_post_copy_rest_is_at_most_the_guests_memory() -> None:
    # Dirtying 40 MiB/s over 20 MiB/s: in the 19.2 s first pass the guest dirties 768 MiB, but it only has
    # 384 MiB to dirty: the rest is 384 MiB, 19.2 s more: 38.4 s (not 19.2 + 38.4 = 57.6 s).
    fc = forecast(384 * MIB, 40 * MIB, 20 * MIB, max_downtime_ms=100, bandwidth_source="cap", postcopy=True)
    assert fc.seconds == pytest.approx(38.4)
    assert fc.verdict == (
        "pre-copy cannot converge (the guest dirties 200% of what the link carries); "
        "post-copy finishes it in about 38 s"
    )


def test_post_copy_rest_when_the_guest_dirties_less_than_all_of_it() -> None:
    # 2^40 bytes at 1 B/s, 0.5 B/s dirtied (r = 1/2): pass n lasts 2^(41-n) s, under 500 ms only from pass
    # 42 on, past the 30 a forecast waits for: post-copy. First pass 2^40 s; meanwhile the guest dirtied
    # 0.5 x 2^40 = 2^39 bytes (half its memory), fetched in 2^39 s.
    fc = forecast(2**40, 0.5, 1.0, max_downtime_ms=1, bandwidth_source="cap", postcopy=True)
    assert fc.seconds == 2**40 + 2**39
    assert "(the guest dirties 50% of what the link carries)" in fc.verdict


def test_a_pause_only_the_last_downtime_step_allows() -> None:
    # 10 MiB at 20 MiB/s: 0.5 s per pass, and the guest (25 MiB/s) dirties all 10 MiB again each time.
    # It never fits in 100 ms; at the stall policy's 500 ms the first pass fits: 1 pass, 0.5 s, 500 ms.
    fc = forecast(10 * MIB, 25 * MIB, 20 * MIB, max_downtime_ms=100, bandwidth_source="cap")
    assert (fc.converges, fc.passes, fc.seconds, fc.downtime_ms) == (True, 1, 0.5, 500.0)
    assert fc.needs == "max downtime raised to about 500 ms (the stall policy does it)"
    assert fc.verdict == "converges only with a longer pause: about 500 ms after 1 passes"
    # 3002 B at 10000 B/s, dirtied as fast: a 300.2 ms pause, printed 300 (not rounded up to 301).
    fc = forecast(3002, 10000, 10000, max_downtime_ms=100, bandwidth_source="cap")
    assert fc.needs == "max downtime raised to about 300 ms (the stall policy does it)"
    assert fc.verdict == "converges only with a longer pause: about 300 ms after 1 passes"
    # 11 MiB: 0.55 s does not fit in 500 ms either, and post-copy is not allowed.
    assert forecast(11 * MIB, 25 * MIB, 20 * MIB, max_downtime_ms=100, bandwidth_source="cap").converges is False


def test_an_idle_guest_takes_one_pass_and_the_unknowns_say_so() -> None:
    # 128 MiB at 64 MiB/s, nothing dirtied: one pass of 2.0 s.
    idle = forecast(128 * MIB, 0.0, 64 * MIB, max_downtime_ms=100, bandwidth_source="measured")
    assert (idle.converges, idle.passes, idle.seconds, idle.downtime_ms, idle.needs) == (True, 1, 2.0, None, None)
    assert idle.verdict == (
        "converges in about 2.0 s: the guest dirties no memory, one pass of 128 MiB and a short pause"
    )
    no_link = forecast(128 * MIB, 0.0, None, max_downtime_ms=100, bandwidth_source="unknown")
    assert (no_link.converges, no_link.seconds) == (True, None)
    assert no_link.verdict == "converges: the guest dirties no memory, one pass of 128 MiB and a short pause"
    zero_link = forecast(128 * MIB, 0.0, 0.0, max_downtime_ms=100, bandwidth_source="unknown")
    assert zero_link.seconds is None
    assert (idle.bandwidth_source, idle.dirty_source) == ("measured", "sampled")  # sampled unless told
    dirty = forecast(128 * MIB, None, 64 * MIB, max_downtime_ms=100, bandwidth_source="cap")
    assert (dirty.converges, dirty.passes, dirty.seconds, dirty.downtime_ms, dirty.needs) == (None,) * 5
    assert dirty.verdict == "dirty rate unknown: no forecast"
    for link in (None, 0.0):
        unknown = forecast(128 * MIB, 5 * MIB, link, max_downtime_ms=100, bandwidth_source="unknown")
        assert (unknown.converges, unknown.passes, unknown.seconds, unknown.needs) == (None, None, None, None)
        assert unknown.verdict == "converges if the link carries clearly more than the guest dirties (5 MiB/s)"
    # 10.5 MiB/s and 5 bytes (11010053 B/s) is 10.500005 MiB/s: printed 11 MiB/s.
    just_over = forecast(128 * MIB, 11010053, None, max_downtime_ms=100, bandwidth_source="unknown")
    assert just_over.verdict.endswith("(11 MiB/s)")


def _job(**figures: int | None) -> JobStats:
    return JobStats("unbounded", "migration-out", **figures)  # type: ignore[arg-type]


def test_live_estimate_eta_and_pause() -> None:
    # 100 of 400 MiB left at 20 MiB/s while 2560 pages x 4 KiB = 10 MiB/s are dirtied: 3/4 sent,
    # gaining 10 MiB/s -> 10 s to go; a stop now pauses for 100 / 20 = 5 s.
    est = live_estimate(_job(data_total=400 * MIB, data_remaining=100 * MIB, memory_bps=20 * MIB,
                             dirty_rate_pages=2560))  # fmt: skip
    assert (est.fraction, est.eta_s, est.expected_downtime_ms) == (0.75, 10.0, 5000.0)
    # Dirtied exactly as fast as sent: no end in sight, but the pause is still 5 s.
    even = live_estimate(_job(data_total=400 * MIB, data_remaining=100 * MIB, memory_bps=20 * MIB,
                              dirty_rate_pages=5120))  # fmt: skip
    assert (even.eta_s, even.expected_downtime_ms) == (None, 5000.0)
    # No dirty figure is no dirtying: 100 MiB at 20 MiB/s, 5 s.
    assert live_estimate(_job(data_total=400 * MIB, data_remaining=100 * MIB, memory_bps=20 * MIB)).eta_s == 5.0


def test_live_estimate_falls_back_to_the_memory_figures_and_clamps() -> None:
    # No data_* figures: memory_* are used (300 of 400 sent).
    est = live_estimate(_job(memory_total=400 * MIB, memory_remaining=100 * MIB))
    assert (est.fraction, est.eta_s, est.expected_downtime_ms) == (0.75, None, None)
    # data_remaining wins over memory_remaining when both are there, even at 0.
    assert live_estimate(_job(data_total=400, data_remaining=0, memory_remaining=400)).fraction == 1.0
    # More left than the total (the guest grew the rest): 0, not negative; nothing known: 0.
    assert live_estimate(_job(data_total=400, data_remaining=500)).fraction == 0.0
    assert live_estimate(_job(data_total=400, data_remaining=-100)).fraction == 1.0
    assert live_estimate(_job(data_total=400)).fraction == 0.0
    assert live_estimate(_job(data_remaining=100)).fraction == 0.0
    assert live_estimate(_job(data_remaining=0)).fraction == 0.0  # no total: nothing to be a share of
    # A zero throughput says nothing about the end.
    zero = live_estimate(_job(data_total=400, data_remaining=100, memory_bps=0))
    assert (zero.eta_s, zero.expected_downtime_ms) == (None, None)
    # 1 B/s is slow, not nothing: 100 B left, 100 s to go, 100 s of pause.
    crawl = live_estimate(_job(data_total=400, data_remaining=100, memory_bps=1))
    assert (crawl.eta_s, crawl.expected_downtime_ms) == (100.0, 100000.0)
