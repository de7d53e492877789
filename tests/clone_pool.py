"""A directory pool in a temporary directory and small template guests in it, for the clone, delete and
resize tests of the CLI and the TUI.

The base disk is a 16 MiB qcow2 made with qemu-img with 1 MiB of a known pattern written by qemu-io, so
its checksum says whether anything wrote to it. The guest is a 128 MiB diskless-boot BIOS guest (it
idles at "no bootable device"), with the disk as virtio vda, a CD-ROM outside the pool and a virtio NIC
(user networking), so a clone has a disk to copy, one to share and a MAC to change. Everything is named
`vmtui-test-<random>-...` and removed afterwards, also when a test fails; `virsh` is the witness.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml

LOCAL_URI = "qemu:///system"


@dataclass(frozen=True)
class ClonePool:
    name: str
    path: Path
    prefix: str
    """Every domain the tests make starts with it: removed at the end whatever happened."""
    iso: Path
    """A file outside the pool the guests have as their CD-ROM."""


def virsh(*args: str, check: bool = True) -> str:
    """The witness. Imported by the integration tests (tests/ on the path) and the TUI tests (`tests.`
    package), so it imports nothing of tests/: one module, one name in each mypy run."""
    proc = subprocess.run(["virsh", "-c", LOCAL_URI, *args], capture_output=True, text=True, timeout=60, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def volumes(pool: ClonePool) -> list[str]:
    """The pool's volume names as virsh lists them (rescanned first)."""
    virsh("pool-refresh", pool.name)
    lines = virsh("vol-list", pool.name).splitlines()[2:]  # "Name  Path" (virsh 9.0 has no --name here)
    return sorted(line.split()[0] for line in lines if line.strip())


def domains(pool: ClonePool) -> list[str]:
    return sorted(n for n in virsh("list", "--all", "--name").split() if n.startswith(pool.prefix))


def what_exists(pool: ClonePool) -> tuple[list[str], list[str]]:
    """(volumes, domains): listed before and after a refused command, they must be equal."""
    return volumes(pool), domains(pool)


def remove_domain(name: str) -> None:
    virsh("destroy", name, check=False)
    virsh("undefine", name, "--snapshots-metadata", "--managed-save", "--nvram", check=False)


@contextmanager
def clone_pool() -> Iterator[ClonePool]:
    prefix = f"vmtui-test-{secrets.token_hex(3)}"
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-pool-"))
    folder.chmod(0o755)  # QEMU runs as libvirt-qemu and must reach the disks
    iso_dir = Path(tempfile.mkdtemp(prefix=f"{prefix}-iso-"))
    iso_dir.chmod(0o755)
    iso = iso_dir / "install.iso"
    iso.write_bytes(b"\0" * 2048 * 16)
    iso.chmod(0o644)
    pool = ClonePool(f"{prefix}-pool", folder, prefix, iso)
    try:
        virsh("pool-define-as", pool.name, "dir", "--target", str(folder))
        virsh("pool-start", pool.name)
        yield pool
    finally:
        for name in virsh("list", "--all", "--name", check=False).split():
            if name.startswith(prefix):
                remove_domain(name)
        virsh("pool-destroy", pool.name, check=False)
        virsh("pool-undefine", pool.name, check=False)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(iso_dir, ignore_errors=True)


def base_volume(pool: ClonePool, name: str) -> Path:
    """A 16 MiB qcow2 in the pool with 1 MiB of 0xab at its start (so a copy has data to carry)."""
    path = pool.path / name
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "16M"], check=True, timeout=30)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0xab 0 1M", str(path)], check=True, timeout=30,
                   capture_output=True)  # fmt: skip
    virsh("pool-refresh", pool.name)
    return path


def template_xml(name: str, disk: Path, iso: Path, *, kvm: bool) -> str:
    root = etree.fromstring(
        build_guest_xml(GuestSpec(name=name, role="test", domain_type="kvm" if kvm else "qemu", nic_model="virtio"))
    )
    devices = root.find("devices")
    assert devices is not None
    el = etree.SubElement(devices, "disk", type="file", device="disk")
    etree.SubElement(el, "driver", name="qemu", type="qcow2")
    etree.SubElement(el, "source", file=str(disk))
    etree.SubElement(el, "target", dev="vda", bus="virtio")
    cd = etree.SubElement(devices, "disk", type="file", device="cdrom")
    etree.SubElement(cd, "driver", name="qemu", type="raw")
    etree.SubElement(cd, "source", file=str(iso))
    etree.SubElement(cd, "target", dev="sda", bus="sata")
    etree.SubElement(cd, "readonly")
    return etree.tostring(root, encoding="unicode")


@dataclass(frozen=True)
class Template:
    name: str
    uuid: str
    base: Path


def define_template(pool: ClonePool, suffix: str, *, kvm: bool) -> Template:
    """A shut-off guest on a fresh base volume (not marked yet: the tests mark it through vmtui)."""
    name = f"{pool.prefix}-{suffix}"
    base = base_volume(pool, f"{suffix}-base.qcow2")
    xml = pool.path.parent / f"{name}.xml"
    xml.write_text(template_xml(name, base, pool.iso, kvm=kvm))
    try:
        virsh("define", str(xml))
    finally:
        xml.unlink()
    uuid = virsh("domuuid", name).strip()
    return Template(name, uuid, base)


def macs(name: str) -> list[str]:
    """The domain's MACs as virsh lists them (domiflist: Interface Type Source Model MAC)."""
    lines = virsh("domiflist", name).splitlines()[2:]
    return [line.split()[-1] for line in lines if line.strip()]


def vol_field(path: Path | str, field: str) -> str:
    """One line of `virsh vol-info` ("Capacity", ...) with --bytes."""
    for line in virsh("vol-info", "--bytes", str(path)).splitlines():
        key, _, value = line.partition(":")
        if key.strip() == field:
            return value.strip().split()[0]
    raise AssertionError(f"vol-info {path} has no {field}")


def seed_file(path: Path, name: str) -> str:
    """One file of a NoCloud seed ISO, by its Rock Ridge name, read with pycdlib (not with vmtui's reader)."""
    import io

    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        assert iso.pvd.volume_identifier.decode().strip() == "cidata"
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path="/" + name)
        return out.getvalue().decode()
    finally:
        iso.close()


def attach_seed(pool: ClonePool, domain: str, volume: str, user_data: str) -> Path:
    """A cidata ISO (made with pycdlib, as cloud-localds would) in the pool, attached to `domain` as its
    CD-ROM sdb: the template's seed. Named without "seed": vmtui must find it by its label."""
    import io

    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    meta = f"instance-id: iid-{domain}\nlocal-hostname: template\n"
    for name, text in (("meta-data", meta), ("user-data", user_data)):
        data = text.encode()
        iso.add_fp(io.BytesIO(data), len(data), "/" + name.upper().replace("-", "_") + ".;1", rr_name=name,
                   joliet_path="/" + name)  # fmt: skip
    path = pool.path / volume
    iso.write(str(path))
    iso.close()
    path.chmod(0o644)
    virsh("pool-refresh", pool.name)
    virsh("attach-disk", domain, str(path), "sdb", "--type", "cdrom", "--mode", "readonly", "--targetbus", "sata",
          "--config")  # fmt: skip
    return path
