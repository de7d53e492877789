"""Guests with a real qcow2 disk (and a VNC display), for snapshot, XML, display and undefine tests.

Disk images live in a temporary directory the test owns; the guest and the directory are removed
afterwards, also when the test fails. The XML is built with lxml, so any name goes in literally.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from vmtui.drivers.libvirt.driver import Connection
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.errors import VmtuiError

LOCAL_URI = "qemu:///system"


def virsh(*args: str, uri: str = LOCAL_URI, check: bool = True) -> str:
    """virsh, the independent witness: what libvirt says, not what vmtui says."""
    proc = subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=60, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def qcow2(path: Path, size: str = "16M") -> Path:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True, timeout=30)
    return path


def guest_xml(name: str, disk: Path | None, *, kvm: bool, vnc: bool = False) -> str:
    """A small BIOS guest (it idles: no bootable device) with a virtio qcow2 disk and, if asked, VNC on loopback."""
    root = etree.fromstring(
        build_guest_xml(GuestSpec(name=name, role="test", domain_type="kvm" if kvm else "qemu", nic_model=None))
    )
    devices = root.find("devices")
    assert devices is not None
    if disk is not None:
        el = etree.SubElement(devices, "disk", type="file", device="disk")
        etree.SubElement(el, "driver", name="qemu", type="qcow2")
        etree.SubElement(el, "source", file=str(disk))
        etree.SubElement(el, "target", dev="vda", bus="virtio")
    if vnc:
        gfx = etree.SubElement(devices, "graphics", type="vnc", port="-1", autoport="yes")
        etree.SubElement(gfx, "listen", type="address", address="127.0.0.1")
    return etree.tostring(root, encoding="unicode")


@dataclass(frozen=True)
class DiskGuest:
    name: str
    uuid: str
    disk: Path
    dir: Path


@contextmanager
def image_dir() -> Iterator[Path]:
    """A temporary directory QEMU (user libvirt-qemu) can reach: mkdtemp's 0700 would keep it out."""
    path = Path(tempfile.mkdtemp(prefix="vmtui-test-img-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def disk_guest(conn: Connection, *, suffix: str = "[b]x", vnc: bool = False) -> Iterator[DiskGuest]:
    """A running guest with a qcow2 disk, named `vmtui-test-<random>-<suffix>`, always removed."""
    kvm = conn.host_info(probe=False).kvm_usable
    name = f"vmtui-test-{secrets.token_hex(3)}-{suffix}"
    with image_dir() as folder:
        disk = qcow2(folder / "disk.qcow2")
        info = conn.define_and_start(guest_xml(name, disk, kvm=kvm, vnc=vnc))
        try:
            yield DiskGuest(name, info.uuid, disk, folder)
        finally:
            try:
                conn.destroy_and_undefine(info.uuid)
            except VmtuiError as exc:
                print(f"cleanup of {name} failed: {exc}")
