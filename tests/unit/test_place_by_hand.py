"""Placement: the room score and the order `vmtui place` shows hosts in, worked out by hand.

score = 0.6 x (memory left after placing / host total) + 0.4 x (idle CPU share), rounded to 3 digits.
"""

from __future__ import annotations

import pytest
from recorded_migrator import UUID, RecordedHost, as_migrator

from vmtui.errors import OperationError
from vmtui.models import Accelerator, DomainInfo
from vmtui.ops.migrate.precheck import Check, PrecheckReport
from vmtui.ops.place import Placement, assess, cpu_busy_pct, rank, score

GIB = 1048576
PASSED = PrecheckReport("web", "u", "src", "dst", (Check("memory", "enough free memory on the target", "ok", ""),))
FAILED = PrecheckReport("web", "u", "src", "dst", (Check("memory", "enough free memory on the target", "fail", ""),))
INFO = DomainInfo(UUID, "web", 1, "running", Accelerator.KVM, 1, GIB, GIB, True)


def _candidate(
    host: str = "b",
    *,
    after: int | None = 4 * GIB,
    total: int | None = 8 * GIB,
    busy: float | None = 0.0,
    checks: PrecheckReport | None = PASSED,
    current: bool = False,
    reachable: bool = True,
) -> Placement:
    return Placement(host, current, reachable, total, None, after, busy, checks)


def test_memory_left_weighs_sixty_and_idle_cpu_forty() -> None:
    # Half the memory left, CPU all idle: 0.6 x 0.5 + 0.4 x 1 = 0.7.
    assert score(_candidate(after=4 * GIB, busy=0.0)) == 0.7
    # All the memory left, CPU all busy: 0.6 x 1 + 0 = 0.6.
    assert score(_candidate(after=8 * GIB, busy=100.0)) == 0.6
    # 1 of 7 GiB left, CPU 25 % busy: 0.6/7 + 0.4 x 0.75 = 0.0857142... + 0.3 = 0.386 (3 digits).
    assert score(_candidate(after=GIB, total=7 * GIB, busy=25.0)) == 0.386


def test_an_unknown_cpu_load_counts_as_busy_and_unknown_memory_as_full() -> None:
    # Busy unknown: no idle CPU credited: 0.6 x 0.5 = 0.3 (not the 0.7 of an idle host).
    assert score(_candidate(after=4 * GIB, busy=None)) == 0.3
    # Memory after placing unknown, or the total unknown or 0: no memory credited: 0.4 x 1 = 0.4.
    assert score(_candidate(after=None)) == 0.4
    assert score(_candidate(total=None)) == 0.4
    assert score(_candidate(total=0)) == 0.4
    # More needed than available: nothing left, not a negative share: 0.4.
    assert score(_candidate(after=-GIB)) == 0.4


def test_hosts_that_cannot_take_it_have_no_score() -> None:
    assert score(_candidate(checks=FAILED)) is None
    assert score(_candidate(checks=None)) is None
    assert score(_candidate(current=True)) is None
    assert score(_candidate(reachable=False)) is None


def test_rank_puts_roomy_hosts_first_then_refusals_then_the_current_host() -> None:
    here = _candidate("a-here", current=True)
    refused = _candidate("b-refused", checks=FAILED)
    gone = _candidate("a-gone", reachable=False, checks=None)
    roomy = _candidate("z-roomy", after=8 * GIB, busy=0.0)  # 1.0
    tight = _candidate("c-tight", after=GIB, busy=0.0)  # 0.6/8 + 0.4 = 0.475
    tie = _candidate("d-tight", after=GIB, busy=0.0)  # the same score: by name
    full = _candidate("zz-full", after=0, busy=100.0)  # 0.0: can take it, with no room to spare
    ranked = rank([here, full, refused, tight, gone, tie, roomy])
    assert [(p.host, p.score) for p in ranked] == [
        ("z-roomy", 1.0), ("c-tight", 0.475), ("d-tight", 0.475), ("zz-full", 0.0), ("a-gone", None),
        ("b-refused", None), ("a-here", None),
    ]  # fmt: skip


def test_cpu_busy_is_the_non_idle_share_of_the_counters_growth() -> None:
    # Growth: user 300, kernel 100, idle 400, iowait 200 of 1000 ns: 400 busy = 40 %.
    host = RecordedHost(cpu_readings=[{"user": 100, "kernel": 100, "idle": 600, "iowait": 200},
                                      {"user": 400, "kernel": 200, "idle": 1000, "iowait": 400}])  # fmt: skip
    assert cpu_busy_pct(as_migrator(host), 0) == 40.0
    # A counter missing from the first reading grew from 0; one that went down (reset) is not counted:
    # total 100 (user) + 300 (idle) = 400, idle 300: 25 %.
    reset = RecordedHost(cpu_readings=[{"kernel": 500, "idle": 0}, {"user": 100, "kernel": 0, "idle": 300}])
    assert cpu_busy_pct(as_migrator(reset), 0) == 25.0
    # Idle going backwards cannot make it more than 100 % busy: total 100 (user), idle -100: capped at 100.
    backwards = RecordedHost(cpu_readings=[{"user": 0, "idle": 500}, {"user": 100, "idle": 400}])
    assert cpu_busy_pct(as_migrator(backwards), 0) == 100.0
    # No idle counter at all: only iowait is idle: 100 of 500 ns, 80 % busy.
    no_idle = RecordedHost(cpu_readings=[{"user": 0, "kernel": 0, "iowait": 0}, {"user": 300, "kernel": 100,
                                                                                  "iowait": 100}])  # fmt: skip
    assert cpu_busy_pct(as_migrator(no_idle), 0) == 80.0
    # One busy nanosecond is enough to tell (100 %); all idle is 0 %.
    assert cpu_busy_pct(as_migrator(RecordedHost(cpu_readings=[{"user": 0}, {"user": 1}])), 0) == 100.0
    assert cpu_busy_pct(as_migrator(RecordedHost(cpu_readings=[{"idle": 0}, {"idle": 9}])), 0) == 0.0


def test_cpu_busy_is_unknown_without_counters_or_growth() -> None:
    assert cpu_busy_pct(as_migrator(RecordedHost(cpu_readings=[{}, {"idle": 5}])), 0) is None
    assert cpu_busy_pct(as_migrator(RecordedHost(cpu_readings=[{"idle": 5}, {}])), 0) is None
    assert cpu_busy_pct(as_migrator(RecordedHost(cpu_readings=[{"idle": 5}, {"idle": 5}])), 0) is None


MEMORY = {"total": 8 * GIB, "free": 2 * GIB, "buffers": 512 * 1024, "cached": 1536 * 1024}
"""4 GiB available: free 2 GiB + buffers 0.5 GiB + page cache 1.5 GiB."""
CPU = [{"user": 0, "idle": 0}, {"user": 1, "idle": 3}]
"""25 % busy."""


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The intervals `cpu_busy_pct` sleeps between its two readings, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr("vmtui.ops.place.time.sleep", slept.append)
    return slept


def test_assess_a_target_its_source_and_an_unreachable_host(waits: list[float]) -> None:
    src = as_migrator(RecordedHost())
    target = assess(src, INFO, "dst", as_migrator(RecordedHost(memory=MEMORY, cpu_readings=CPU)), source="src")
    # The 1 GiB guest needs 1 GiB + 64 MiB = 1114112 KiB: 4194304 - 1114112 = 3080192 KiB left.
    assert (target.current, target.reachable, target.memory_total_kib, target.memory_available_kib) == (
        False, True, 8 * GIB, 4 * GIB,
    )  # fmt: skip
    assert (target.memory_after_kib, target.cpu_busy_pct) == (3080192, 25.0)
    assert target.prechecks is not None
    assert target.reason == target.prechecks.summary() == "all pre-checks passed"
    assert (target.host, target.prechecks.source, target.prechecks.target) == ("dst", "src", "dst")
    here = assess(src, INFO, "src", as_migrator(RecordedHost(memory=MEMORY, cpu_readings=CPU)), source="src")
    assert (here.current, here.reachable, here.memory_available_kib, here.memory_after_kib) == (True, True, 4 * GIB,
                                                                                                 4 * GIB)  # fmt: skip
    assert (here.host, here.memory_total_kib, here.cpu_busy_pct, here.prechecks, here.reason) == (
        "src", 8 * GIB, 25.0, None, "runs here now",
    )  # fmt: skip
    gone = assess(src, INFO, "far", OperationError("no route to host"), source="src")
    assert (gone.host, gone.current, gone.reachable, gone.reason) == ("far", False, False, "no route to host")
    assert gone.prechecks is not None
    assert (gone.prechecks.source, gone.prechecks.target) == ("src", "far")
    assert [c.status for c in gone.prechecks.checks][:2] == ["fail", "skipped"]
    assert gone.to_json()["prechecks"]["target"] == "far"
    assert target.to_json()["memory_after_kib"] == 3080192
    assert here.to_json()["prechecks"] is None
    assert waits == [0.5, 0.5]  # CPU load over half a second on each reachable host


def test_assess_without_free_memory_figures_leaves_the_room_unknown(waits: list[float]) -> None:
    src = as_migrator(RecordedHost())
    target = assess(src, INFO, "dst", as_migrator(RecordedHost(memory={"total": 8 * GIB}, cpu_readings=CPU)),
                    source="src")  # fmt: skip
    assert (target.memory_available_kib, target.memory_after_kib) == (None, None)
