"""Backups of a Linux guest on lab2 over qemu+ssh, checked by the data read inside restored guests.

The test's own guest (the lab image's kernel and initramfs, a 32 MiB qcow2 volume in lab2's pool
`default`, which `vmtui lab up` makes) writes random data through its serial console and checksums
it inside; it gets a full backup, writes more, gets an incremental one; each point is restored as a
new domain (its disk a volume of `default` too) that boots, and the same regions are read inside it.
The guest's own load rewrites the first MiB of its disk every 2 s: the data sits past it. virsh over
the same URI and the files on lab2 (read over the same SSH) are the witnesses. Guests, volumes, the
backups and the checkpoints go at the end, also on failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from fixtures_lab import LabHandle
from serial_shell import SerialShell

from vmtui.drivers import connect
from vmtui.drivers.hostfiles import ssh_argv
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.errors import NotFoundError
from vmtui.lab import image

pytestmark = [pytest.mark.lab, pytest.mark.timeout(300)]

MIB = 1024 * 1024
BOOT_S = 90.0
"""A TCG guest boots in 3 to 20 s here; a machine busy with other tests takes longer."""


def on_lab2(lab: LabHandle, script: str) -> str:
    proc = subprocess.run([*ssh_argv(lab.uris["lab2"]), script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def virsh2(lab: LabHandle, *args: str) -> str:
    proc = lab.virsh("lab2", *args)
    assert proc.returncode == 0, f"virsh {' '.join(args)}: {proc.stderr}"
    return proc.stdout


@dataclass(frozen=True)
class Scratch:
    name: str
    """The test's guest; restored copies are named NAME-r..."""
    pool: str
    root: str
    """The backup folder on lab2."""


@pytest.fixture
def scratch(lab: LabHandle) -> Iterator[Scratch]:
    name = f"vmtui-test-{secrets.token_hex(3)}-bk"
    try:
        yield Scratch(name, "default", f"/var/lib/libvirt/images/{name}-backups")
    finally:
        with connect(lab.uris["lab2"]) as conn:
            for dom in conn.list_domains():
                if dom.name == name or dom.name.startswith(f"{name}-"):
                    conn.destroy_and_undefine(dom.uuid)  # its checkpoints' metadata too
            for vol in conn.list_volumes("default"):  # the guest's and the restored copies' (NAME-...)
                if vol.name.startswith(name):
                    conn.delete_volume("default", vol.name)
        on_lab2(lab, f"rm -rf /var/lib/libvirt/images/{name}-backups")


def boot(lab: LabHandle, name: str, disk: str) -> None:
    """Define and start a Linux guest of the lab image (TCG, no NIC, no load but its disk's) on `disk`."""
    linux = image.find_image()
    assert linux is not None, "the lab's Linux guest image is missing"
    spec = GuestSpec(
        name, memory_mib=128, domain_type="qemu", nic_model=None, disk=PurePosixPath(disk), role="test",  # type: ignore[arg-type]
        kernel=linux.kernel, initrd=linux.initrd, cmdline=linux.cmdline(),
    )  # fmt: skip
    with connect(lab.uris["lab2"]) as conn:
        conn.define_and_start(build_guest_xml(spec))


def checksum(shell: SerialShell, offset_mib: int, length_mib: int) -> str:
    """sha256 of a region of the guest's disk, worked out inside the guest."""
    said = shell.run(f"dd if=/dev/vda bs=1M skip={offset_mib} count={length_mib} 2>/dev/null | sha256sum")
    found = re.search(r"\b([0-9a-f]{64})\s+-", said)
    assert found, said
    return found.group(1)


def write_random(shell: SerialShell, offset_mib: int, length_mib: int) -> str:
    said = shell.run(f"dd if=/dev/urandom of=/dev/vda bs=1M seek={offset_mib} count={length_mib} conv=fsync")
    assert f"{length_mib}+0 records out" in said, said
    return checksum(shell, offset_mib, length_mib)


def test_data_written_in_the_guest_is_read_back_in_guests_restored_from_each_point(
    lab: LabHandle, scratch: Scratch, tmp_path: Path
) -> None:
    uri = lab.uris["lab2"]

    def vm(*args: str) -> dict[str, object]:
        proc = lab.vmtui(*args, "-c", uri, "--to", scratch.root, "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out: dict[str, object] = json.loads(proc.stdout)
        return out

    # qcow2 v3 (compat 1.1): libvirt's default for a new qcow2 volume is v2, which holds no bitmaps.
    volume = tmp_path / "volume.xml"
    volume.write_text(
        f"<volume><name>{scratch.name}.qcow2</name><capacity unit='MiB'>32</capacity>"
        "<target><format type='qcow2'/><compat>1.1</compat></target></volume>"
    )
    virsh2(lab, "vol-create", scratch.pool, str(volume))
    boot(lab, scratch.name, virsh2(lab, "vol-path", f"{scratch.name}.qcow2", "--pool", scratch.pool).strip())
    began = time.monotonic()
    shell = SerialShell(uri, scratch.name)
    try:
        shell.wait_for_shell(BOOT_S)
        print(f"the guest's shell answered after {time.monotonic() - began:.1f} s")
        first = write_random(shell, 8, 12)  # MiB 8..20
        print(f"written at {time.monotonic() - began:.1f} s")
        full = vm("backup", scratch.name)["backup"]
        print(f"full backup at {time.monotonic() - began:.1f} s")
        second = write_random(shell, 24, 2)  # MiB 24..26, after the full backup
        print(f"written at {time.monotonic() - began:.1f} s")
        inc = vm("backup", scratch.name, "--incremental")["backup"]
        print(f"incremental backup at {time.monotonic() - began:.1f} s")
    finally:
        shell.close()
    assert isinstance(full, dict)
    assert isinstance(inc, dict)
    full_size, inc_size = int(str(full["size"])), int(str(inc["size"]))
    print(
        f"over ssh: full {full_size} bytes ({full_size / MIB:.2f} MiB: 12 MiB of data + 1 MiB of the guest's load),"
        f" incremental {inc_size} bytes ({inc_size / MIB:.2f} MiB: 2 MiB written since + the load's 1 MiB)"
    )
    # Each holds its data, the guest's rewritten first MiB at most, and qcow2 metadata (under 1 MiB here).
    assert 12 * MIB <= full_size < 14 * MIB
    assert 2 * MIB <= inc_size < 4 * MIB
    assert (full["kind"], inc["kind"], inc["parent"]) == ("full", "incremental", full["id"])
    assert virsh2(lab, "checkpoint-list", scratch.name, "--name").split() == [inc["checkpoint"]]
    # On lab2 itself: the two folders, and the incremental reads through to the full one.
    assert on_lab2(lab, f"ls {scratch.root}/{scratch.name}").split() == sorted([str(full["id"]), str(inc["id"])])
    info = on_lab2(lab, f"qemu-img info -U --output=json {scratch.root}/{scratch.name}/{inc['id']}/vda.qcow2")
    assert json.loads(info)["backing-filename"] == f"../{full['id']}/vda.qcow2"
    listed = vm("backup", "list", scratch.name)["backups"]
    assert isinstance(listed, list)
    assert [b["id"] for b in listed] == [full["id"], inc["id"]]

    zeros = hashlib.sha256(bytes(2 * MIB)).hexdigest()  # what the full backup's point held at MiB 24..26
    points = {f"{scratch.name}-rf": (full, zeros), f"{scratch.name}-ri": (inc, second)}
    for copy, (point, _expected) in points.items():
        done = vm("backup", "restore", scratch.name, str(point["id"]), "--as", copy)
        disks = done["disks"]
        assert isinstance(disks, dict)
        # Rebuilt as a volume of the source disk's pool: libvirt lists it (no refresh by the test).
        volumes = virsh2(lab, "vol-list", scratch.pool).split()
        assert disks["vda"] in volumes, volumes
        print(f"restored at {time.monotonic() - began:.1f} s")
    print(f"backed up and restored in {time.monotonic() - began:.1f} s")
    for copy in points:
        virsh2(lab, "start", copy)  # both boot at once: the wait is the slower one's
    for copy, (point, expected_second) in points.items():
        shell = SerialShell(uri, copy)
        try:
            shell.wait_for_shell(BOOT_S)
            print(f"{copy} answered at {time.monotonic() - began:.1f} s")
            assert (checksum(shell, 8, 12), checksum(shell, 24, 2)) == (first, expected_second), point["id"]
        finally:
            shell.close()
    print(f"read back in both restored guests at {time.monotonic() - began:.1f} s")


@dataclass(frozen=True)
class Copy:
    name: str
    """The domain lab2-linux is restored as."""
    root: str
    """The backup folder: in lab2's own dir, the same path inside its namespace and out."""


@pytest.fixture
def copy_of_lab2_linux(lab: LabHandle) -> Iterator[Copy]:
    """The copy, its volume in `default`, the backups and the checkpoints the backup made on lab2-linux
    go at the end, also on failure (one connection: each virsh over SSH costs a second)."""
    name = f"vmtui-test-{secrets.token_hex(3)}-lr"
    root = lab.root / "hosts" / "lab2" / f"{name}-backups"
    with connect(lab.uris["lab2"]) as conn:
        checkpoints = set(conn.checkpoint_names("lab2-linux"))
    try:
        yield Copy(name, str(root))
    finally:
        with connect(lab.uris["lab2"]) as conn:
            conn.destroy_and_undefine(name)
            for made in set(conn.checkpoint_names("lab2-linux")) - checkpoints:
                conn.delete_checkpoint("lab2-linux", made)  # its bitmap in the guest's disk too
            with contextlib.suppress(NotFoundError):  # no pool or no volume: the restore failed
                conn.delete_volume("default", f"{name}-vda.qcow2")
        shutil.rmtree(root, ignore_errors=True)


def test_the_labs_own_guest_is_restored_as_a_new_domain_into_the_pool_default(
    lab: LabHandle, copy_of_lab2_linux: Copy
) -> None:
    """README's first hour on `make demo`: back up lab2-linux, restore it as a new domain (`K`, `O`)."""
    name, uri = copy_of_lab2_linux.name, lab.uris["lab2"]
    began = time.monotonic()

    def vm(*args: str) -> dict[str, object]:
        proc = lab.vmtui(*args, "-c", uri, "--to", copy_of_lab2_linux.root, "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out: dict[str, object] = json.loads(proc.stdout)
        print(f"{args[:2]} done at {time.monotonic() - began:.1f} s")
        return out

    backup = vm("backup", "lab2-linux")["backup"]
    assert isinstance(backup, dict)
    done = vm("backup", "restore", "lab2-linux", str(backup["id"]), "--as", name)
    disks = lab.root / "hosts" / "lab2" / "disks"
    assert (done["domain"], done["disks"]) == (name, {"vda": f"{disks}/{name}-vda.qcow2"})
    # lab2's own view: the new domain's disk is a volume of `default`, beside lab2-linux's.
    volumes, disk = virsh2(lab, "vol-list default; echo @@; domblklist " + name).split("@@")
    assert volumes.split() == [
        "lab2-linux.qcow2", f"{disks}/lab2-linux.qcow2", f"{name}-vda.qcow2", f"{disks}/{name}-vda.qcow2"
    ]  # fmt: skip
    assert disk.split()[:2] == ["vda", f"{disks}/{name}-vda.qcow2"]
