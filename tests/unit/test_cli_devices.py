"""`vmtui devices` and `vmtui sriov` as a user runs them, on libvirt's test driver with a PF and its VFs.

The VF count goes to a sysfs tree under VMTUI_SYSFS_ROOT, as on a host whose /sys is elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_vmtui
from sriov_host import GUEST, GUEST_MAC, PF, PLAIN, VF0, VF1, make_sriov_host


def test_sriov_lists_pfs_vfs_and_holders(tmp_path: Path) -> None:
    host = make_sriov_host(tmp_path)
    body = json.loads(run_vmtui("sriov", "--json", "-c", host.uri, check=True).stdout)
    (pf,) = body["pfs"]
    assert (pf["address"], pf["netdev"], pf["total_vfs"], pf["current_vfs"]) == (PF, "eth3", 7, 2)
    assert [v["address"] for v in pf["vfs"]] == [VF0, VF1]
    assert pf["vfs"][1]["used_by"][0]["domain"] == GUEST
    assert pf["vfs"][1]["mac"] == GUEST_MAC
    human = run_vmtui("sriov", "list", "-c", host.uri, check=True).stdout
    assert "eth3" in human
    assert "VFs 2/7" in human
    assert f"{GUEST} (running" in human
    assert "free" in human


def test_sriov_vfs_asks_first_then_writes_zero_then_the_count(tmp_path: Path) -> None:
    host = make_sriov_host(tmp_path, holder=False)
    env = {"VMTUI_SYSFS_ROOT": str(host.sysfs)}
    proc = run_vmtui("sriov", "vfs", "eth3", "4", "--json", "-c", host.uri, env_extra=env)
    assert proc.returncode == 2  # removing VFs asks first; no terminal and no --yes: nothing done
    assert "--yes" in json.loads(proc.stdout)["error"]["hint"]
    assert host.numvfs.read_text().strip() == "2"
    proc = run_vmtui("sriov", "vfs", "eth3", "4", "--yes", "--json", "-c", host.uri, env_extra=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    change = json.loads(proc.stdout)
    assert (change["before"], change["after"], change["written"], change["total"]) == (2, 4, [0, 4], 7)
    assert host.numvfs.read_text().strip() == "4"
    proc = run_vmtui("sriov", "vfs", PF, "9", "--yes", "-c", host.uri, env_extra=env)
    assert proc.returncode == 2
    assert "at most 7 VFs" in proc.stderr
    assert host.numvfs.read_text().strip() == "4"


def test_sriov_vfs_refused_while_a_running_guest_holds_a_vf(tmp_path: Path) -> None:
    host = make_sriov_host(tmp_path)
    env = {"VMTUI_SYSFS_ROOT": str(host.sysfs)}
    proc = run_vmtui("sriov", "vfs", "eth3", "0", "--yes", "-c", host.uri, env_extra=env)
    assert proc.returncode == 1
    assert f"held by running domain {GUEST}" in proc.stderr
    assert f"vmtui sriov detach {GUEST} --vf {VF1}" in proc.stderr
    assert host.numvfs.read_text().strip() == "2"


def test_sriov_pool_and_devices_show(tmp_path: Path) -> None:
    host = make_sriov_host(tmp_path)
    made = json.loads(run_vmtui("sriov", "pool", "eth3", "--json", "-c", host.uri, check=True).stdout)
    assert (made["name"], made["pf_dev"], made["active"], made["autostart"]) == ("sriov-eth3", "eth3", True, True)
    shown = json.loads(run_vmtui("devices", GUEST, "--json", "-c", host.uri, check=True).stdout)
    (nic,) = shown["devices"]
    assert (nic["class"], nic["source"], nic["vlan"], nic["switch"]) == ("passthrough", VF1, 42, "no")
    plain = json.loads(run_vmtui("devices", "show", PLAIN, "--json", "-c", host.uri, check=True).stdout)
    assert [(d["model"], d["class"], d["switch"]) for d in plain["devices"]] == [("e1000", "emulated", "live")]


def test_refusals_are_one_line_with_the_documented_exit_codes(tmp_path: Path) -> None:
    host = make_sriov_host(tmp_path)
    cases = [
        (("sriov", "attach", PLAIN, "--vf", VF1), 2, "already given to"),
        (("sriov", "attach", PLAIN, "--vf", "0000:03:10.7"), 3, "no VF"),
        (("sriov", "attach", PLAIN, "--vf", VF0, "--mac", "01:00:5e:00:00:01"), 2, "multicast"),
        (("sriov", "vfs", "eth9", "1", "--yes"), 3, "no SR-IOV physical function"),
        (("devices", "virtio", GUEST, "--nic", GUEST_MAC, "--yes"), 2, "nothing to switch"),
        (("devices", "virtio", PLAIN, "--nic", "52:54:00:aa:bb:02", "--disk", "sda"), 2, "name one device"),
        (("devices", "add-disk", PLAIN, "10"), 2, "size '10' has no unit (add one: 10KiB,"),
        (("devices", "add-disk", PLAIN, "10K"), 2, "too small"),
        (("--read-only", "sriov", "pool", "eth3"), 5, "read-only"),
    ]
    for args, code, words in cases:
        proc = run_vmtui(*args, "-c", host.uri)
        assert (proc.returncode, proc.stderr.count("\n")) == (code, 1), (args, proc.stderr)
        assert words in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    # The test driver has no hotplug: libvirt's refusal comes through as one line, exit 1.
    proc = run_vmtui("sriov", "attach", PLAIN, "--vf", VF0, "--json", "-c", host.uri)
    assert proc.returncode == 1
    assert "not supported" in json.loads(proc.stdout)["error"]["message"]
