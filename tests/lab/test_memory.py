"""Ballooning and KSM on the lab's real hosts, through the real CLI, checked with virsh and sysfs.

`lab1-linux` (TCG, 256 MiB, virtio_balloon loaded) is ballooned down and up; the BIOS guests have a
balloon device and no driver. KSM is one per kernel and shared with everyone on the machine: the KSM
test records every value it may change and puts each back in a `finally`, also when it fails.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures_lab import LabHandle
from lxml import etree
from pty_run import ctrl_c_and_finish, run_as_foreground_job

from vmtui.drivers import connect
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.lab import image

pytestmark = pytest.mark.lab

LINUX = "lab1-linux"
BIOS = "lab1-tcg-e1000"
KSM = Path("/sys/kernel/mm/ksm")
FULL_KIB = 256 * 1024


def _virsh(lab: LabHandle, *args: str) -> str:
    uri = f"qemu+tcp://{lab.host('lab1').address}/system"
    return subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, check=True).stdout


def _memstat(lab: LabHandle, name: str) -> dict[str, int]:
    out = _virsh(lab, "dommemstat", name)
    return {k: int(v) for k, v in (line.split() for line in out.splitlines() if line.strip())}


def _current_memory(lab: LabHandle, name: str) -> int:
    match = re.search(r"<currentMemory unit='KiB'>(\d+)</currentMemory>", _virsh(lab, "dumpxml", name))
    assert match
    return int(match.group(1))


def _until(what: str, check: Callable[[], bool], within: float = 60.0) -> None:
    """Wait for the real stack to get there; the deadline only keeps a broken run from hanging."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.5)


def _json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def linux_full(lab: LabHandle) -> Iterator[None]:
    """lab1-linux at its full 256 MiB before and after the test, whatever the test did."""
    _virsh(lab, "setmem", LINUX, str(FULL_KIB), "--live")
    _until("lab1-linux back at 256 MiB", lambda: _memstat(lab, LINUX).get("actual") == FULL_KIB)
    try:
        yield
    finally:
        _virsh(lab, "setmem", LINUX, str(FULL_KIB), "--live")


def _fresh_available(lab: LabHandle, since: int) -> int:
    """The guest's own `available` (its MemTotal), from a report made after `since` (epoch s)."""
    stats: dict[str, int] = {}

    def reported() -> bool:
        stats.update(_memstat(lab, LINUX))
        return stats.get("last_update", 0) > since

    _until("a fresh report from the guest's balloon driver", reported)
    return stats["available"]


def test_balloon_down_and_up_moves_actual_and_the_guests_memory(lab: LabHandle, linux_full: None) -> None:
    start = int(time.time())
    full_available = _fresh_available(lab, start)
    down = _json(lab.vmtui("balloon", LINUX, "160MiB", "--json"))
    assert down["reached"] is True
    assert (down["before_kib"], down["target_kib"]) == (FULL_KIB, 160 * 1024)
    assert _memstat(lab, LINUX)["actual"] == 163840
    # The guest sees its memory shrink by exactly what the balloon took: 256 - 160 = 96 MiB.
    assert _fresh_available(lab, int(time.time())) == full_available - 98304
    up = _json(lab.vmtui("balloon", LINUX, "0.25GiB", "--json"))
    assert (up["before_kib"], up["actual_kib"], up["reached"]) == (163840, FULL_KIB, True)
    assert _memstat(lab, LINUX)["actual"] == FULL_KIB
    assert _fresh_available(lab, int(time.time())) == full_available


@pytest.mark.parametrize(
    ("guest", "size", "code", "words"),
    [
        (LINUX, "1GiB", 2, "above its max memory, 256 MiB"),
        (LINUX, "0MiB", 2, "must be above 0"),
        (LINUX, "163840", 2, "size '163840' has no unit"),  # was KiB as in virsh; now a unit is asked for
        (LINUX, "80MiB", 2, "below the floor"),
        (LINUX, "1.3MiB", 2, "not a whole number of KiB"),
        (BIOS, "100MiB", 1, "no driver in the guest"),
    ],
)
def test_balloon_refusals_change_nothing(
    lab: LabHandle, linux_full: None, guest: str, size: str, code: int, words: str
) -> None:
    before = (_current_memory(lab, guest), _memstat(lab, guest)["actual"])
    proc = lab.vmtui("balloon", guest, size, "--json")
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert words in json.loads(proc.stdout)["error"]["message"]
    assert (_current_memory(lab, guest), _memstat(lab, guest)["actual"]) == before


def test_balloon_policy_plans_then_applies_a_step(lab: LabHandle, linux_full: None) -> None:
    _virsh(lab, "setmem", LINUX, "163840", "--live")
    _until("lab1-linux at 160 MiB", lambda: _memstat(lab, LINUX).get("actual") == 163840)
    _fresh_available(lab, int(time.time()))
    plan = _json(lab.vmtui("balloon", "policy", "--dry-run", "--json", "--host", "lab1"))["plan"]
    rows = {r["name"]: r for r in plan["rows"]}
    # The machine is far below 80 % used: grow, 160 MiB + at most 100 MiB, capped at max 256 MiB.
    assert plan["mode"] == "grow"
    assert (rows[LINUX]["action"], rows[LINUX]["new_kib"]) == ("grow", FULL_KIB)
    assert rows[BIOS]["action"] == "skip"
    assert "no guest balloon driver" in rows[BIOS]["why"]
    assert _memstat(lab, LINUX)["actual"] == 163840  # a dry run changes nothing
    # Under a 1 % target the same guest would give back: its floor is 50 % = 128 MiB.
    squeeze = _json(lab.vmtui("balloon", "policy", "--target-host-used", "1%", "--json", "--host", "lab1"))
    row = next(r for r in squeeze["plan"]["rows"] if r["name"] == LINUX)
    assert (row["action"], row["new_kib"]) == ("shrink", 131072)
    proc = lab.vmtui("balloon", "policy", "--apply", "--count", "1", "--interval", "1", "--json", "--host", "lab1")
    lines = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert proc.returncode == 0, proc.stderr
    assert any(LINUX in line.get("step", "") and "256 MiB" in line["step"] for line in lines)
    assert lines[-1]["done"]["moves"] == 1
    _until("actual back at 256 MiB", lambda: _memstat(lab, LINUX).get("actual") == FULL_KIB)


def test_balloon_policy_refuses_shares_for_a_guest_the_host_lacks_before_any_move(
    lab: LabHandle, linux_full: None
) -> None:
    # The same start as the plan above, where one step grows lab1-linux: a typo in --shares must not
    # run the policy with the meant guest at the default weight.
    _virsh(lab, "setmem", LINUX, "163840", "--live")
    _until("lab1-linux at 160 MiB", lambda: _memstat(lab, LINUX).get("actual") == 163840)
    _fresh_available(lab, int(time.time()))
    shares = ("--shares", f"{LINUX}=2000", "--shares", "nosuch=5")
    for mode in (("--dry-run",), ("--apply", "--count", "1", "--interval", "1")):
        proc = lab.vmtui("balloon", "policy", *mode, *shares, "--json", "--host", "lab1")
        assert proc.returncode == 2, proc.stdout
        (line,) = proc.stdout.strip().splitlines()  # one error, no step before it
        error = json.loads(line)["error"]
        assert error["kind"] == "usage"
        assert error["message"].startswith(
            f"shares for 'nosuch': no such domain on qemu+ssh://root@{lab.host('lab1').address}/"
        )
    assert _memstat(lab, LINUX)["actual"] == 163840


def _ksm_values() -> dict[str, str]:
    return {k: (KSM / k).read_text().strip() for k in ("run", "pages_to_scan", "sleep_millisecs", "merge_across_nodes")}


def _ksm(key: str) -> int:
    return int((KSM / key).read_text())


def _defined_devices(lab: LabHandle, name: str) -> bytes:
    root = etree.fromstring(_virsh(lab, "dumpxml", "--inactive", name).encode())
    devices = root.find("devices")
    assert devices is not None
    return etree.tostring(devices, method="c14n")


def test_ksm_merges_identical_guests_and_every_value_is_restored(lab: LabHandle) -> None:
    img = image.find_image()
    assert img is not None, "the lab's Linux guest image must exist (lab up builds it)"
    twin = GuestSpec(
        "vmtui-test-ksm-twin",
        memory_mib=256,
        domain_type="qemu",
        nic_model="virtio",
        role="test",
        kernel=img.kernel,
        initrd=img.initrd,
        cmdline=img.cmdline(),
    )
    saved = _ksm_values()
    conn = connect(lab.uris["lab1"])
    try:
        conn.define_and_start(build_guest_xml(twin))
        bad = lab.vmtui("ksm", "tune", "--pages-to-scan", "0", "--host", "lab1", "--json")
        assert bad.returncode == 2
        assert _ksm_values() == saved
        tuned = _json(
            lab.vmtui("ksm", "tune", "--pages-to-scan", "2000", "--sleep-ms", "10", "--host", "lab1", "--json")
        )
        assert tuned["after"] == {"pages_to_scan": 2000, "sleep_millisecs": 10}
        assert (_ksm("pages_to_scan"), _ksm("sleep_millisecs")) == (2000, 10)
        sharing_before = _ksm("pages_sharing")
        on = _json(lab.vmtui("ksm", "on", "--host", "lab1", "--json"))  # through lab1's SSH
        assert on["after"] == {"run": 1}
        assert _ksm("run") == 1
        _until("pages_sharing grows", lambda: _ksm("pages_sharing") > sharing_before + 1000, within=120)
        status = _json(lab.vmtui("ksm", "--host", "lab1", "--json", "--interval", "0.5"))["hosts"][0]
        assert status["run"] == 1
        assert status["counters"]["pages_sharing"] > sharing_before
        assert status["saved_bytes"] == status["counters"]["pages_sharing"] * 4096
        assert status["ksmd_cpu_pct"] is not None
        # RELIABILITY #16: merge_across_nodes cannot change while pages are merged (the kernel says EBUSY):
        # refused first, with the way out, and nothing changed.
        other = 1 - _ksm("merge_across_nodes")
        busy = lab.vmtui("ksm", "tune", "--merge-across-nodes", str(other), "--host", "lab1")
        assert busy.returncode == 1
        assert "merge_across_nodes can change only while no page is merged" in busy.stderr
        assert "vmtui ksm off --unmerge" in busy.stderr
        assert _ksm_values() == {**saved, "run": "1", "pages_to_scan": "2000", "sleep_millisecs": "10"}
        vms = {v["name"]: v for v in status["vms"]}
        assert vms[LINUX]["merging_pages"] > 0
        assert vms[twin.name]["merging_pages"] > 0
        # Per-guest opt-out: only <memoryBacking> changes in the definition, never the devices.
        devices = _defined_devices(lab, twin.name)
        out = _json(lab.vmtui("ksm", "opt-out", twin.name, "--host", "lab1", "--json"))
        assert out["changed"] is True
        assert "<nosharepages/>" in _virsh(lab, "dumpxml", "--inactive", twin.name)
        assert _defined_devices(lab, twin.name) == devices
        back = _json(lab.vmtui("ksm", "opt-in", twin.name, "--host", "lab1", "--json"))
        assert back["changed"] is True
        assert "nosharepages" not in _virsh(lab, "dumpxml", "--inactive", twin.name)
        off = _json(lab.vmtui("ksm", "off", "--unmerge", "--host", "lab1", "--json"))
        assert off["after"] == {"run": 2}
        _until("every page unmerged", lambda: _ksm("pages_shared") == 0, within=120)
    finally:
        try:
            conn.destroy_and_undefine(twin.name)
        finally:
            conn.close()
            _restore_ksm(saved)
    assert _ksm_values() == saved


def _restore_ksm(saved: dict[str, str]) -> None:
    """Unmerge what this test merged, then put back run and the tunables as they were."""
    if _ksm("pages_shared"):
        (KSM / "run").write_text("2\n")
        deadline = time.monotonic() + 120
        while _ksm("pages_shared") and time.monotonic() < deadline:
            time.sleep(0.5)
    for key in ("pages_to_scan", "sleep_millisecs", "run"):
        (KSM / key).write_text(saved[key] + "\n")


def test_policy_loop_stops_cleanly_on_ctrl_c(lab: LabHandle) -> None:
    cmd = [*lab.vmtui_argv(), "balloon", "policy", "--apply", "--interval", "1", "--json", "--host", "lab1"]
    proc = run_as_foreground_job(cmd, env=lab.env())
    assert proc.stdout is not None
    try:
        first = json.loads(proc.stdout.readline())  # the first step is reported before we interrupt
    finally:
        out, err = ctrl_c_and_finish(proc)
    assert first["step"].startswith("step 1:")
    assert proc.returncode == 130, err
    assert "stopping after the current step" in err
    assert json.loads(out.strip().splitlines()[-1])["error"]["kind"] == "cancelled"
