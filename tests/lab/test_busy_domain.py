"""One domain's long job does not stall its host's monitoring (RELIABILITY row 33), over SSH.

A slow incoming migration holds the target's new domain under libvirt's job for as long as it runs;
a bulk stats call that waits for it waited up to libvirt's 30 s job timeout, and every other guest of
the target went stale with it. Checked through the real `vmtui top`, against virsh's list of the target.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
from fixtures_lab import VMTUI, LabHandle

from vmtui.drivers import connect
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.lab import image

pytestmark = [pytest.mark.lab, pytest.mark.timeout(240)]


@pytest.fixture
def mover(lab: LabHandle) -> Iterator[str]:
    """A Linux guest on lab2 rewriting 32 MiB at 16 MiB/s: at 1 MiB/s its migration never ends by itself."""
    name = f"busy-test-{secrets.token_hex(2)}"
    linux = image.find_image()
    assert linux is not None, "the lab's Linux guest image is missing"
    spec = GuestSpec(
        name, memory_mib=128, domain_type="qemu", role="test", kernel=linux.kernel, initrd=linux.initrd,
        cmdline=linux.cmdline(32, 16),
    )  # fmt: skip
    try:
        with connect(lab.uris["lab2"]) as conn:
            conn.define_and_start(build_guest_xml(spec))
        yield name
    finally:
        for host in lab.names:
            with connect(lab.uris[host]) as conn:
                conn.destroy_and_undefine(name)


def _running(lab: LabHandle, host: str) -> set[str]:
    out = lab.virsh(host, "list", "--state-running", "--name")
    assert out.returncode == 0, out.stderr
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def test_an_incoming_migration_leaves_the_targets_other_guests_fresh(lab: LabHandle, mover: str) -> None:
    others = _running(lab, "lab1")
    assert others, "lab1 has no running guest to watch"
    env = {**os.environ, "VMTUI_HOME": str(lab.home)}
    migration = subprocess.Popen(
        [str(VMTUI), "migrate", mover, "lab1", "--bandwidth", "1", "--no-stall-policy", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        assert migration.stdout is not None
        for raw in migration.stdout:  # until the job runs: lab1 then holds the incoming half
            if json.loads(raw).get("type") == "progress":
                break
        # The incoming half is there, paused, under its migration job.
        assert lab.virsh("lab1", "domstate", mover).stdout.strip() == "paused"
        began = time.monotonic()
        proc = lab.vmtui("top", "-H", "lab1", "--json", "-n", "4", "-i", "1", timeout=120)
        took = time.monotonic() - began
        assert migration.poll() is None, "the migration ended while lab1 was watched: nothing was proved"
        assert lab.virsh("lab1", "domstate", mover).stdout.strip() == "paused"
    finally:
        if migration.poll() is None:
            os.killpg(migration.pid, signal.SIGINT)  # Ctrl-C: vmtui aborts the job, the source keeps running
        try:
            migration.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(migration.pid, signal.SIGKILL)
            migration.wait(timeout=10)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 4
    # Four samples a second apart: no sample waited for the migration's job (libvirt's wait is 30 s).
    assert took < 15, f"4 samples took {took:.1f} s"
    times = [line["time"] for line in lines]
    assert all(0.5 < b - a < 5 for a, b in zip(times, times[1:], strict=False)), times
    for line in lines:
        shown = {d["name"]: d for d in line["domains"]}
        # Every other guest of lab1 is in every sample, fresh (not busy), with its state from libvirt.
        for name in others:
            assert shown[name]["busy"] is False, shown[name]
            assert shown[name]["state"] == "running"
        # The incoming guest keeps its row, marked busy.
        assert shown[mover]["busy"] is True, shown[mover]
    # Rates need two samples of the same domain: the later samples have them for the others.
    assert all(d["cpu_pct"] is not None for d in lines[-1]["domains"] if d["name"] in others)
