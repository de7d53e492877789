"""Storage, networks and guest facts of a remote host reached over qemu+ssh (the lab); virsh over the
same URI is the witness. The pool lives inside lab1's own /var/lib/libvirt and is always removed."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures_lab import LabHandle
from lxml import etree

from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml

pytestmark = pytest.mark.lab


def virsh(uri: str, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)}: {proc.stderr}")
    return proc.stdout


@pytest.fixture
def remote_pool(lab: LabHandle) -> Iterator[str]:
    uri, name = lab.uris["lab1"], f"vmtui-test-{secrets.token_hex(3)}"
    try:
        virsh(uri, "pool-define-as", name, "dir", "--target", f"/var/lib/libvirt/images/{name}")
        virsh(uri, "pool-build", name)
        virsh(uri, "pool-start", name)
        yield name
    finally:
        virsh(uri, "pool-refresh", name, check=False)  # files made behind the pool's back (overlays) too
        for line in virsh(uri, "vol-list", name, check=False).splitlines()[2:]:
            if line.strip():
                virsh(uri, "vol-delete", "--pool", name, line.split()[0], check=False)
        virsh(uri, "pool-destroy", name, check=False)
        virsh(uri, "pool-delete", name, check=False)
        virsh(uri, "pool-undefine", name, check=False)


def test_a_volume_created_listed_and_deleted_over_ssh(lab: LabHandle, remote_pool: str) -> None:
    uri = lab.uris["lab1"]
    body = json.loads(lab.vmtui("pools", "--json").stdout)
    assert body["errors"] == []
    mine = [p for p in body["pools"] if p["name"] == remote_pool]
    assert [p["host"] for p in mine] == ["lab1"]  # found on its host only, among every saved host
    capacity = next(x for x in virsh(uri, "pool-info", remote_pool, "--bytes").splitlines() if x.startswith("Capacity"))
    assert mine[0]["capacity"] == int(capacity.split()[1])

    proc = lab.vmtui("vol-create", remote_pool, "v1.qcow2", "8MiB", "--json")  # the pool's host is found
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["host"] == "lab1"
    assert "v1.qcow2" in virsh(uri, "vol-list", remote_pool)
    volumes = json.loads(lab.vmtui("volumes", remote_pool, "--json").stdout)["volumes"]
    assert [(v["host"], v["name"], v["capacity"]) for v in volumes] == [("lab1", "v1.qcow2", 8 * 2**20)]
    proc = lab.vmtui("vol-delete", remote_pool, "v1.qcow2", "--yes", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "v1.qcow2" not in virsh(uri, "vol-list", remote_pool)


@pytest.fixture
def guest_on_raw_volume(lab: LabHandle, remote_pool: str, tmp_path: Path) -> Iterator[str]:
    """A shut-off guest on lab1 whose one disk is raw volume r2.raw of `remote_pool`; undefined at the end."""
    uri, name = lab.uris["lab1"], f"{remote_pool}-g"
    virsh(uri, "vol-create-as", remote_pool, "r2.raw", "8M", "--format", "raw")
    path = virsh(uri, "vol-path", "--pool", remote_pool, "r2.raw").strip()
    root = etree.fromstring(build_guest_xml(GuestSpec(name=name, domain_type="qemu", nic_model=None, role="test")))
    devices = root.find("devices")
    assert devices is not None
    disk = etree.SubElement(devices, "disk", type="file", device="disk")
    etree.SubElement(disk, "driver", name="qemu", type="raw")
    etree.SubElement(disk, "source", file=path)
    etree.SubElement(disk, "target", dev="vda", bus="virtio")
    xml = tmp_path / "guest.xml"
    xml.write_bytes(etree.tostring(root))
    try:
        virsh(uri, "define", str(xml))
        yield name
    finally:
        virsh(uri, "undefine", name, "--snapshots-metadata", check=False)


def test_the_base_of_an_external_snapshot_is_not_deleted_over_ssh(
    lab: LabHandle, remote_pool: str, guest_on_raw_volume: str
) -> None:
    # The steps on a lab host: the overlay r2.s3 is made behind the pool's back, so before a
    # rescan libvirt lists r2.raw alone, and the guest's definition names only r2.s3.
    uri, guest = lab.uris["lab1"], guest_on_raw_volume
    proc = lab.vmtui("snapshot", "create", guest, "s3", "-H", "lab1")
    assert proc.returncode == 0, proc.stderr
    assert "r2.s3" not in virsh(uri, "vol-list", remote_pool)
    proc = lab.vmtui("vol-delete", remote_pool, "r2.raw", "--yes", "-H", "lab1", "--json")
    assert proc.returncode == 1, proc.stdout
    assert json.loads(proc.stdout)["error"]["message"] == (
        f"delete volume r2.raw from {remote_pool}: domain {guest} uses it; it is the backing file of volume r2.s3"
    )
    assert "r2.raw" in virsh(uri, "vol-list", remote_pool)
    # The guest still has all its disk: libvirt's own check of the chain passes.
    assert "r2.raw" in virsh(uri, "vol-dumpxml", "--pool", remote_pool, "r2.s3")


def test_networks_and_guest_facts_over_ssh(lab: LabHandle) -> None:
    body = json.loads(lab.vmtui("nets", "-H", "lab1", "--json").stdout)
    assert body["errors"] == []
    listed = {n["name"]: n["active"] for n in body["networks"]}
    for line in virsh(lab.uris["lab1"], "net-list", "--all").splitlines()[2:]:
        if line.strip():
            name, state = line.split()[:2]
            assert listed[name] is (state == "active")

    proc = lab.vmtui("stats", "lab1-tcg-e1000", "-H", "lab1", "--json", "--interval", "0.2")
    assert proc.returncode == 0, proc.stderr
    guest = json.loads(proc.stdout)["guest"]
    # The lab's guests have no agent and a user-mode NIC, which no lease file and no ARP table knows.
    assert guest["agent"] == "absent"
    assert guest["address_source"] is None
    assert guest["tried"] == [
        "agent: absent",
        "lease: not asked (no NIC on a libvirt network)",
        "arp: not asked (no NIC the host sees on a bridge)",
    ]
    assert any("no guest agent" in note for note in guest["notes"])
