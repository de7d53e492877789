"""The monitor's own registration of libvirt's job events, on the lab's hosts over SSH.

A domain migrating out shows no lifecycle event until its last pause: the watcher learns of a migration
another tool started from libvirt's MIGRATION_ITERATION and JOB_COMPLETED events, which the pollers
register beside the lifecycle events and report as `DomainChanged` ("migration-iteration" with the
pass number, "job-completed"). Here virsh migrates a guest while a `Monitor` (what `vmtui top`, `watch`
and `export` run) watches the source; the domain's UUID comes from virsh.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
from fixtures_lab import LabHandle

from vmtui.models import HostEntry
from vmtui.monitor.events import DomainChanged, HostConnected, MonitorEvent
from vmtui.monitor.watch import Monitor

pytestmark = [pytest.mark.lab, pytest.mark.timeout(240)]


@pytest.fixture
def idle_guest(lab: LabHandle) -> Iterator[str]:
    """An idle BIOS guest running on lab1; removed from every host at the end, also on failure."""
    with lab.idle_guest("lab1", "vmtui-test-jobev") as name:
        yield name


def _events_until(monitor: Monitor, done: subprocess.Popen[str], within: float) -> list[MonitorEvent]:
    """Every event the monitor reports until virsh's migration has returned (and a second more)."""
    seen: list[MonitorEvent] = []
    deadline = time.monotonic() + within
    ended_at: float | None = None
    while time.monotonic() < deadline and (ended_at is None or time.monotonic() < ended_at + 1.0):
        if ended_at is None and done.poll() is not None:
            ended_at = time.monotonic()
        event = monitor.next_event(0.1)
        if event is not None:
            seen.append(event)
    return seen


def test_a_migration_another_tool_starts_reaches_the_watcher_as_job_events(lab: LabHandle, idle_guest: str) -> None:
    uuid = lab.virsh("lab1", "domuuid", idle_guest).stdout.strip()
    with Monitor([HostEntry("lab1", lab.uris["lab1"])]) as monitor:
        deadline = time.monotonic() + 60
        while not isinstance(monitor.next_event(1.0), HostConnected):
            assert time.monotonic() < deadline, "the poller never connected to lab1"
        migration = subprocess.Popen(
            ["virsh", "-c", lab.uris["lab1"], "migrate", "--live", "--p2p", "--persistent", "--undefinesource",
             idle_guest, lab.uris["lab2"]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            seen = _events_until(monitor, migration, within=120)
        finally:
            if migration.poll() is None:
                migration.kill()
        _out, err = migration.communicate(timeout=30)
    assert migration.returncode == 0, err
    assert idle_guest in lab.virsh("lab2", "list", "--name").stdout  # it did move
    ours = [(e.event, e.detail) for e in seen if isinstance(e, DomainChanged) and e.uuid == uuid]
    assert all(e.host == "lab1" for e in seen if isinstance(e, DomainChanged))
    passes = [detail for event, detail in ours if event == "migration-iteration"]
    assert passes, f"no migration-iteration event: {ours}"
    assert passes == list(range(1, len(passes) + 1))  # QEMU counts passes from 1: one event each, in order
    assert ours.count(("job-completed", 0)) == 1, ours
    assert ours.index(("migration-iteration", passes[-1])) < ours.index(("job-completed", 0))
    assert "migrated" in [event for event, _ in ours]  # the lifecycle events still come beside them
