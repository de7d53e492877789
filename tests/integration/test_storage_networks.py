"""Storage, networks, autostart, managed save and guest facts on the local libvirtd, as a user runs them.

Everything is made here, under unique names (`vmtui-test-<random>-...`): a directory pool in a
temporary directory, an isolated network without DHCP or DNS (no dnsmasq needed), and a small
guest whose disk is a volume of that pool and whose NIC is on that network. Every check is made
against what virsh says, and everything is removed at the end, also when a test fails.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import LOCAL_URI, run_vmtui
from lxml import etree

from vmtui.drivers.libvirt_driver import Connection
from vmtui.drivers.xmledit import GuestSpec, build_guest_xml

LEASES_DIR = Path("/var/lib/libvirt/dnsmasq")
"""Where libvirt reads a network's DHCP leases (`<bridge>.status`, written by dnsmasq's helper)."""


def virsh(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["virsh", "-c", LOCAL_URI, *args], capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)}: {proc.stderr}")
    return proc.stdout


def virsh_fields(*args: str) -> dict[str, str]:
    """`virsh pool-info`-style "Key:   value" lines as a dict."""
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in virsh(*args).splitlines()) if v}


def vol_names(pool: str, pool_dir: Path) -> list[str]:
    """virsh's volume names; each line is "NAME  PATH", and names may hold spaces, paths start at the pool."""
    lines = virsh("vol-list", pool).splitlines()[2:]
    return [line.split(f" {pool_dir}/", 1)[0].strip() for line in lines if f" {pool_dir}/" in line]


@dataclass
class Lab:
    prefix: str
    pool: str
    pool_dir: Path
    net: str
    bridge: str
    subnet: str
    """The first three octets of the network's /24."""
    guest: str
    mac: str
    disk: str
    """The volume the guest uses as its disk."""


def free_subnet() -> str:
    """A 10.X.<lab id> /24 nothing on this machine has an address in (X from 211 up)."""
    lab = int(os.environ.get("VMTUI_LAB_ID", "0") or 0) % 256
    used = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    for second in range(211, 251):
        if f" 10.{second}.{lab}." not in used:
            return f"10.{second}.{lab}"
    raise AssertionError("no free 10.x subnet for the test network")


def guest_xml(name: str, pool: str, disk: str, net: str, mac: str) -> str:
    """The lab's diskless BIOS guest plus a virtio disk from the pool and a NIC on the network."""
    root = etree.fromstring(build_guest_xml(GuestSpec(name=name, domain_type="qemu", nic_model=None, role="test")))
    devices = root.find("devices")
    assert devices is not None
    disk_el = etree.SubElement(devices, "disk", type="volume", device="disk")
    etree.SubElement(disk_el, "driver", name="qemu", type="qcow2")
    etree.SubElement(disk_el, "source", pool=pool, volume=disk)
    etree.SubElement(disk_el, "target", dev="vda", bus="virtio")
    nic = etree.SubElement(devices, "interface", type="network")
    etree.SubElement(nic, "mac", address=mac)
    etree.SubElement(nic, "source", network=net)
    etree.SubElement(nic, "model", type="virtio")
    etree.SubElement(nic, "rom", enabled="no")
    return etree.tostring(root, encoding="unicode")


@pytest.fixture(scope="module")
def lab(local_conn: Connection) -> Iterator[Lab]:
    prefix = f"vmtui-test-{secrets.token_hex(3)}"
    token = prefix.rsplit("-", 1)[1]
    pool_dir = Path(tempfile.mkdtemp(prefix=f"{prefix}-pool-"))
    pool_dir.chmod(0o755)  # QEMU runs as libvirt-qemu and must reach the guest's disk
    subnet = free_subnet()
    mac = "52:54:00:" + ":".join(token[i : i + 2] for i in (0, 2, 4))
    made = Lab(
        prefix, f"{prefix}-pool", pool_dir, f"{prefix}-net", f"vt{token}", subnet, f"{prefix}-g", mac, "disk.qcow2"
    )
    net_xml = etree.Element("network")
    etree.SubElement(net_xml, "name").text = made.net
    etree.SubElement(net_xml, "bridge", name=made.bridge)
    etree.SubElement(net_xml, "dns", enable="no")  # no DNS and no <dhcp>: libvirt starts no dnsmasq
    etree.SubElement(net_xml, "ip", address=f"{subnet}.1", prefix="24")
    net_file = Path(tempfile.mkstemp(prefix=f"{prefix}-", suffix=".xml")[1])
    net_file.write_bytes(etree.tostring(net_xml))
    try:
        virsh("pool-define-as", made.pool, "dir", "--target", str(pool_dir))
        virsh("pool-start", made.pool)
        virsh("vol-create-as", made.pool, made.disk, "16M", "--format", "qcow2")
        virsh("net-define", str(net_file))
        virsh("net-start", made.net)
        local_conn.define_and_start(guest_xml(made.guest, made.pool, made.disk, made.net, mac))
        yield made
    finally:
        local_conn.destroy_and_undefine(made.guest)
        virsh("net-destroy", made.net, check=False)
        virsh("net-undefine", made.net, check=False)
        if virsh("pool-info", made.pool, check=False):
            for vol in vol_names(made.pool, pool_dir):
                virsh("vol-delete", "--pool", made.pool, vol, check=False)
            virsh("pool-destroy", made.pool, check=False)
            virsh("pool-undefine", made.pool, check=False)
        shutil.rmtree(pool_dir, ignore_errors=True)
        net_file.unlink(missing_ok=True)


def vmtui_json(*args: str) -> Any:
    return json.loads(run_vmtui(*args, "-c", LOCAL_URI, "--json", check=True).stdout)


def test_pools_as_virsh_shows_them(lab: Lab) -> None:
    pools = {p["name"]: p for p in vmtui_json("pools")["pools"]}
    mine = pools[lab.pool]
    info = virsh_fields("pool-info", lab.pool, "--bytes")
    assert mine["state"] == "running" == info["State"]
    assert mine["autostart"] is False
    assert info["Autostart"] == "no"
    assert mine["persistent"] is True
    assert mine["pool_type"] == "dir"
    assert mine["path"] == str(lab.pool_dir)
    assert mine["volumes"] == len(vol_names(lab.pool, lab.pool_dir))
    for key, field in (("capacity", "Capacity"), ("allocation", "Allocation"), ("available", "Available")):
        assert mine[key] == int(info[field].split()[0]), key
    human = run_vmtui("pools", "-c", LOCAL_URI, check=True).stdout
    line = next(line for line in human.splitlines() if lab.pool in line)
    used = round(100 * int(info["Allocation"].split()[0]) / int(info["Capacity"].split()[0]), 1)
    assert f"{used}%" in line
    assert "█" in line or "░" in line


def test_volume_created_and_deleted(lab: Lab) -> None:
    name = "a b'<&>.qcow2"  # XML and shell metacharacters survive as they are
    created = vmtui_json("vol-create", lab.pool, name, "1.5GiB")
    assert created["action"] == "created"
    assert name in vol_names(lab.pool, lab.pool_dir)
    info = virsh_fields("vol-info", "--pool", lab.pool, name, "--bytes")
    assert int(info["Capacity"].split()[0]) == 3 * 2**29  # 1.5 GiB, exactly
    assert "<format type='qcow2'/>" in virsh("vol-dumpxml", "--pool", lab.pool, name)
    listed = {v["name"]: v for v in vmtui_json("volumes", lab.pool)["volumes"]}
    assert listed[name]["capacity"] == 3 * 2**29
    assert listed[name]["allocation"] == int(info["Allocation"].split()[0])
    assert listed[name]["path"] == str(lab.pool_dir / name)
    assert listed[name]["used_by"] == []

    # Not asked without a terminal: nothing is deleted without --yes.
    proc = run_vmtui("vol-delete", lab.pool, name, "-c", LOCAL_URI)
    assert proc.returncode == 2
    assert "--yes" in proc.stderr
    assert name in vol_names(lab.pool, lab.pool_dir)
    deleted = vmtui_json("vol-delete", lab.pool, name, "--yes")
    assert deleted["action"] == "deleted"
    assert name not in vol_names(lab.pool, lab.pool_dir)
    assert not (lab.pool_dir / name).exists()


def test_delete_refused_for_a_volume_a_domain_uses_and_one_that_backs_another(lab: Lab) -> None:
    listed = {v["name"]: v for v in vmtui_json("volumes", lab.pool)["volumes"]}
    assert listed[lab.disk]["used_by"] == [lab.guest]
    proc = run_vmtui("vol-delete", lab.pool, lab.disk, "--yes", "-c", LOCAL_URI)
    assert proc.returncode == 1
    assert f"domain {lab.guest} uses it" in proc.stderr
    assert lab.disk in vol_names(lab.pool, lab.pool_dir)

    virsh("vol-create-as", lab.pool, "base.qcow2", "8M", "--format", "qcow2")
    overlay = "overlay.qcow2"
    virsh(
        "vol-create-as", lab.pool, overlay, "8M", "--format", "qcow2",
        "--backing-vol", "base.qcow2", "--backing-vol-format", "qcow2",
    )  # fmt: skip
    try:
        proc = run_vmtui("vol-delete", lab.pool, "base.qcow2", "--yes", "-c", LOCAL_URI, "--json")
        assert proc.returncode == 1
        assert "backing file of volume overlay.qcow2" in json.loads(proc.stdout)["error"]["message"]
        assert "base.qcow2" in vol_names(lab.pool, lab.pool_dir)
    finally:
        virsh("vol-delete", "--pool", lab.pool, overlay, check=False)
        virsh("vol-delete", "--pool", lab.pool, "base.qcow2", check=False)


def test_bad_names_sizes_and_formats_are_refused_before_connecting() -> None:
    nowhere = "qemu+ssh://nobody@host.invalid/system"  # exit 2 (usage), not 4: nothing was contacted
    for args in (("p", "a/b", "1GiB"), ("p", "-x", "1GiB"), ("p", "ok", "10"), ("p", "ok", "1.0000001KiB")):
        proc = run_vmtui("vol-create", *args, "-c", nowhere, "--json")
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert json.loads(proc.stdout)["error"]["kind"] == "usage"
    proc = run_vmtui("vol-create", "p", "ok", "1GiB", "--format", "vmdk", "-c", nowhere)
    assert proc.returncode == 2


def test_networks_as_virsh_shows_them(lab: Lab) -> None:
    nets = {n["name"]: n for n in vmtui_json("nets")["networks"]}
    mine = nets[lab.net]
    info = virsh_fields("net-info", lab.net)
    assert mine["active"] is (info["Active"] == "yes") is True
    assert mine["autostart"] is (info["Autostart"] == "yes") is False
    assert mine["persistent"] is True
    assert mine["bridge"] == info["Bridge"] == lab.bridge
    assert mine["forward"] == "isolated"
    assert mine["addresses"] == [f"{lab.subnet}.1/24"]
    assert mine["dhcp"] is False
    listed = re.search(rf"^\s*{re.escape(lab.net)}\s+(\S+)\s+(\S+)", virsh("net-list", "--all"), re.MULTILINE)
    assert listed is not None
    assert listed.groups() == ("active", "no")
    human = run_vmtui("nets", "-c", LOCAL_URI, check=True).stdout
    assert any(lab.net in line and "isolated" in line and lab.bridge in line for line in human.splitlines())


def test_network_autostart_toggled(lab: Lab) -> None:
    try:
        done = vmtui_json("net-autostart", lab.net, "on")
        assert done == {"host": LOCAL_URI, "kind": "network", "name": lab.net, "autostart": True}
        assert virsh_fields("net-info", lab.net)["Autostart"] == "yes"
    finally:
        done = vmtui_json("net-autostart", lab.net, "off")
    assert done["autostart"] is False
    assert virsh_fields("net-info", lab.net)["Autostart"] == "no"


def test_lease_names_its_domain_and_is_the_guest_address_source(lab: Lab) -> None:
    """dnsmasq is not installed: the lease file its libvirt helper writes is written here instead,
    and libvirt itself reads it (`virsh net-dhcp-leases` shows it)."""
    made_dir = not LEASES_DIR.exists()
    LEASES_DIR.mkdir(parents=True, exist_ok=True)
    status = LEASES_DIR / f"{lab.bridge}.status"
    ip, expiry = f"{lab.subnet}.50", int(time.time()) + 3600
    lease = {"ip-address": ip, "mac-address": lab.mac, "hostname": "leased", "client-id": "", "expiry-time": expiry}
    status.write_text(json.dumps([lease]))
    try:
        assert ip in virsh("net-dhcp-leases", lab.net)
        nets = {n["name"]: n for n in vmtui_json("nets")["networks"]}
        (got,) = nets[lab.net]["leases"]
        assert (got["mac"], got["ip"], got["prefix"], got["hostname"]) == (lab.mac, ip, 24, "leased")
        assert got["domain"] == lab.guest
        assert got["expiry"] == expiry
        human = run_vmtui("nets", "-c", LOCAL_URI, check=True).stdout
        assert any(ip in line and lab.guest in line for line in human.splitlines())

        guest = vmtui_json("stats", lab.guest, "--interval", "0.2")["guest"]
        assert guest["agent"] == "absent"  # no guest agent channel: said, not left empty
        assert any("no guest agent" in note for note in guest["notes"])
        assert guest["address_source"] == "lease"
        assert [(a["mac"], a["address"], a["prefix"]) for a in guest["addresses"]] == [(lab.mac, ip, 24)]
        assert guest["tried"] == ["agent: absent", "lease: 1"]
    finally:
        status.unlink(missing_ok=True)
        if made_dir:
            shutil.rmtree(LEASES_DIR, ignore_errors=True)


def test_domain_autostart_toggled(lab: Lab) -> None:
    try:
        done = vmtui_json("autostart", lab.guest, "on")
        assert done["autostart"] is True
        assert virsh_fields("dominfo", lab.guest)["Autostart"] == "enable"
    finally:
        done = vmtui_json("autostart", lab.guest, "off")
    assert done["autostart"] is False
    assert virsh_fields("dominfo", lab.guest)["Autostart"] == "disable"


def test_managed_save_then_start_restores(lab: Lab) -> None:
    saved = vmtui_json("save", lab.guest)
    assert saved["domain"]["state"] == "shut-off"
    info = virsh_fields("dominfo", lab.guest)
    assert (info["State"], info["Managed save"]) == ("shut off", "yes")
    guest = vmtui_json("stats", lab.guest, "--interval", "0.2")["guest"]
    assert (guest["agent"], guest["managed_save"], guest["addresses"]) == ("off", True, [])

    started = vmtui_json("start", lab.guest)
    assert started["restored"] is True
    assert started["domain"]["state"] == "running"
    info = virsh_fields("dominfo", lab.guest)
    assert (info["State"], info["Managed save"]) == ("running", "no")
    again = run_vmtui("save", "-c", LOCAL_URI, "--read-only", lab.guest)
    assert again.returncode == 5  # refused before any change
    assert virsh_fields("dominfo", lab.guest)["State"] == "running"
