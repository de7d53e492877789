"""The balloon policy's decisions at their edges: who takes part, who moves first, how far, and why.

A 10 GiB host (10485760 KiB) aiming at 80 % used: target 8388608 KiB, so `used = 8388608 - goal` sets the
gap by hand. Guests of 1 GiB max (1048576 KiB) have a 50 % floor of 524288 KiB unless their alive floor
(what they use, plus a quarter of it, at least 32 MiB) is higher. Every figure worked out in the comments.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest

from vmtui.models import BalloonReading
from vmtui.ops.balloon_policy import (
    BalloonKnobs,
    GuestMemory,
    HostMemory,
    PlanRow,
    alive_floor_kib,
    guest_from_reading,
    plan_balloons,
)

TOTAL = 10485760
TARGET = 8388608
GIB = 1048576


def _host(goal: int) -> HostMemory:
    """A host `goal` KiB under its 80 % target (over it when negative)."""
    return HostMemory(TOTAL, TOTAL - (TARGET - goal))


def _guest(name: str, actual: int | None, usable: int | None, *, available: int | None = None, max_kib: int = GIB,
           **more: object) -> GuestMemory:  # fmt: skip
    """A running guest whose kernel reserved nothing (available = actual unless told)."""
    return GuestMemory(name, name, "running", max_kib, actual, usable_kib=usable,
                       available_kib=actual if available is None else available, period=5, **more)  # type: ignore[arg-type]  # fmt: skip


def _rows(plan_rows: tuple[PlanRow, ...]) -> dict[str, tuple[str, int | None]]:
    return {r.name: (r.action, r.new_kib) for r in plan_rows}


# ----- what a guest needs, and its floor ------------------------------------------------------------


def test_need_is_what_the_kernel_reserved_plus_what_the_guest_uses() -> None:
    # actual 524288, available 507904 (16384 reserved), usable 300000 (207904 used): 224288.
    assert _guest("g", 524288, 300000, available=507904).need_kib == 224288
    # actual = available: nothing reserved (not max - available = 540672): 524288 - 300000 = 224288.
    assert _guest("g", 524288, 300000).need_kib == 224288
    # Just shrunk, actual 400000 below a stale available 507904: reserve taken as max - available = 540672,
    # plus the 207904 used: 748576.
    assert _guest("g", 400000, 300000, available=507904).need_kib == 748576
    # ... but never a negative reserve (max below available): 0 + 207904.
    assert _guest("g", 400000, 300000, available=507904, max_kib=500000).need_kib == 207904
    # More usable than available (stale figures): nothing used, the reserve alone: 16384.
    assert _guest("g", 524288, 600000, available=507904).need_kib == 16384
    for partial in (_guest("g", None, 1), _guest("g", 1, None), replace(_guest("g", 1, 1), available_kib=None)):
        assert partial.need_kib is None


@pytest.mark.parametrize(
    ("need", "floor"),
    [
        (131072, 163840),  # a quarter of it is exactly 32 MiB: 131072 + 32768
        (131076, 163845),  # a quarter is 32769: 131076 + 32769
        (131068, 163836),  # a quarter (32767) is under 32 MiB: 131068 + 32768
        (131077, 163846),  # a quarter is 32769.25, taken as 32769 KiB: 131077 + 32769
        (0, 65536),  # 0 + 32 MiB is under the 64 MiB minimum
        (32768, 65536),  # 32768 + 32768 = 65536 exactly
        (32769, 65537),
    ],
)
def test_alive_floor_is_need_plus_a_quarter_at_least_32_mib_and_never_under_64_mib(need: int, floor: int) -> None:
    assert alive_floor_kib(_guest("g", 600000, 600000 - need)) == floor


def test_alive_floor_without_statistics_is_64_mib_and_never_above_max() -> None:
    assert alive_floor_kib(_guest("g", 600000, None)) == 65536
    assert alive_floor_kib(_guest("g", 60000, None, max_kib=60000)) == 60000
    # need 224288 + 56072 = 280360, but max is 262144.
    assert alive_floor_kib(_guest("g", 262144, 37856, max_kib=262144)) == 262144


def test_a_reading_becomes_the_guest_the_policy_judges() -> None:
    stats = {"actual": 524288, "usable": 300000, "unused": 200000, "available": 507904, "last_update": 1700000000}
    reading = BalloonReading("u1", "web", "running", GIB, 524288, "virtio-transitional", 5, MappingProxyType(stats),
                             True)  # fmt: skip
    g = guest_from_reading(reading)
    assert g == GuestMemory("u1", "web", "running", GIB, 524288, 300000, 200000, 507904, "virtio-transitional", 5,
                            True, 1700000000)  # fmt: skip
    # last_update 0: QEMU never heard from the guest.
    never = guest_from_reading(replace(reading, stats=MappingProxyType({**stats, "last_update": 0})))
    assert never.last_update is None


def test_a_guest_reports_with_either_of_its_drivers_figures() -> None:
    assert _guest("g", 1, None, unused_kib=5).reports
    assert _guest("g", 1, 5).reports
    assert not _guest("g", 1, None).reports


def test_host_used_memory_as_free_counts_it() -> None:
    host = HostMemory.from_stats({"total": 1000, "free": 100, "buffers": 20, "cached": 30})
    assert host.used_kib == 850
    assert HostMemory.from_stats({"total": 1000, "free": 100}).used_kib == 900


def test_shares_by_name_then_uuid_then_1000() -> None:
    knobs = BalloonKnobs(shares={"web": 3000, "u-db": 500, "u-web": 7})
    assert knobs.shares_of(GuestMemory("u-web", "web", "running", 1, 1)) == 3000
    assert knobs.shares_of(GuestMemory("u-db", "db", "running", 1, 1)) == 500
    assert knobs.shares_of(GuestMemory("u-x", "x", "running", 1, 1)) == 1000


# ----- who takes part ---------------------------------------------------------------------------------


def test_each_reason_to_leave_a_guest_out_in_the_users_words() -> None:
    base = _guest("g", 524288, 300000)
    cases = [
        (replace(base, state="paused", model=None), "not running (paused)"),
        (replace(base, model=None, actual_kib=None), "no balloon device"),
        (replace(base, model="none"), "no balloon device"),
        (replace(base, actual_kib=None, job_active=True), "no balloon figures from the host"),
        (replace(base, job_active=True, name="zero"), "a job (migration) is running on it"),
        (replace(base, name="zero", usable_kib=None), "shares 0: left out"),
        (replace(base, name="minus"), "shares 0: left out"),
        (replace(base, usable_kib=None, period=None), "balloon statistics period unset: the guest cannot be judged"),
        (replace(base, usable_kib=None, period=0), "balloon statistics period unset: the guest cannot be judged"),
        (replace(base, usable_kib=None), "no guest balloon driver reporting: a new target would be ignored"),
    ]
    knobs = BalloonKnobs(shares={"zero": 0, "minus": -1})
    for guest, why in cases:
        row = plan_balloons(_host(GIB), [guest], knobs).rows[0]
        assert (row.action, row.why, row.new_kib, row.floor_kib, row.delta_kib) == ("skip", why, None, None, 0)
        assert (row.actual_kib, row.max_kib) == (guest.actual_kib, GIB)
    assert plan_balloons(_host(GIB), [replace(base, name="zero")], knobs).rows[0].shares == 0
    assert plan_balloons(_host(GIB), [replace(base, uuid="u-zero", name="zero")], knobs).rows[0].uuid == "u-zero"
    # 1 share is a small share, not none.
    one = plan_balloons(_host(GIB), [base], BalloonKnobs(shares={"g": 1})).rows[0]
    assert (one.uuid, one.action, one.shares) == ("g", "grow", 1)


# ----- the host's gap -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("goal", "mode", "why"),
    [
        # used 8378368 = 79.902 % of the host; 8398848 = 80.098 %.
        (10240, "grow", "host uses 79.9 % against a target of 80 %: room to give guests memory back"),
        (10239, "hold", "host uses 79.9 % against a target of 80 %: within 10 MiB of it"),
        (-10239, "hold", "host uses 80.1 % against a target of 80 %: within 10 MiB of it"),
        (-10240, "shrink", "host uses 80.1 % against a target of 80 %: memory pressure, guests give some back"),
    ],
)
def test_a_gap_of_10_mib_is_worth_a_move_and_less_is_not(goal: int, mode: str, why: str) -> None:
    plan = plan_balloons(_host(goal), [_guest("g", 600000, 300000)])
    assert (plan.goal_kib, plan.mode, plan.why) == (goal, mode, why)
    if mode == "hold":
        assert (plan.rows[0].action, plan.rows[0].why) == ("hold", "the host is at its target")


def test_the_target_is_the_share_of_total_memory_rounded_down() -> None:
    # 80 % of 10485761 KiB is 8388608.8: 8388608.
    plan = plan_balloons(HostMemory(10485761, 10485761), [])
    assert (plan.host_total_kib, plan.host_used_kib, plan.target_used_kib, plan.goal_kib) == (10485761, 0, TARGET,
                                                                                               TARGET)  # fmt: skip
    assert plan_balloons(HostMemory(0, 0), []).why.startswith("host uses 0.0 % against")


# ----- growing: the ones short of memory first ---------------------------------------------------------

# A: used 450000 of 550000 (need 450000): alive floor 450000 + 112500 = 562500 over the 50 % floor, and
# above its actual 550000: short of memory whatever its usable.
A_SHORT = _guest("a", 550000, 100000)


@pytest.mark.parametrize("usable", [131072, 131073])
def test_usable_over_a_quarter_of_the_floor_is_spare_and_a_quarter_is_not(usable: int) -> None:
    # B sits at its floor (524288: its alive floor is 393216 + 98304 = 491520 at most) with usable exactly a
    # quarter of it (131072): short, so it shares the 20480 KiB with A. Round one: 7980 above the floors
    # (-12500 + 0 + 20480), 3990 each: A to 566490, B to 528278. With one KiB more usable B has spare memory:
    # A alone takes all 20480 (550000 -> 570480) and B holds.
    b = _guest("b", 524288, usable)
    plan = plan_balloons(_host(20480), [A_SHORT, b])
    if usable == 131072:
        assert _rows(plan.rows) == {"a": ("grow", 566490), "b": ("grow", 528278)}
    else:
        assert _rows(plan.rows) == {"a": ("grow", 570480), "b": ("hold", 524288)}
        assert plan.rows[1].why == "already at its fair share (1000 of 2000 shares)"


def test_a_guest_below_its_floor_is_short_whatever_its_usable_memory() -> None:
    # B one KiB under its floor with plenty usable: short, so it grows with A. Round one: 7979 above the
    # floors, 3989 each: A to 566489, B to 528277; round two moves nothing more.
    plan = plan_balloons(_host(20480), [A_SHORT, _guest("b", 524287, 131073)])
    assert _rows(plan.rows) == {"a": ("grow", 566489), "b": ("grow", 528277)}


def test_when_the_short_guests_cannot_take_any_the_others_grow() -> None:
    # A at its max (600000; its floor is capped there) and short (usable 50000): it cannot take any, so the
    # 20480 KiB go to B (spare), in two rounds of 10240.
    a_full = _guest("a", 600000, 50000, max_kib=600000)
    plan = plan_balloons(_host(20480), [a_full, _guest("b", 524288, 131073)])
    assert _rows(plan.rows) == {"a": ("hold", 600000), "b": ("grow", 544768)}
    assert plan.rows[0].why == "at its max memory"


def test_growing_is_capped_at_100_mib_per_step_and_says_what_the_guest_has() -> None:
    # Alone and spare (usable 300000 > 131072), 4 GiB of room: its fair share is its max, but one step
    # moves 102400 at most: 524288 -> 626688. 300000 KiB usable prints as 293 MiB.
    plan = plan_balloons(_host(4 * GIB), [_guest("g", 524288, 300000)])
    row = plan.rows[0]
    assert (row.action, row.actual_kib, row.new_kib, row.delta_kib, row.floor_kib, row.max_kib, row.shares) == (
        "grow", 524288, 626688, 102400, 524288, GIB, 1000,
    )  # fmt: skip
    assert row.why == "grow by 1000 of 1000 shares (capped per step); guest has 293 MiB usable"
    assert row.uuid == "g"
    assert plan.moves == (row,)
    body = plan.to_json()
    assert (body["mode"], body["goal_kib"], body["rows"][0]["delta_kib"]) == ("grow", 4 * GIB, 102400)


def test_a_guest_reporting_only_its_free_memory_grows_without_a_usable_figure() -> None:
    # No usable figure: alive floor 64 MiB, but the 50 % floor (524288) wins; 20480 KiB of room, one step.
    g = _guest("g", 524288, None, unused_kib=1000)
    row = plan_balloons(_host(20480), [g]).rows[0]
    assert (row.action, row.new_kib, row.why) == ("grow", 544768, "grow by 1000 of 1000 shares")


def test_usable_memory_is_shown_in_whole_mib_rounded() -> None:
    # 102913 KiB = 100.5009 MiB: 101. (Used 421375: alive floor 526718 over its 524288: short; it grows.)
    row = plan_balloons(_host(20480), [_guest("g", 524288, 102913)]).rows[0]
    assert (row.action, row.why) == ("grow", "grow by 1000 of 1000 shares; guest has 101 MiB usable")


def test_the_percentage_floor_is_rounded_up() -> None:
    # 50 % of 262145 KiB is 131072.5: the floor is 131073. The guest is at 131073 under pressure: it holds there.
    g = _guest("g", 131073, 100000, max_kib=262145)
    row = plan_balloons(_host(-20480), [g]).rows[0]
    assert (row.floor_kib, row.action, row.why) == (131073, "hold", "at its floor (128 MiB)")
    # A 10 % floor of 1 GiB is 104857.6 -> 104858; the alive floor (need 109600 + 32768 = 142368) wins.
    g = _guest("g", 409600, 300000)
    assert plan_balloons(_host(20480), [g], BalloonKnobs(floor_pct=10)).rows[0].floor_kib == 142368
    assert plan_balloons(_host(20480), [_guest("g", 409600, 380000)], BalloonKnobs(floor_pct=10)).rows[0].floor_kib == (
        104858
    )  # need 29600 + 32768 = 62368, under 64 MiB: 65536, under 104858


# ----- shrinking: the ones with spare memory first -------------------------------------------------------


@pytest.mark.parametrize("usable", [131072, 131073])
def test_under_pressure_only_guests_with_spare_memory_give_first(usable: int) -> None:
    # A: 530000 (floor 524288, usable 300000: spare). B: 550000, floor 524288, usable at or just over a
    # quarter of it. 20480 KiB to give back.
    # B short: A alone gives what is above its floor, 5712 (530000 -> 524288); the rest waits.
    # B spare too: 5712 + 25712 - 20480 = 10944 above the floors after giving, 5472 each: both to 529760.
    # A's move of 240 KiB is under 0.25 % of 530000 (1325): it holds; B gives 20240.
    a = _guest("a", 530000, 300000)
    plan = plan_balloons(_host(-20480), [a, _guest("b", 550000, usable)])
    if usable == 131072:
        assert _rows(plan.rows) == {"a": ("shrink", 524288), "b": ("hold", 550000)}
        assert plan.rows[0].why == "shrink by 1000 of 2000 shares; guest has 293 MiB usable"
    else:
        assert _rows(plan.rows) == {"a": ("hold", 530000), "b": ("shrink", 529760)}
        assert plan.rows[0].why == "a move of 0 MiB is below 0.25 %"


def test_when_no_guest_has_spare_memory_the_short_ones_give() -> None:
    # B alone (usable = a quarter of its floor: short): it still gives the 20480 KiB (550000 -> 529520).
    plan = plan_balloons(_host(-20480), [_guest("b", 550000, 131072)])
    assert _rows(plan.rows) == {"b": ("shrink", 529520)}


def test_a_shrink_at_the_floor_holds_and_says_so() -> None:
    plan = plan_balloons(_host(-GIB), [_guest("g", 524288, 300000)])
    assert (plan.rows[0].action, plan.rows[0].why) == ("hold", "at its floor (512 MiB)")


# ----- moves too small to make ---------------------------------------------------------------------------


@pytest.mark.parametrize(("goal", "action"), [(20480, "grow"), (20479, "hold")])
def test_a_move_of_exactly_the_minimum_share_is_made(goal: int, action: str) -> None:
    # 5 % of 409600 KiB is 20480: a move of exactly that is made, 20479 is not. (Floor: alive 142368.)
    g = _guest("g", 409600, 300000)
    row = plan_balloons(_host(goal), [g], BalloonKnobs(min_change_pct=5, floor_pct=10)).rows[0]
    assert (row.action, row.new_kib) == (action, 409600 + 20480 if action == "grow" else 409600)
    if action == "hold":
        assert row.why == "a move of 20 MiB is below 5 %"
    else:
        assert row.why == "grow by 1000 of 1000 shares; guest has 293 MiB usable"


def test_rows_keep_the_order_the_guests_came_in() -> None:
    skipped = replace(_guest("s", 1, None), state="shut off")
    plan = plan_balloons(_host(20480), [_guest("z", 524288, 300000), skipped, _guest("a", 524288, 300000)])
    assert [r.name for r in plan.rows] == ["z", "s", "a"]
    assert [r.name for r in plan.moves] == ["z", "a"]


def test_a_step_never_gives_guests_more_than_the_hosts_room() -> None:
    # 120000 KiB of room, three guests with equal shares and floors of 524288: A at its floor, B 120000 over,
    # C 210000 over. Round one: 0 + 120000 + 210000 + 120000 = 450000 over the floors, 150000 each. A wants
    # +150000 but one step is +102400; B goes to its share, +30000; C is over its share and holds. That is
    # 132400, 12400 more than the room. Round two (A and B): 102400 + 150000 - 12400 = 240000, 120000 each:
    # B's share is now exactly where it started, so B comes back to 644288; the 17600 still free go to B
    # (its share is above that): A +102400, B +17600, C 0 = 120000, the room and not more (a 12400 KiB
    # overshoot would make the next step shrink again: more than the 10 MiB the policy lets be).
    guests = [_guest(name, 524288 + over, 224288 + over) for name, over in (("a", 0), ("b", 120000), ("c", 210000))]
    plan = plan_balloons(_host(120000), guests)
    assert _rows(plan.rows) == {"a": ("grow", 626688), "b": ("grow", 661888), "c": ("hold", 734288)}
    assert sum(r.delta_kib for r in plan.rows) == 120000


def test_a_step_never_takes_from_guests_more_than_the_host_needs() -> None:
    # The same under pressure, mirrored: 120000 KiB to give back. A 300000 over its floor (can give one step,
    # 102400), B 180000 over, C 90000 over (under its share: holds). Round one: 570000 - 120000 = 450000 over
    # the floors, 150000 each: A -102400 (capped), B -30000, C holds: 132400 taken. Round two (A, B):
    # 197600 + 150000 + 12400 = 360000, 180000 each: B's share is exactly its start, it comes back to 704288;
    # the 17600 still to give come from B: A -102400, B -17600 = -120000.
    guests = [_guest(name, 524288 + over, 224288 + over) for name, over in (("a", 300000), ("b", 180000), ("c", 90000))]
    plan = plan_balloons(_host(-120000), guests)
    assert _rows(plan.rows) == {"a": ("shrink", 721888), "b": ("shrink", 686688), "c": ("hold", 614288)}
    assert sum(r.delta_kib for r in plan.rows) == -120000
