"""Storage, networks, autostart, managed save and guest facts on the local libvirtd, as a user runs them.

`res_lab` (tests/fixtures_resources.py) makes a pool, a network and a guest using both; every check
is made against what virsh says.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import LOCAL_URI, run_vmtui
from fixtures_resources import LEASES_DIR, Lab, virsh, virsh_fields, vol_names
from lxml import etree

from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml


def vmtui_json(*args: str) -> Any:
    return json.loads(run_vmtui(*args, "-c", LOCAL_URI, "--json", check=True).stdout)


def test_pools_as_virsh_shows_them(res_lab: Lab) -> None:
    pools = {p["name"]: p for p in vmtui_json("pools")["pools"]}
    mine = pools[res_lab.pool]
    info = virsh_fields("pool-info", res_lab.pool, "--bytes")
    assert mine["state"] == "running" == info["State"]
    assert mine["autostart"] is False
    assert info["Autostart"] == "no"
    assert mine["persistent"] is True
    assert mine["pool_type"] == "dir"
    assert mine["path"] == str(res_lab.pool_dir)
    assert mine["volumes"] == len(vol_names(res_lab.pool, res_lab.pool_dir))
    for key, field in (("capacity", "Capacity"), ("allocation", "Allocation"), ("available", "Available")):
        assert mine[key] == int(info[field].split()[0]), key
    human = run_vmtui("pools", "-c", LOCAL_URI, check=True).stdout
    line = next(line for line in human.splitlines() if res_lab.pool in line)
    used = round(100 * int(info["Allocation"].split()[0]) / int(info["Capacity"].split()[0]), 1)
    assert f"{used}%" in line
    assert "█" in line or "░" in line


def test_volume_created_and_deleted(res_lab: Lab) -> None:
    name = "a b'<&>.qcow2"  # XML and shell metacharacters survive as they are
    created = vmtui_json("vol-create", res_lab.pool, name, "1.5GiB")
    assert created["action"] == "created"
    assert name in vol_names(res_lab.pool, res_lab.pool_dir)
    info = virsh_fields("vol-info", "--pool", res_lab.pool, name, "--bytes")
    assert int(info["Capacity"].split()[0]) == 3 * 2**29  # 1.5 GiB, exactly
    assert "<format type='qcow2'/>" in virsh("vol-dumpxml", "--pool", res_lab.pool, name)
    listed = {v["name"]: v for v in vmtui_json("volumes", res_lab.pool)["volumes"]}
    assert listed[name]["capacity"] == 3 * 2**29
    assert listed[name]["allocation"] == int(info["Allocation"].split()[0])
    assert listed[name]["path"] == str(res_lab.pool_dir / name)
    assert listed[name]["used_by"] == []

    # Not asked without a terminal: nothing is deleted without --yes.
    proc = run_vmtui("vol-delete", res_lab.pool, name, "-c", LOCAL_URI)
    assert proc.returncode == 2
    assert "--yes" in proc.stderr
    assert name in vol_names(res_lab.pool, res_lab.pool_dir)
    deleted = vmtui_json("vol-delete", res_lab.pool, name, "--yes")
    assert deleted["action"] == "deleted"
    assert name not in vol_names(res_lab.pool, res_lab.pool_dir)
    assert not (res_lab.pool_dir / name).exists()


def test_delete_refused_for_a_volume_a_domain_uses_and_one_that_backs_another(res_lab: Lab) -> None:
    listed = {v["name"]: v for v in vmtui_json("volumes", res_lab.pool)["volumes"]}
    assert listed[res_lab.disk]["used_by"] == [res_lab.guest]
    proc = run_vmtui("vol-delete", res_lab.pool, res_lab.disk, "--yes", "-c", LOCAL_URI)
    assert proc.returncode == 1
    assert f"domain {res_lab.guest} uses it" in proc.stderr
    assert res_lab.disk in vol_names(res_lab.pool, res_lab.pool_dir)

    virsh("vol-create-as", res_lab.pool, "base.qcow2", "8M", "--format", "qcow2")
    overlay = "overlay.qcow2"
    virsh(
        "vol-create-as", res_lab.pool, overlay, "8M", "--format", "qcow2",
        "--backing-vol", "base.qcow2", "--backing-vol-format", "qcow2",
    )  # fmt: skip
    try:
        proc = run_vmtui("vol-delete", res_lab.pool, "base.qcow2", "--yes", "-c", LOCAL_URI, "--json")
        assert proc.returncode == 1
        assert "backing file of volume overlay.qcow2" in json.loads(proc.stdout)["error"]["message"]
        assert "base.qcow2" in vol_names(res_lab.pool, res_lab.pool_dir)
    finally:
        virsh("vol-delete", "--pool", res_lab.pool, overlay, check=False)
        virsh("vol-delete", "--pool", res_lab.pool, "base.qcow2", check=False)


def _shut_off_guest_on(res_lab: Lab, name: str, volume: str) -> str:
    """A shut-off guest whose one disk is raw `volume` of the lab's pool (by path, as virt-install writes it)."""
    root = etree.fromstring(build_guest_xml(GuestSpec(name=name, domain_type="qemu", nic_model=None, role="test")))
    devices = root.find("devices")
    assert devices is not None
    disk = etree.SubElement(devices, "disk", type="file", device="disk")
    etree.SubElement(disk, "driver", name="qemu", type="raw")
    etree.SubElement(disk, "source", file=str(res_lab.pool_dir / volume))
    etree.SubElement(disk, "target", dev="vda", bus="virtio")
    return etree.tostring(root, encoding="unicode")


@pytest.fixture
def snapshotted_guest(res_lab: Lab, tmp_path: Path) -> Iterator[str]:
    """A shut-off guest on raw volume r2.raw, then removed with its snapshots' metadata and the volumes."""
    name = f"{res_lab.prefix}-snap"
    virsh("vol-create-as", res_lab.pool, "r2.raw", "8M", "--format", "raw")
    xml = tmp_path / "guest.xml"
    xml.write_text(_shut_off_guest_on(res_lab, name, "r2.raw"))
    try:
        virsh("define", str(xml))
        yield name
    finally:
        virsh("undefine", name, "--snapshots-metadata", check=False)
        virsh("pool-refresh", res_lab.pool, check=False)
        for vol in ("r2.s3", "r2.s4", "r2.raw"):
            virsh("vol-delete", "--pool", res_lab.pool, vol, check=False)
            (res_lab.pool_dir / vol).unlink(missing_ok=True)


def test_delete_refused_for_the_base_of_an_external_snapshot_the_pool_has_not_seen(
    res_lab: Lab, snapshotted_guest: str
) -> None:
    # The steps: `snapshot create` of a shut-off guest on a raw disk makes the overlay r2.s3
    # behind the pool's back (libvirt lists it only after a rescan), and the guest's definition names
    # just r2.s3. Deleting r2.raw would leave a guest that cannot start.
    run_vmtui("snapshot", "create", snapshotted_guest, "s3", "-c", LOCAL_URI, check=True)
    assert "r2.s3" not in vol_names(res_lab.pool, res_lab.pool_dir)  # the pool has not seen it
    proc = run_vmtui("vol-delete", res_lab.pool, "r2.raw", "--yes", "-c", LOCAL_URI, "--json")
    assert proc.returncode == 1, proc.stdout
    message = json.loads(proc.stdout)["error"]["message"]
    assert f"domain {snapshotted_guest} uses it" in message
    assert "backing file of volume r2.s3" in message
    assert (res_lab.pool_dir / "r2.raw").exists()
    listed = {v["name"]: v for v in vmtui_json("volumes", res_lab.pool)["volumes"]}
    assert listed["r2.raw"]["used_by"] == [snapshotted_guest]  # through its overlay

    # Without snapshot metadata only a rescan shows that the new overlay r2.s4 sits on r2.s3 (a
    # volume since the rescan above): the guest's definition names r2.s4 alone.
    virsh("snapshot-create-as", snapshotted_guest, "s4", "--disk-only", "--no-metadata",
          "--diskspec", f"vda,snapshot=external,file={res_lab.pool_dir / 'r2.s4'}")  # fmt: skip
    assert "r2.s4" not in vol_names(res_lab.pool, res_lab.pool_dir)
    proc = run_vmtui("vol-delete", res_lab.pool, "r2.s3", "--yes", "-c", LOCAL_URI, "--json")
    assert proc.returncode == 1, proc.stdout
    message = json.loads(proc.stdout)["error"]["message"]
    assert message.endswith(f"domain {snapshotted_guest} uses it; it is the backing file of volume r2.s4")
    assert (res_lab.pool_dir / "r2.s3").exists()


def test_bad_names_sizes_and_formats_are_refused_before_connecting() -> None:
    nowhere = "qemu+ssh://nobody@host.invalid/system"  # exit 2 (usage), not 4: nothing was contacted
    for args in (("p", "a/b", "1GiB"), ("p", "-x", "1GiB"), ("p", "ok", "10"), ("p", "ok", "1.0000001KiB")):
        proc = run_vmtui("vol-create", *args, "-c", nowhere, "--json")
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert json.loads(proc.stdout)["error"]["kind"] == "usage"
    proc = run_vmtui("vol-create", "p", "ok", "1GiB", "--format", "vmdk", "-c", nowhere)
    assert proc.returncode == 2


def test_networks_as_virsh_shows_them(res_lab: Lab) -> None:
    nets = {n["name"]: n for n in vmtui_json("nets")["networks"]}
    mine = nets[res_lab.net]
    info = virsh_fields("net-info", res_lab.net)
    assert mine["active"] is (info["Active"] == "yes") is True
    assert mine["autostart"] is (info["Autostart"] == "yes") is False
    assert mine["persistent"] is True
    assert mine["bridge"] == info["Bridge"] == res_lab.bridge
    assert mine["forward"] == "isolated"
    assert mine["addresses"] == [f"{res_lab.subnet}.1/24"]
    assert mine["dhcp"] is False
    listed = re.search(rf"^\s*{re.escape(res_lab.net)}\s+(\S+)\s+(\S+)", virsh("net-list", "--all"), re.MULTILINE)
    assert listed is not None
    assert listed.groups() == ("active", "no")
    human = run_vmtui("nets", "-c", LOCAL_URI, check=True).stdout
    assert any(res_lab.net in line and "isolated" in line and res_lab.bridge in line for line in human.splitlines())


def test_network_autostart_toggled(res_lab: Lab) -> None:
    try:
        done = vmtui_json("net-autostart", res_lab.net, "on")
        assert done == {"host": LOCAL_URI, "kind": "network", "name": res_lab.net, "autostart": True}
        assert virsh_fields("net-info", res_lab.net)["Autostart"] == "yes"
    finally:
        done = vmtui_json("net-autostart", res_lab.net, "off")
    assert done["autostart"] is False
    assert virsh_fields("net-info", res_lab.net)["Autostart"] == "no"


def test_lease_names_its_domain_and_is_the_guest_address_source(res_lab: Lab) -> None:
    """dnsmasq is not installed: the lease file its libvirt helper writes is written here instead,
    and libvirt itself reads it (`virsh net-dhcp-leases` shows it)."""
    made_dir = not LEASES_DIR.exists()
    LEASES_DIR.mkdir(parents=True, exist_ok=True)
    status = LEASES_DIR / f"{res_lab.bridge}.status"
    ip, expiry = f"{res_lab.subnet}.50", int(time.time()) + 3600
    lease = {"ip-address": ip, "mac-address": res_lab.mac, "hostname": "leased", "client-id": "", "expiry-time": expiry}
    status.write_text(json.dumps([lease]))
    try:
        assert ip in virsh("net-dhcp-leases", res_lab.net)
        nets = {n["name"]: n for n in vmtui_json("nets")["networks"]}
        (got,) = nets[res_lab.net]["leases"]
        assert (got["mac"], got["ip"], got["prefix"], got["hostname"]) == (res_lab.mac, ip, 24, "leased")
        assert got["domain"] == res_lab.guest
        assert got["expiry"] == expiry
        human = run_vmtui("nets", "-c", LOCAL_URI, check=True).stdout
        assert any(ip in line and res_lab.guest in line for line in human.splitlines())

        guest = vmtui_json("stats", res_lab.guest, "--interval", "0.2")["guest"]
        assert guest["agent"] == "absent"  # no guest agent channel: said, not left empty
        assert any("no guest agent" in note for note in guest["notes"])
        assert guest["address_source"] == "lease"
        assert [(a["mac"], a["address"], a["prefix"]) for a in guest["addresses"]] == [(res_lab.mac, ip, 24)]
        assert guest["tried"] == ["agent: absent", "lease: 1"]
    finally:
        status.unlink(missing_ok=True)
        if made_dir:
            shutil.rmtree(LEASES_DIR, ignore_errors=True)


def test_domain_autostart_toggled(res_lab: Lab) -> None:
    try:
        done = vmtui_json("autostart", res_lab.guest, "on")
        assert done["autostart"] is True
        assert virsh_fields("dominfo", res_lab.guest)["Autostart"] == "enable"
    finally:
        done = vmtui_json("autostart", res_lab.guest, "off")
    assert done["autostart"] is False
    assert virsh_fields("dominfo", res_lab.guest)["Autostart"] == "disable"


def test_managed_save_then_start_restores(res_lab: Lab) -> None:
    saved = vmtui_json("save", res_lab.guest)
    assert saved["domain"]["state"] == "shut-off"
    info = virsh_fields("dominfo", res_lab.guest)
    assert (info["State"], info["Managed save"]) == ("shut off", "yes")
    guest = vmtui_json("stats", res_lab.guest, "--interval", "0.2")["guest"]
    assert (guest["agent"], guest["managed_save"], guest["addresses"]) == ("off", True, [])

    started = vmtui_json("start", res_lab.guest)
    assert started["restored"] is True
    assert started["domain"]["state"] == "running"
    info = virsh_fields("dominfo", res_lab.guest)
    assert (info["State"], info["Managed save"]) == ("running", "no")
    again = run_vmtui("save", "-c", LOCAL_URI, "--read-only", res_lab.guest)
    assert again.returncode == 5  # refused before any change
    assert virsh_fields("dominfo", res_lab.guest)["State"] == "running"
