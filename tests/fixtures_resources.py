"""pytest plugin: `res_lab`, storage and networking of its own on the local libvirtd, for the storage,
network and guest-facts tests of the CLI and the TUI.

Everything is made under unique names (`vmtui-test-<random>-...`): a directory pool in a temporary
directory, an isolated network without DHCP or DNS (no dnsmasq needed), and a small guest whose
disk is a volume of that pool and whose NIC is on that network. Everything is removed at the end,
also when a test fails. `virsh` is the independent witness the tests compare with.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from vmtui.drivers import connect
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.errors import VmtuiError

LOCAL_URI = "qemu:///system"

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
    """A 10.X.<lab id> /24 nothing on this machine has an address in (X from 211 to 250, in random order:
    two test runs sharing the machine's libvirtd would otherwise both pick the first free one)."""
    lab = int(os.environ.get("VMTUI_LAB_ID", "0") or 0) % 256
    used = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    for second in random.sample(range(211, 251), 40):
        if f" 10.{second}.{lab}." not in used:
            return f"10.{second}.{lab}"
    raise AssertionError("no free 10.x subnet for the test network")


@contextmanager
def isolated_network(prefix: str) -> Iterator[tuple[str, str, str]]:
    """An active network `<prefix>-net` on bridge `vt<token>` with the host at <subnet>.1/24, no DHCP and no
    DNS (libvirt starts no dnsmasq for it); yields (name, bridge, subnet) and always removes it."""
    name, bridge, subnet = f"{prefix}-net", f"vt{prefix.rsplit('-', 1)[1]}"[:15], free_subnet()
    net_xml = etree.Element("network")
    etree.SubElement(net_xml, "name").text = name
    etree.SubElement(net_xml, "bridge", name=bridge)
    etree.SubElement(net_xml, "dns", enable="no")
    etree.SubElement(net_xml, "ip", address=f"{subnet}.1", prefix="24")
    fd, path = tempfile.mkstemp(prefix=f"{prefix}-", suffix=".xml")
    os.close(fd)
    net_file = Path(path)
    net_file.write_bytes(etree.tostring(net_xml))
    try:
        virsh("net-define", str(net_file))
        virsh("net-start", name)
        yield name, bridge, subnet
    finally:
        virsh("net-destroy", name, check=False)
        virsh("net-undefine", name, check=False)
        net_file.unlink(missing_ok=True)


def add_nic(root: etree._Element, net: str, mac: str) -> None:
    """A virtio NIC on network `net` with `mac`, without a boot ROM (iPXE crashes under nested KVM)."""
    devices = root.find("devices")
    assert devices is not None
    nic = etree.SubElement(devices, "interface", type="network")
    etree.SubElement(nic, "mac", address=mac)
    etree.SubElement(nic, "source", network=net)
    etree.SubElement(nic, "model", type="virtio")
    etree.SubElement(nic, "rom", enabled="no")


def mac_of(token: str, last: str = "") -> str:
    return (
        "52:54:00:" + ":".join(token[i : i + 2] for i in (0, 2, 4))
        if not last
        else f"52:54:00:{token[:2]}:{token[2:4]}:{last}"
    )


def guest_xml(name: str, pool: str, disk: str, net: str, mac: str) -> str:
    """The lab's diskless BIOS guest plus a virtio disk from the pool and a NIC on the network."""
    root = etree.fromstring(build_guest_xml(GuestSpec(name=name, domain_type="qemu", nic_model=None, role="test")))
    devices = root.find("devices")
    assert devices is not None
    disk_el = etree.SubElement(devices, "disk", type="volume", device="disk")
    etree.SubElement(disk_el, "driver", name="qemu", type="qcow2")
    etree.SubElement(disk_el, "source", pool=pool, volume=disk)
    etree.SubElement(disk_el, "target", dev="vda", bus="virtio")
    add_nic(root, net, mac)
    return etree.tostring(root, encoding="unicode")


@pytest.fixture(scope="module")
def res_lab() -> Iterator[Lab]:
    """A pool, a network and a running guest using both (see the module docstring)."""
    try:
        conn = connect(LOCAL_URI)
    except VmtuiError as exc:
        pytest.skip(f"local libvirtd not reachable ({exc}); run `make setup`")
    prefix = f"vmtui-test-{secrets.token_hex(3)}"
    token = prefix.rsplit("-", 1)[1]
    pool_dir = Path(tempfile.mkdtemp(prefix=f"{prefix}-pool-"))
    pool_dir.chmod(0o755)  # QEMU runs as libvirt-qemu and must reach the guest's disk
    pool, guest, disk, mac = f"{prefix}-pool", f"{prefix}-g", "disk.qcow2", mac_of(token)
    try:
        with isolated_network(prefix) as (net, bridge, subnet):
            virsh("pool-define-as", pool, "dir", "--target", str(pool_dir))
            virsh("pool-start", pool)
            virsh("vol-create-as", pool, disk, "16M", "--format", "qcow2")
            try:
                conn.define_and_start(guest_xml(guest, pool, disk, net, mac))
                yield Lab(prefix, pool, pool_dir, net, bridge, subnet, guest, mac, disk)
            finally:
                conn.destroy_and_undefine(guest)
    finally:
        conn.close()
        if virsh("pool-info", pool, check=False):
            for vol in vol_names(pool, pool_dir):
                virsh("vol-delete", "--pool", pool, vol, check=False)
            virsh("pool-destroy", pool, check=False)
            virsh("pool-undefine", pool, check=False)
        shutil.rmtree(pool_dir, ignore_errors=True)
