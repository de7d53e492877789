"""Storage, networks and guest facts of a remote host reached over qemu+ssh (the lab); virsh over the
same URI is the witness. The pool lives inside lab1's own /var/lib/libvirt and is always removed."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator

import pytest
from fixtures_lab import LabHandle

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
