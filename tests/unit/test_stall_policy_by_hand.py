"""The stall policy's decisions at their edges: what counts as a stall, when it steps, what it says.

A "stall" is a pass that starts with no less than 90 % of the least left at any earlier pass start.
Figures in bytes; every threshold worked out in the comments.
"""

from __future__ import annotations

from vmtui.models import JobStats
from vmtui.ops.migrate.policy import PolicyAction, StallPolicy

MIB = 1048576


def _pass(iteration: int | None, remaining: int | None, *, total: int | None = 400 * MIB, bps: int | None = None,
          kind: str = "unbounded") -> JobStats:  # fmt: skip
    return JobStats(kind, "migration-out", memory_total=total, memory_remaining=remaining, memory_bps=bps,
                    iteration=iteration)  # fmt: skip


def _kinds(policy: StallPolicy, passes: list[JobStats]) -> list[tuple[str, int]]:
    return [(a.kind, a.downtime_ms) for stats in passes for a in policy.observe(stats)]


def test_exactly_ninety_percent_of_the_best_is_a_stall_and_one_byte_less_is_progress() -> None:
    # The first pass starts from the whole 400 MiB = 419430400 B; 90 % of it is 377487360 B.
    stalled = StallPolicy(start_ms=100, postcopy=False)
    assert _kinds(stalled, [_pass(1, 400 * MIB), _pass(2, 377487360)]) == [("downtime", 150)]
    moving = StallPolicy(start_ms=100, postcopy=False)
    assert _kinds(moving, [_pass(1, 400 * MIB), _pass(2, 377487359)]) == []
    assert (stalled.stalls, moving.stalls) == (1, 0)


def test_the_first_pass_starts_from_the_whole_memory_or_else_its_own_rest() -> None:
    # Without memory_total the first reading's 200 MiB is the best: 180 MiB (90 %) at pass 2 is a stall.
    policy = StallPolicy(start_ms=100, postcopy=False)
    assert _kinds(policy, [_pass(1, 200 * MIB, total=None), _pass(2, 180 * MIB)]) == [("downtime", 150)]
    # With it, 400 MiB is the best: 180 MiB is progress.
    assert _kinds(StallPolicy(start_ms=100, postcopy=False), [_pass(1, 200 * MIB), _pass(2, 180 * MIB)]) == []


def test_the_best_so_far_is_the_least_left_at_any_earlier_pass() -> None:
    # 400 -> 200 (progress) -> 190 (not below 180: stall, best 200) -> 185 (not below 171: stall, best 190).
    policy = StallPolicy(start_ms=100, postcopy=False, enabled=False)
    actions = [a for s in [_pass(1, 400 * MIB), _pass(2, 200 * MIB), _pass(3, 190 * MIB), _pass(4, 185 * MIB)]
               for a in policy.observe(s)]  # fmt: skip
    assert [(a.iteration, a.remaining, a.best) for a in actions] == [
        (3, 190 * MIB, 200 * MIB),
        (4, 185 * MIB, 190 * MIB),
    ]
    # A later pass above the best is measured against the best, not the pass before: 190 -> 185 -> 170 is
    # progress only if 170 < 0.9 x 185 = 166.5: it is not.
    assert [a.best for a in policy.observe(_pass(5, 170 * MIB))] == [185 * MIB]


def test_a_rest_that_fits_twice_the_downtime_is_the_end_coming_not_a_stall() -> None:
    # 10 MiB/s at 100 ms of max downtime sends 1 MiB paused; twice that is 2 MiB = 2097152 B. The first pass
    # starts from 2097153 B, so pass 2 with 2097152 B left is not below 90 % (no progress) but fits: no stall.
    fits = StallPolicy(start_ms=100, postcopy=False)
    assert _kinds(fits, [_pass(1, 2097153, total=2097153), _pass(2, 2097152, bps=10 * MIB)]) == []
    # One byte more does not fit: a stall, and the downtime steps to 150 ms.
    over = StallPolicy(start_ms=100, postcopy=False)
    assert _kinds(over, [_pass(1, 2097153, total=2097153), _pass(2, 2097153, bps=10 * MIB)]) == [("downtime", 150)]


def test_a_rest_of_at_most_one_mib_is_never_a_stall() -> None:
    # No throughput figure: nothing fits in the downtime, but a rest of 1 MiB (1048576 B) is still the end.
    small = StallPolicy(start_ms=100, postcopy=False)
    assert _kinds(small, [_pass(1, 1048577, total=1048577), _pass(2, 1048576)]) == []
    over = StallPolicy(start_ms=100, postcopy=False)
    assert _kinds(over, [_pass(1, 1048577, total=1048577), _pass(2, 1048577)]) == [("downtime", 150)]


STUCK = [_pass(1, 400 * MIB), *[_pass(i, 195 * MIB) for i in range(2, 12)]]
"""A full first pass, then 195 MiB left at every pass start: pass 2 is progress, passes 3-11 stall."""


def test_every_stall_counts_and_patience_waits_for_that_many_in_a_row() -> None:
    policy = StallPolicy(start_ms=100, postcopy=True, patience=2)
    assert _kinds(policy, STUCK[:6]) == [("stalled", 100), ("downtime", 150), ("stalled", 150), ("downtime", 200)]
    assert policy.stalls == 4  # passes 3, 4, 5, 6
    # A pass of progress starts the count again: 195 -> 100 MiB is progress, then two more stalls to step.
    assert _kinds(policy, [_pass(7, 100 * MIB), _pass(8, 100 * MIB), _pass(9, 100 * MIB)]) == [
        ("stalled", 200), ("downtime", 300)
    ]  # fmt: skip
    assert policy.stalls == 6


def test_patience_counts_from_the_first_stall() -> None:
    # Patience 2 and a stall at the very first judged pass (380 MiB is not below 360): reported, no step yet.
    policy = StallPolicy(start_ms=100, postcopy=False, patience=2)
    assert _kinds(policy, [_pass(1, 400 * MIB), _pass(2, 380 * MIB)]) == [("stalled", 100)]


def test_patience_below_one_is_one() -> None:
    policy = StallPolicy(start_ms=100, postcopy=False, patience=0)
    assert _kinds(policy, STUCK[:4]) == [("downtime", 150), ("downtime", 200)]


def test_a_pass_is_judged_once_on_its_first_reading() -> None:
    policy = StallPolicy(start_ms=100, postcopy=False)
    # Pass 3 read three times (and an older pass 2 reading arriving late): one decision.
    readings = [_pass(1, 400 * MIB), _pass(2, 195 * MIB), _pass(3, 195 * MIB), _pass(3, 195 * MIB), _pass(2, 195 * MIB)]
    assert _kinds(policy, readings) == [("downtime", 150)]
    assert policy.stalls == 1


def test_readings_that_say_nothing_are_ignored() -> None:
    policy = StallPolicy(start_ms=100, postcopy=False)
    assert _kinds(policy, [_pass(1, 400 * MIB), _pass(2, 195 * MIB)]) == []
    # No pass count, no rest, a job no longer running: no decision, and pass 3 is still to be judged.
    assert _kinds(policy, [_pass(None, 195 * MIB), _pass(3, None), _pass(3, 195 * MIB, kind="completed")]) == []
    assert _kinds(policy, [_pass(3, 195 * MIB, kind="bounded")]) == [("downtime", 150)]


def test_steps_start_above_the_users_downtime_and_end_in_an_abort_that_says_why() -> None:
    # Started at 150 ms: the steps left are 200, 300, 400, 500, then the end (4 steps + 1 = passes 3-7).
    policy = StallPolicy(start_ms=150, postcopy=False)
    assert _kinds(policy, STUCK[:8]) == [("downtime", 200), ("downtime", 300), ("downtime", 400), ("downtime", 500),
                                         ("abort", 500)]  # fmt: skip
    assert policy.finished
    assert _kinds(policy, STUCK[8:]) == []  # finished: nothing more to decide


def test_the_actions_say_why_with_the_figures() -> None:
    policy = StallPolicy(start_ms=400, postcopy=False)
    step = [a for s in STUCK[:3] for a in policy.observe(s)]
    assert step == [PolicyAction("downtime", 3, 195 * MIB, 195 * MIB, 500,
                                 "pass 3 starts with 195 MiB left, not below 90% of the best so far (195 MiB): "
                                 "max downtime raised")]  # fmt: skip
    end = policy.observe(STUCK[3])
    assert end[0].to_json() == {
        "kind": "abort", "iteration": 4, "remaining": 195 * MIB, "best": 195 * MIB, "downtime_ms": 500,
        "reason": "pass 4 starts with 195 MiB left, not below 90% of the best so far (195 MiB), with the max "
        "downtime at its last step and post-copy not allowed: aborting (the source keeps running; retry with "
        "--postcopy or --auto-converge, or a faster link)",
    }  # fmt: skip
    switch = StallPolicy(start_ms=500, postcopy=True)
    assert [a.to_json() for s in STUCK[:3] for a in switch.observe(s)] == [{
        "kind": "postcopy", "iteration": 3, "remaining": 195 * MIB, "best": 195 * MIB, "downtime_ms": 500,
        "reason": "pass 3 starts with 195 MiB left, not below 90% of the best so far (195 MiB), with the max "
        "downtime at its last step: switching to post-copy",
    }]  # fmt: skip
    # 10.5 MiB and 5 bytes left (11010053 B) prints as 11 MiB.
    odd = StallPolicy(start_ms=100, postcopy=False, enabled=False)
    readings = (_pass(1, 11010053, total=11010053), _pass(2, 11010053))
    assert [a.reason for s in readings for a in odd.observe(s)] == [
        "pass 2 starts with 11 MiB left, not below 90% of the best so far (11 MiB)"
    ]
    off = StallPolicy(start_ms=100, postcopy=True, enabled=False)
    assert [a.reason for s in STUCK[:3] for a in off.observe(s)] == [
        "pass 3 starts with 195 MiB left, not below 90% of the best so far (195 MiB)"
    ]
    assert not off.finished


def test_joining_a_migration_after_its_first_pass_judges_nothing_until_a_second_pass() -> None:
    # `vmtui migrate attach`, or a first pass over before the first reading: the first pass seen is 5, with
    # 195 MiB left. Nothing earlier is known, so it cannot have stalled against anything (it is not "below
    # 90 % of the best so far" only because it is the best so far). Pass 6 with 195 MiB left is a stall.
    policy = StallPolicy(start_ms=100, postcopy=False)
    assert _kinds(policy, [_pass(5, 195 * MIB, total=None)]) == []
    assert policy.stalls == 0
    assert _kinds(policy, [_pass(6, 195 * MIB, total=None)]) == [("downtime", 150)]
