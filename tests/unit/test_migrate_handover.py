"""The thread contract of a migration: only the monitor thread writes the JobRun.

libvirt's event thread (iterations, the source's JOB_COMPLETED) and the migrate-call thread (libvirt's
blocking call) post to a `JobHandover`; the monitor takes each post once, in the order posted. Here the
test starts both threads itself beside the real `monitor` and the real `call_migrate`, over a stand-in
source, and the JobRun notes every write with the thread that made it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from vmtui.drivers.base import Migrator
from vmtui.errors import OperationError
from vmtui.models import JobStats, MigrateSpec
from vmtui.ops.base import Step
from vmtui.ops.migrate.job import JobHandover, JobRun, call_migrate, monitor

UUID = "6f1e0c7a-0000-4000-8000-000000000001"
OTHER = "6f1e0c7a-0000-4000-8000-000000000002"
GIB = 1024**3
COMPLETED = JobStats("completed", "migration-out", data_total=GIB, data_remaining=0, iteration=4, downtime_ms=42)
CALL_ERROR = OperationError("End of file while reading data: Input/output error")
"""What libvirt's call says when the peer connection drops after the job itself completed."""


class WatchedRun(JobRun):
    """A JobRun that notes each write made after it was built: the field, the value, the writing thread."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, object, int]] = []

    def __setattr__(self, name: str, value: object) -> None:
        if "writes" in self.__dict__:
            self.writes.append((name, value, threading.get_ident()))
        super().__setattr__(name, value)

    def handed_over(self) -> list[tuple[str, object]]:
        return [(name, value) for name, value, _ in self.writes if name in ("completed", "call_error")]


@dataclass
class StandInSource:
    """The source as the monitor and the call thread use it; `reading(n)` runs inside the n-th job reading."""

    reading: Callable[[int], None]
    call_may_end: threading.Event = field(default_factory=threading.Event)
    readings: int = 0

    def job_stats(self, ident: str, *, completed: bool = False) -> JobStats:
        assert ident == UUID
        self.readings += 1
        self.reading(self.readings)
        left = max(GIB - self.readings * 64 * 1048576, 1)
        return JobStats("unbounded", "migration-out", data_total=GIB, data_remaining=left, iteration=1)

    def migrate(self, ident: str, dest_uri: str, spec: MigrateSpec) -> None:
        assert (ident, dest_uri) == (UUID, "qemu+ssh://kvm2/system")
        assert self.call_may_end.wait(30), "the test never let the call end"
        raise CALL_ERROR


def libvirt_events(handover: JobHandover, iterations: int, then: threading.Event) -> None:
    """What libvirt's event thread calls: iterations (some of another domain), then JOB_COMPLETED."""
    for number in range(1, iterations + 1):
        handover.job_event(UUID.upper() if number % 2 else UUID, "migration-iteration", number, None)
        handover.job_event(OTHER, "migration-iteration", number, None)
    handover.job_event(OTHER, "job-completed", 0, JobStats("completed", iteration=99))
    handover.job_event(UUID, "job-completed", 0, COMPLETED)
    then.set()  # libvirt fires JOB_COMPLETED before the call returns


def run_job(
    reading: Callable[[int], None], handover: JobHandover, source: StandInSource
) -> tuple[WatchedRun, list[Step]]:
    run = WatchedRun()
    steps: list[Step] = []
    call = threading.Thread(
        target=call_migrate, args=(cast(Migrator, source), UUID, "qemu+ssh://kvm2/system", MigrateSpec(), handover)
    )
    call.start()
    monitor(cast(Migrator, source), UUID, run, handover=handover, policy=None, progress=steps.append,
            cancel=threading.Event())  # fmt: skip
    call.join(30)
    return run, steps


def assert_monitor_took_each_post_once_in_order(run: WatchedRun, steps: list[Step]) -> None:
    monitor_thread = threading.get_ident()
    assert {thread for _, _, thread in run.writes} == {monitor_thread}, "a JobRun write from another thread"
    assert run.handed_over() == [("completed", COMPLETED), ("call_error", CALL_ERROR)]
    # The completed figures are shown at most once (iteration 4 is only in COMPLETED; the readings say
    # pass 1); not at all when the call ended before the monitor's next look (the result still has them).
    assert [s.data.get("iteration") for s in steps].count(4) <= 1


def test_posts_that_arrive_while_the_monitor_is_between_two_looks_are_taken_after_the_loop() -> None:
    # The hardest interleaving, made certain: inside the monitor's third job reading (after that
    # wake's drain), the event thread sends its events and the call thread ends, and the reading
    # returns only once the call's end is posted. The loop then stops at its next check, with both
    # posts still waiting: only the drain after the loop can take them.
    handover = JobHandover(UUID)
    source = StandInSource(lambda _n: None)

    def third_reading_lets_the_others_speak(n: int) -> None:
        if n != 3:
            return
        events = threading.Thread(target=libvirt_events, args=(handover, 5, source.call_may_end), name="libvirt events")
        events.start()
        events.join(30)
        while handover.call_running():
            threading.Event().wait(0.001)

    source.reading = third_reading_lets_the_others_speak
    run, steps = run_job(source.reading, handover, source)
    assert source.readings == 3  # the monitor asked nothing after the call had ended
    assert_monitor_took_each_post_once_in_order(run, steps)


def race_once() -> int:
    """One job: a first iteration wakes the monitor; once it reads the job, the event thread floods
    iterations while the monitor reads and drains, then posts JOB_COMPLETED and lets the call end.
    Returns how often the completed figures were shown."""
    handover = JobHandover(UUID)
    reading = threading.Event()
    source = StandInSource(lambda _n: reading.set())

    def event_thread() -> None:
        handover.job_event(UUID, "migration-iteration", 1, None)
        assert reading.wait(30)
        libvirt_events(handover, 200, source.call_may_end)

    events = threading.Thread(target=event_thread, name="libvirt events")
    events.start()
    run, steps = run_job(source.reading, handover, source)
    events.join(30)
    assert_monitor_took_each_post_once_in_order(run, steps)
    return [s.data.get("iteration") for s in steps].count(4)


def test_events_and_the_call_end_racing_with_the_monitor_reach_it_once_each() -> None:
    # No orchestration past the start; repeated to meet many interleavings.
    shown = sum(race_once() for _round in range(40))
    assert shown > 0  # the monitor did look while the posts came in (not only after the call ended)


@dataclass
class EarlySource(StandInSource):
    """A source whose job begins only after a while: an abort before that finds no job (libvirt's refusal)."""

    begun: threading.Event = field(default_factory=threading.Event)
    aborts: list[bool] = field(default_factory=list)

    def abort_job(self, ident: str) -> None:
        if not self.begun.is_set():
            self.aborts.append(False)
            self.begun.set()  # the call gets there right after this refusal
            raise OperationError("Requested operation is not valid: no job is active on the domain")
        self.aborts.append(True)
        self.call_may_end.set()  # libvirt's call then ends (as cancelled)


def test_a_cancel_before_the_job_has_begun_is_asked_again_until_libvirt_takes_it() -> None:
    # Ctrl-C in the first moments (a drain's queued guest starting as the user presses it): the first
    # abort finds no job yet; without asking again, the job would then run to its end unwatched.
    handover = JobHandover(UUID)
    source = EarlySource(lambda _n: None)
    run = JobRun()
    cancel = threading.Event()
    cancel.set()
    call = threading.Thread(
        target=call_migrate, args=(cast(Migrator, source), UUID, "qemu+ssh://kvm2/system", MigrateSpec(), handover)
    )
    call.start()
    monitor(cast(Migrator, source), UUID, run, handover=handover, policy=None, progress=lambda _s: None,
            cancel=cancel)  # fmt: skip
    call.join(30)
    assert source.aborts == [False, True]
    assert run.cancel_requested
    assert run.abort_taken
