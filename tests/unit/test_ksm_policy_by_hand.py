"""The KSM policy's decisions at its two lines: free memory against the threshold, and whether the guests fit.

A 10 GiB host (10485760 KiB): the threshold is 20 % of it, 2097152 KiB exactly.
"""

from __future__ import annotations

from vmtui.ops.ksm_policy import KsmChange, KsmInputs, KsmKnobs, plan_ksm

TOTAL = 10 * 1024 * 1024
THRESHOLD = 2097152
PLENTY = 5 * 1024 * 1024
"""Free memory well above the threshold."""


def _inputs(*, free: int = PLENTY, shareable: int = 1024 * 1024, run: int = 1, pages: int = 100, sleep: int = 16,
            total: int = TOTAL) -> KsmInputs:  # fmt: skip
    return KsmInputs(total, free, shareable, run, pages, sleep)


def test_free_memory_exactly_at_the_threshold_is_not_pressure() -> None:
    # Guests that could fill the host keep KSM running either way; pressure shows as +300 (100 -> 400)
    # against the gentle -50 (100 -> 64, the minimum).
    at = plan_ksm(_inputs(free=THRESHOLD, shareable=TOTAL))
    assert (at.pressure, at.threshold_kib, at.pages_to_scan) == (False, THRESHOLD, 64)
    below = plan_ksm(_inputs(free=THRESHOLD - 1, shareable=TOTAL))
    assert (below.pressure, below.pages_to_scan) == (True, 400)


def test_pressure_alone_starts_ksm_even_when_the_guests_fit() -> None:
    # Guests of 1 GiB fit with room to spare, but free is one KiB under the threshold: run it, scan harder.
    plan = plan_ksm(_inputs(free=THRESHOLD - 1, run=0))
    assert (plan.run, plan.pressure, plan.pages_to_scan) == (1, True, 400)
    assert plan.changes[0] == KsmChange("run", 0, 1, "start merging")
    assert plan.why == (
        "memory pressure: free 2.0 GiB vs threshold 2.0 GiB (20 % of 10.0 GiB), guests could share 1.0 GiB; "
        "scan harder (+300)"
    )
    # At the threshold: no pressure, and the guests fit: stop it.
    idle = plan_ksm(_inputs(free=THRESHOLD, run=1))
    assert (idle.run, idle.pressure) == (0, False)


def test_guests_that_exactly_fill_the_host_with_the_threshold_keep_ksm_running() -> None:
    # shareable + threshold < total stops KSM: 8388608 + 2097152 = 10485760 is not below the total.
    full = plan_ksm(_inputs(shareable=TOTAL - THRESHOLD, run=0))
    assert (full.run, full.pressure, full.pages_to_scan) == (1, False, 64)
    assert full.why == (
        "guests could fill the host: free 5.0 GiB vs threshold 2.0 GiB (20 % of 10.0 GiB), guests could share "
        "8.0 GiB; keep scanning, gently (-50)"
    )
    # One KiB less fits: stopped, and the other knobs left as they are.
    fits = plan_ksm(_inputs(shareable=TOTAL - THRESHOLD - 1, run=1, pages=100, sleep=16))
    assert (fits.run, fits.pages_to_scan, fits.sleep_ms, fits.pressure) == (0, 100, 16, False)
    why = (
        "not needed: free 5.0 GiB vs threshold 2.0 GiB (20 % of 10.0 GiB), guests could share 8.0 GiB; "
        "everything fits with room to spare"
    )
    assert (fits.why, fits.changes) == (why, (KsmChange("run", 1, 0, why),))


def test_a_user_unmerging_is_left_alone_when_ksm_is_not_needed() -> None:
    plan = plan_ksm(_inputs(run=2))
    assert (plan.run, plan.changes) == (2, ())
    stopped = plan_ksm(_inputs(run=0))
    assert (stopped.run, stopped.changes) == (0, ())
    # Needed again: unmerging (2) turns to merging (1).
    assert plan_ksm(_inputs(run=2, free=THRESHOLD - 1)).changes[0] == KsmChange("run", 2, 1, "start merging")


def test_pages_to_scan_within_64_and_1250() -> None:
    # Pressure: +300. 950 + 300 = 1250 exactly; 951 + 300 = 1251 capped at 1250.
    assert plan_ksm(_inputs(free=0, pages=950)).pages_to_scan == 1250
    assert plan_ksm(_inputs(free=0, pages=951)).pages_to_scan == 1250
    assert plan_ksm(_inputs(free=0, pages=949)).pages_to_scan == 1249
    # Gentle: -50. 114 - 50 = 64 exactly; 115 - 50 = 65; 113 - 50 = 63 raised to 64.
    assert plan_ksm(_inputs(shareable=TOTAL, pages=114)).pages_to_scan == 64
    assert plan_ksm(_inputs(shareable=TOTAL, pages=115)).pages_to_scan == 65
    assert plan_ksm(_inputs(shareable=TOTAL, pages=113)).pages_to_scan == 64
    # Already at 1250 under pressure: nothing to change there.
    top = plan_ksm(_inputs(free=0, pages=1250, sleep=10, total=16 * 1024 * 1024))
    assert top.changes == ()


def test_sleep_scales_with_16_gib_over_host_memory() -> None:
    # 16 GiB: 10 ms; 32 GiB: 5 ms; 10 GiB: 10 x 16/10 = 16 ms; 200 GiB: 0.8 -> at least 1 ms.
    for gib, sleep in ((16, 10), (32, 5), (10, 16), (200, 1)):
        assert plan_ksm(_inputs(free=0, total=gib * 1024 * 1024)).sleep_ms == sleep
    # A host reporting no memory at all does not divide by zero (everything is "pressure").
    assert plan_ksm(KsmInputs(0, 0, 0, 0, 100, 20)).sleep_ms == 10 * 16 * 1024 * 1024


def test_changes_are_listed_with_their_reasons() -> None:
    plan = plan_ksm(_inputs(free=0, run=0, pages=100, sleep=20))
    assert plan.changes == (
        KsmChange("run", 0, 1, "start merging"),
        KsmChange("pages_to_scan", 100, 400, "+300, within 64..1250"),
        KsmChange("sleep_millisecs", 20, 16, "10 ms x 16 GiB / host memory"),
    )
    gentle = plan_ksm(_inputs(shareable=TOTAL, pages=100, sleep=16))
    assert gentle.changes == (KsmChange("pages_to_scan", 100, 64, "-50, within 64..1250"),)
    assert gentle.to_json()["changes"] == ({"knob": "pages_to_scan", "old": 100, "new": 64,
                                           "why": "-50, within 64..1250"},)  # fmt: skip


def test_sizes_in_the_reason_are_gib_to_one_decimal() -> None:
    # 2149800 KiB is 2.05021 GiB: 2.1 (just over the halfway mark).
    plan = plan_ksm(_inputs(free=2149800, shareable=TOTAL))
    assert plan.why.startswith("guests could fill the host: free 2.1 GiB vs threshold 2.0 GiB")


def test_knobs_move_the_lines() -> None:
    # free_pct 25: threshold 2621440; 2621439 free is pressure, boost 100 from 100 -> 200.
    plan = plan_ksm(_inputs(free=2621439, shareable=TOTAL), KsmKnobs(free_pct=25, boost=100))
    assert (plan.threshold_kib, plan.pressure, plan.pages_to_scan) == (2621440, True, 200)
    # 20 ms baseline on a 16 GiB host: 20 ms.
    assert plan_ksm(_inputs(free=0, total=16 * 1024 * 1024), KsmKnobs(sleep_ms_baseline=20)).sleep_ms == 20
