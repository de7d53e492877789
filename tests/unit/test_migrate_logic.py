"""The migration's pure parts: the forecast's arithmetic, the stall policy's steps, the domain XML facts.

Expected values are worked out by hand in the comments (geometric passes, the step table of the issue),
not recomputed with the code's own formulas.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from vmtui.drivers.xml.migrate import read_migration_xml
from vmtui.errors import OperationError, UsageError
from vmtui.models import DomainPresence, JobStats
from vmtui.ops.migrate import MigrationOptions
from vmtui.ops.migrate.forecast import forecast, live_estimate
from vmtui.ops.migrate.history import orphaned
from vmtui.ops.migrate.job import Facts, ForecastInputs, JobRun, worth_measuring
from vmtui.ops.migrate.outcome import P2P_HINT, decide
from vmtui.ops.migrate.policy import StallPolicy

MIB = 1048576


def test_forecast_converging_guest_passes_by_hand() -> None:
    # 100 MiB at 20 MiB/s while the guest dirties 10 MiB/s (r = 0.5), max downtime 300 ms:
    # passes of 5, 2.5, 1.25, 0.625, 0.3125 s, then 3.125 MiB left = 0.15625 s <= 0.3 s: 6 passes,
    # 9.84375 s in all, 156.25 ms of downtime.
    fc = forecast(100 * MIB, 10 * MIB, 20 * MIB, max_downtime_ms=300, bandwidth_source="cap")
    assert fc.converges is True
    assert fc.passes == 6
    assert fc.seconds == pytest.approx(9.84375)
    assert fc.downtime_ms == pytest.approx(156.25)
    assert fc.needs is None


def test_forecast_guest_dirtying_as_fast_as_the_link_never_converges() -> None:
    # The case: 384 MiB, 200 MiB dirtied at 20 MiB/s over a 20 MiB/s link (r = 1).
    fc = forecast(384 * MIB, 20 * MIB, 20 * MIB, max_downtime_ms=100, bandwidth_source="cap")
    assert fc.converges is False
    assert fc.needs is not None
    assert "post-copy" in fc.needs
    assert "auto-converge" in fc.needs
    allowed = forecast(384 * MIB, 20 * MIB, 20 * MIB, max_downtime_ms=100, bandwidth_source="cap", postcopy=True)
    assert allowed.converges is True
    assert allowed.needs is not None
    assert allowed.needs.startswith("post-copy")


def test_forecast_that_needs_the_longer_pause_of_the_last_step() -> None:
    # 10 MiB at 20 MiB/s: the first pass takes 0.5 s, and the guest (25 MiB/s) dirties all of it again.
    # It never fits in 100 ms, but the whole 10 MiB fits in 500 ms: one pass, paused for 500 ms.
    fc = forecast(10 * MIB, 25 * MIB, 20 * MIB, max_downtime_ms=100, bandwidth_source="cap")
    assert fc.converges is True
    assert fc.passes == 1
    assert fc.downtime_ms == pytest.approx(500)
    assert fc.needs is not None
    assert "max downtime" in fc.needs


def test_forecast_idle_guest_and_unknowns() -> None:
    idle = forecast(128 * MIB, 0.0, 64 * MIB, max_downtime_ms=100, bandwidth_source="measured")
    assert (idle.converges, idle.passes) == (True, 1)
    assert idle.seconds == pytest.approx(2.0)  # 128 MiB at 64 MiB/s
    assert forecast(128 * MIB, None, 64 * MIB, max_downtime_ms=100, bandwidth_source="cap").converges is None
    unknown_link = forecast(128 * MIB, 5 * MIB, None, max_downtime_ms=100, bandwidth_source="unknown")
    assert unknown_link.converges is None
    assert "5 MiB" in unknown_link.verdict


def test_live_estimate() -> None:
    # 100 of 400 MiB left at 20 MiB/s while 10 MiB/s is dirtied: gaining 10 MiB/s -> 10 s to go;
    # stopping now would pause for 100 / 20 = 5 s.
    stats = JobStats("unbounded", "migration-out", data_total=400 * MIB, data_remaining=100 * MIB,
                     memory_bps=20 * MIB, dirty_rate_pages=10 * MIB // 4096)  # fmt: skip
    est = live_estimate(stats)
    assert est.fraction == pytest.approx(0.75)
    assert est.eta_s == pytest.approx(10.0)
    assert est.expected_downtime_ms == pytest.approx(5000.0)
    stalled = JobStats("unbounded", data_total=400, data_remaining=100, memory_bps=10, dirty_rate_pages=1)
    assert live_estimate(stalled).eta_s is None  # 4096 B/s dirtied > 10 B/s sent: no end in sight


def _pass(iteration: int, remaining_mib: float, *, total_mib: int = 400, bps_mib: int = 20) -> JobStats:
    return JobStats(
        "unbounded", "migration-out", memory_total=total_mib * MIB, memory_remaining=int(remaining_mib * MIB),
        memory_bps=bps_mib * MIB, iteration=iteration,
    )  # fmt: skip


def _run(policy: StallPolicy, passes: list[JobStats]) -> list[tuple[str, int]]:
    return [(a.kind, a.downtime_ms) for stats in passes for a in policy.observe(stats)]


STALLING = [_pass(1, 390), _pass(2, 195), *[_pass(i, 196 + (i % 2)) for i in range(3, 11)]]
"""The lab's measured shape: a full first pass, then ~195 MiB left at every pass start."""


def test_stall_policy_steps_the_downtime_then_switches_to_postcopy() -> None:
    policy = StallPolicy(start_ms=100, postcopy=True)
    assert _run(policy, STALLING) == [
        ("downtime", 150), ("downtime", 200), ("downtime", 300), ("downtime", 400), ("downtime", 500),
        ("postcopy", 500),
    ]  # fmt: skip
    assert policy.finished


def test_stall_policy_aborts_without_postcopy_and_only_reports_when_off() -> None:
    assert _run(StallPolicy(start_ms=100, postcopy=False), STALLING)[-1] == ("abort", 500)
    off = _run(StallPolicy(start_ms=100, postcopy=True, enabled=False), STALLING)
    assert off == [("stalled", 100)] * 8  # passes 3..10 each reported, nothing changed


def test_stall_policy_starts_above_the_users_downtime() -> None:
    assert _run(StallPolicy(start_ms=300, postcopy=False), STALLING) == [("downtime", 400), ("downtime", 500),
                                                                          ("abort", 500)]  # fmt: skip


def test_stall_policy_leaves_converging_and_nearly_done_jobs_alone() -> None:
    converging = [_pass(1, 390), _pass(2, 200), _pass(3, 100), _pass(4, 50), _pass(5, 25)]
    assert _run(StallPolicy(start_ms=100, postcopy=True), converging) == []
    # An idle guest: nothing left at every pass start; a reading within the same pass is not a new pass.
    idle = [_pass(1, 120), _pass(2, 0), _pass(2, 0), _pass(3, 0.01), _pass(4, 0)]
    assert _run(StallPolicy(start_ms=100, postcopy=True), idle) == []


def test_options_refused_before_any_call() -> None:
    for bad in (
        MigrationOptions(bandwidth_mib_s=0),
        MigrationOptions(max_downtime_ms=0),
        MigrationOptions(parallel=1),
        MigrationOptions(tunnelled=True, parallel=4),
        MigrationOptions(tunnelled=True, postcopy=True),
    ):
        with pytest.raises(UsageError):
            bad.validate()
    spec = MigrationOptions(temporary=True, bandwidth_mib_s=20, postcopy=True).spec()
    assert (spec.persist, spec.undefine_source, spec.bandwidth_mib_s, spec.postcopy) == (False, False, 20, True)


DOMAIN_XML = """<domain type='kvm'><name>web</name>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <cpu mode='custom' match='exact'><model fallback='forbid'>Skylake-Client</model></cpu>
  <devices>
    <disk type='file' device='disk'><source file='/var/lib/libvirt/images/web.qcow2'/><target dev='vda'/></disk>
    <disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='sda'/><readonly/></disk>
    <disk type='network' device='disk'><source protocol='rbd' name='pool/web-data'/><target dev='vdb'/></disk>
    <disk type='file' device='disk'><target dev='vdc'/></disk>
  </devices></domain>"""


def test_migration_facts_of_a_domain_xml() -> None:
    facts = read_migration_xml(DOMAIN_XML)
    assert (facts.virt_type, facts.arch, facts.machine, facts.cpu_mode) == ("kvm", "x86_64", "pc-q35-7.2", "custom")
    assert facts.cpu_xml is not None
    assert "Skylake-Client" in facts.cpu_xml
    assert [(d.target, d.path) for d in facts.disks] == [("vda", "/var/lib/libvirt/images/web.qcow2")]
    assert facts.network_disks == ("vdb",)
    bare = read_migration_xml("<domain type='qemu'><name>x</name><cpu><topology sockets='1'/></cpu></domain>")
    assert bare.cpu_xml is None  # topology only: nothing a target could refuse


def test_a_job_note_is_orphaned_once_its_vmtui_is_dead_a_zombie_or_its_pid_reused() -> None:
    assert not orphaned({"pid": os.getpid(), "noted_at": time.time()})
    # A killed worker whose parent died too is never reaped where PID 1 does not reap: a zombie is gone.
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while open(f"/proc/{child.pid}/stat").read().split(") ")[1][0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert orphaned({"pid": child.pid, "noted_at": time.time()})
    child.wait()
    assert orphaned({"pid": child.pid, "noted_at": time.time()})  # reaped: no such process
    # A living process started after the note was written is not the vmtui that wrote it.
    assert orphaned({"pid": os.getpid(), "noted_at": time.time() - 10 * 365 * 86400})
    assert orphaned({"noted_at": time.time()})


# RELIABILITY #23: an ambiguous end (job type NONE, a call that returned or raised) is decided from where
# the domain is afterwards, never from the call's return alone.
UUID = "6f1e0c7a-0000-4000-8000-000000000001"
RUNNING = DomainPresence(UUID, True, "running", "unpaused", persistent=True)
ARRIVING = DomainPresence(UUID, True, "running", "migrated", persistent=False)
ABSENT = DomainPresence(UUID, False)


def _decide(source: DomainPresence | None, target: DomainPresence | None, **run: object) -> tuple[str, str, str | None]:
    return decide(Facts(source, target, "source gone", "target gone"), JobRun(**run), "db1", "kvm1", "kvm2")  # type: ignore[arg-type]


def test_a_call_that_returned_but_left_the_source_running_is_a_failure() -> None:
    outcome, message, _ = _decide(RUNNING, ARRIVING)
    assert outcome == "failed"
    assert message == "migration of db1 failed: it keeps running on kvm1; kvm2 still holds its half (running)"


def test_a_call_that_raised_after_the_switch_over_is_a_completion() -> None:
    said = OperationError("connection reset by peer")
    outcome, message, _ = _decide(ABSENT, ARRIVING, call_error=said)
    assert (outcome, message) == ("completed", "db1 runs on kvm2")
    # The source could not be asked either: the target's word decides, and the error is kept.
    outcome, message, _ = _decide(None, ARRIVING, call_error=said)
    assert outcome == "completed"
    assert message == "db1 runs on kvm2; kvm1 could not be asked (libvirt: connection reset by peer)"


def test_a_domain_on_neither_host_is_lost_and_nowhere_known_is_unknown() -> None:
    assert _decide(ABSENT, ABSENT)[0] == "lost"
    outcome, message, hint = _decide(None, None)
    assert outcome == "unknown"
    assert message == "db1: the end is unknown: kvm1 could not be asked (source gone); kvm2: unknown (target gone)"
    assert hint == "once kvm1 answers, `vmtui migrate jobs` settles it"


# RELIABILITY #30: the source's daemon died mid-way; the target holds the incoming half, paused for the
# migration (virsh domstate --reason: "paused (migrating)"). Worked by hand: nothing says the guest moved.
INCOMING_HALF = DomainPresence(UUID, True, "paused", "migration", persistent=False)


def test_a_target_paused_for_the_migration_with_the_source_silent_is_unknown_not_completed() -> None:
    outcome, message, hint = _decide(None, INCOMING_HALF, call_error=OperationError("End of file while reading data"))
    assert outcome == "unknown"
    assert message == (
        "db1: the end is unknown: kvm1 could not be asked (source gone); kvm2 holds only the incoming half "
        "(paused (migration)) (libvirt: End of file while reading data)"
    )
    assert hint == "once kvm1 answers, `vmtui migrate jobs` settles it"
    # The source gone with the target still waiting for the rest: not a completion either.
    assert _decide(ABSENT, INCOMING_HALF)[0] == "unknown"
    # Settled once the source answers: it runs there -> failed; it left and the target runs it -> completed.
    assert _decide(RUNNING, INCOMING_HALF)[0] == "failed"
    assert _decide(ABSENT, ARRIVING)[:2] == ("completed", "db1 runs on kvm2")


def test_a_paused_guest_arrives_paused_and_is_said_so() -> None:
    paused_there = DomainPresence(UUID, True, "paused", "user", persistent=True)
    assert _decide(ABSENT, paused_there)[:2] == ("completed", "db1 is paused on kvm2")
    assert _decide(None, paused_there)[:2] == ("completed", "db1 is paused on kvm2; kvm1 could not be asked")
    paused_here = DomainPresence(UUID, True, "paused", "user", persistent=True)
    assert _decide(paused_here, ABSENT)[1] == "migration of db1 failed: it stays paused on kvm1"


def test_the_hint_follows_the_cause_of_the_failure() -> None:
    # libvirt's own words (qemu_migration.c, virnetsocket.c, qemu_migration.c's job errors).
    unreachable = OperationError(
        "migrate on qemu+ssh://10.0.0.1/system: operation failed: Failed to connect to remote libvirt URI "
        "qemu+ssh://10.0.0.2/system: Cannot recv data: ssh: connect to host 10.0.0.2 port 22: No route to host"
    )
    assert _decide(RUNNING, ABSENT, call_error=unreachable)[2] == P2P_HINT
    aborted = OperationError("migrate on qemu:///system: operation aborted: job 'migration out' canceled by client")
    assert _decide(RUNNING, ABSENT, call_error=aborted) == (
        "failed", "migration of db1 aborted by another client: it keeps running on kvm1", None,
    )  # fmt: skip
    assert _decide(RUNNING, ABSENT, call_error=aborted, cancel_requested=True)[2] is None
    qemu_log = "QEMU failed the job: its log on each host says why (/var/log/libvirt/qemu/db1.log)"
    qemu = OperationError("migrate on qemu:///system: operation failed: job 'migration out' failed: "
                          "Unable to write to socket: Connection reset by peer")  # fmt: skip
    assert _decide(RUNNING, ABSENT, call_error=qemu)[2] == qemu_log
    # With --persistent, libvirt's call says only "End of file" (the peer connection): the job's own end,
    # read on the source while libvirt shows it, tells a QEMU failure from an abort by another client.
    eof = OperationError("migrate on qemu+ssh://10.0.0.1/system: End of file while reading data: : Input/output error")
    assert _decide(RUNNING, ABSENT, call_error=eof)[2] == (
        "libvirt gave no reason: the libvirtd log of each host and the domain's QEMU log "
        "(/var/log/libvirt/qemu/db1.log) say why"
    )
    assert _decide(RUNNING, ABSENT, call_error=eof, end_type="failed")[2] == qemu_log
    assert _decide(RUNNING, ABSENT, call_error=eof, end_type="cancelled") == (
        "failed", "migration of db1 aborted by another client: it keeps running on kvm1", None,
    )  # fmt: skip
    assert _decide(RUNNING, ABSENT, call_error=OperationError("something else"))[2] is None


def test_an_abort_the_user_asked_for_ends_cancelled_with_the_source_running() -> None:
    assert _decide(RUNNING, ABSENT, cancel_requested=True)[:2] == (
        "cancelled",
        "migration of db1 aborted: it keeps running on kvm1",
    )


def _inputs(memory_mib: int, bandwidth_mib_s: int | None) -> ForecastInputs:
    bandwidth = bandwidth_mib_s * MIB if bandwidth_mib_s else None
    return ForecastInputs(memory_mib * MIB, bandwidth, "cap" if bandwidth else "unknown", False, False)


def test_dirty_rate_is_measured_only_when_the_first_pass_should_last_over_three_seconds() -> None:
    # 384 MiB at a 20 MiB/s cap: a 19.2 s first pass, worth an early forecast.
    assert worth_measuring(_inputs(384, 20)) is True
    # 60 MiB at 20 MiB/s: 3.0 s, not over 3 s (the pass ends about when a measurement would).
    assert worth_measuring(_inputs(60, 20)) is False
    # 61 MiB: 3.05 s.
    assert worth_measuring(_inputs(61, 20)) is True
    # An idle guest's 46 MiB touched, at the 150 MiB/s the last migration between the hosts made: 0.3 s.
    assert worth_measuring(_inputs(46, 150)) is False
    # Nothing tells the bandwidth (no cap, no earlier migration): measure, as the pass may be long.
    assert worth_measuring(_inputs(46, None)) is True
