"""The drain's overall progress and plan arithmetic, with figures worked out by hand."""

from __future__ import annotations

from vmtui.ops.drain import OverallProgress, lanes_seconds


def test_lanes_start_each_guest_when_a_lane_frees() -> None:
    # Two lanes: 4 and 3 start at 0; 2 follows the 3 (ends at 5); 1 follows the 4 (ends at 5): 5 s.
    assert lanes_seconds([4.0, 3.0, 2.0, 1.0], 2) == 5.0
    assert lanes_seconds([4.0, 3.0, 2.0, 1.0], 1) == 10.0
    assert lanes_seconds([], 2) == 0.0
    assert lanes_seconds([4.0, None], 2) is None


def test_the_eta_only_counts_down_and_the_fraction_only_grows() -> None:
    clock = [100.0]
    # Two guests of equal weight, 10 s forecast each, one lane: 20 s to go.
    overall = OverallProgress({"a": 1.0, "b": 1.0}, 1, {"a": 10.0, "b": 10.0}, clock=lambda: clock[0])
    assert overall.estimate() == (0.0, 20.0)
    overall.guest("a", 0.0, started=True)
    clock[0] = 102.0
    overall.guest("a", 0.1)  # 2 s for 10 %: a's own rate says 18 s more, plus b's 10: 28 s, later than 18
    assert overall.estimate() == (0.05, 18.0)  # the deadline holds; 2 s passed
    overall.guest("a", 0.05)  # a reading below the last is not progress backwards
    clock[0] = 104.0
    overall.guest("a", 0.5)  # 4 s for half: 4 s more, plus b's 10: 14 s, sooner than 16
    assert overall.estimate() == (0.25, 14.0)
    overall.done("a")
    clock[0] = 120.0
    assert overall.estimate() == (0.5, 0.0)  # past the deadline: 0, never a jump back up


def test_a_guest_without_forecast_takes_the_rate_the_drain_achieved() -> None:
    clock = [0.0]
    overall = OverallProgress({"a": 100.0, "b": 300.0}, 1, {"a": None, "b": None}, clock=lambda: clock[0])
    assert overall.estimate() == (0.0, None)
    overall.guest("a", 0.0, started=True)
    overall.guest("a", 0.5)
    clock[0] = 10.0
    overall.done("a")  # 100 bytes in 10 s: b's 300 bytes take 30 s
    assert overall.estimate() == (0.25, 30.0)


def test_the_exit_code_says_whether_all_some_or_none_moved() -> None:
    from vmtui.ops.drain import DrainPlan, DrainSummary, GuestOutcome
    from vmtui.ops.migrate import MigrationOptions

    def summary(*outcomes: str) -> int:
        plan = DrainPlan("lab1", ("lab2",), 2, MigrationOptions(), ())
        guests = tuple(GuestOutcome(f"g{i}", f"u{i}", "lab2", o, "") for i, o in enumerate(outcomes))
        return int(DrainSummary("lab1", plan, guests, 1.0).exit_code)

    assert summary("moved", "moved", "stays") == 0  # a shut-off guest stays by design
    assert summary("moved", "refused") == 7  # some moved: partial, as a bulk action
    assert summary("refused", "failed", "stays") == 1  # none moved
    assert summary("moved", "cancelled") == 130
    assert summary("moved", "unknown", "cancelled") == 6  # an unknown end outranks everything
    assert summary() == 0  # nothing ran on the host: nothing to move
