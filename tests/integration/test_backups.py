"""`vmtui backup`, `backup list` and `backup restore` on the real local libvirtd, checked with virsh and qemu-img.

The guest is diskless but for one qcow2 data disk; it boots nothing, so the data is written into the
disk before it starts (qemu-io on the file) and, while it runs, through QEMU's own block layer
(`qemu-io` in the monitor, on the guest's virtio disk): such writes go where a guest's would, so the
checkpoint's bitmap sees them. What each restored disk must hold is worked out by hand, as a raw
reference file, and compared with `qemu-img compare`. Guests, checkpoints and files go at the end,
also when a test fails.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import VMTUI, run_vmtui
from guest_disks import LOCAL_URI, guest_xml, image_dir, qcow2, virsh
from lxml import etree

from vmtui.drivers.backupstore import LocalBackupStore
from vmtui.drivers.libvirt.driver import Connection
from vmtui.errors import OperationError, VmtuiError
from vmtui.ops.backup import take_backup

pytestmark = [pytest.mark.qemu, pytest.mark.timeout(180)]

MIB = 1024 * 1024


@dataclass(frozen=True)
class BackupGuest:
    name: str
    uuid: str
    disk: Path
    dir: Path
    root: Path
    """Where its backups go (inside dir: removed with it)."""


def write_before_start(disk: Path, pattern: int, offset_mib: int, length_mib: int) -> None:
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern:#x} {offset_mib}M {length_mib}M", str(disk)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def write_while_running(name: str, pattern: int, offset_mib: int, length_mib: int) -> None:
    """Write through the running guest's virtio disk, as the guest would (the dirty bitmap sees it)."""
    device = "/machine/peripheral/virtio-disk0/virtio-backend"
    said = virsh(
        "qemu-monitor-command",
        "--hmp",
        name,
        f'qemu-io -d {device} "write -P {pattern:#x} {offset_mib}M {length_mib}M"',
    )
    assert not said.strip(), said


def set_job_speed(name: str, bytes_per_s: int) -> None:
    """Cap the backup job in QEMU (0: no cap) as soon as it exists, so that half-way is not a race.

    Asked through libvirt-python's monitor call, not virsh: a poll every few milliseconds, not every
    process start, catches a job that would copy a small disk in a fraction of a second."""
    import libvirt
    import libvirt_qemu  # type: ignore[import-untyped]

    conn = libvirt.open(LOCAL_URI)
    try:
        dom = conn.lookupByName(name)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            said = libvirt_qemu.qemuMonitorCommand(dom, json.dumps({"execute": "query-block-jobs"}), 0)
            jobs = [j for j in json.loads(said)["return"] if j["type"] == "backup"]
            for job in jobs:
                arguments = {"device": job["device"], "speed": bytes_per_s}
                command = json.dumps({"execute": "block-job-set-speed", "arguments": arguments})
                libvirt_qemu.qemuMonitorCommand(dom, command, 0)
            if jobs:
                return
            time.sleep(0.002)
        raise AssertionError(f"no backup job of {name} in 30 s")
    finally:
        conn.close()


def reference(path: Path, size_mib: int, *writes: tuple[int, int, int]) -> Path:
    """A raw image of `size_mib` with each (pattern, offset MiB, length MiB) written: the expected disk."""
    with open(path, "wb") as fh:
        fh.truncate(size_mib * MIB)
        for pattern, offset, length in writes:
            fh.seek(offset * MIB)
            fh.write(bytes([pattern]) * (length * MIB))
    return path


def same_disk(image: object, expected: Path) -> bool:
    proc = subprocess.run(
        ["qemu-img", "compare", "-U", "-f", "qcow2", "-F", "raw", str(image), str(expected)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return proc.returncode == 0


def flip_one_data_byte(image: Path, pattern: int) -> None:
    """Change one byte of a data cluster in the middle of a qcow2 file whose data is all `pattern`: the file
    keeps its length and qemu-img still finds the image sound (the damage is in what the guest would read)."""
    size = image.stat().st_size
    with open(image, "r+b") as fh:
        fh.seek(size // 2)
        assert fh.read(1) == bytes([pattern]), "the middle of the file is not the guest's data"
        fh.seek(size // 2)
        fh.write(bytes([pattern ^ 0xFF]))
    assert image.stat().st_size == size
    check = subprocess.run(["qemu-img", "check", "-f", "qcow2", str(image)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def checkpoints(name: str) -> list[str]:
    return virsh("checkpoint-list", name, "--name").split()


def bitmaps(name: str) -> list[str]:
    """The dirty bitmaps QEMU holds on the running guest's disks (the qcow2 file gets them at shutdown)."""
    said = virsh(
        "qemu-monitor-command", name, json.dumps({"execute": "query-named-block-nodes", "arguments": {"flat": True}})
    )
    nodes = json.loads(said)["return"]
    return sorted({b["name"] for node in nodes for b in node.get("dirty-bitmaps", [])})


@contextmanager
def backup_guest(conn: Connection, *, disk_mib: int, data_mib: int) -> Iterator[BackupGuest]:
    """A running guest whose qcow2 disk holds `data_mib` of 0x5a from offset 0; restored copies go too."""
    kvm = conn.host_info(probe=False).kvm_usable
    name = f"vmtui-test-{secrets.token_hex(3)}-bk"
    with image_dir() as folder:
        disk = qcow2(folder / "disk.qcow2", f"{disk_mib}M")
        write_before_start(disk, 0x5A, 0, data_mib)
        # The folder is a storage pool (transient: gone when destroyed): restored disks become its volumes.
        virsh("pool-create-as", name, "dir", "--target", str(folder))
        try:
            info = conn.define_and_start(guest_xml(name, disk, kvm=kvm))
            yield BackupGuest(name, info.uuid, disk, folder, folder / "backups")
        finally:
            for other in [name] + [n for n in virsh("list", "--all", "--name").split() if n.startswith(f"{name}-")]:
                try:
                    conn.destroy_and_undefine(other)
                except VmtuiError as exc:
                    print(f"cleanup of {other} failed: {exc}")
            virsh("pool-destroy", name, check=False)


def vm(*args: str) -> subprocess.CompletedProcess[str]:
    return run_vmtui(*args, "-c", LOCAL_URI, timeout=120)


def vm_json(*args: str) -> dict[str, object]:
    proc = vm(*args, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out: dict[str, object] = json.loads(proc.stdout)
    return out


def test_full_and_incremental_restore_each_point_as_a_new_domain_that_starts(local_conn: Connection) -> None:
    with backup_guest(local_conn, disk_mib=32, data_mib=8) as g:
        full = vm_json("backup", g.name, "--to", str(g.root))["backup"]
        assert isinstance(full, dict)
        write_while_running(g.name, 0x33, 16, 2)
        inc = vm_json("backup", g.name, "--to", str(g.root), "--incremental")["backup"]
        assert isinstance(inc, dict)
        print(f"full backup {full['size']} bytes, incremental {inc['size']} bytes (2 MiB written since)")
        assert (full["kind"], inc["kind"], inc["parent"]) == ("full", "incremental", full["id"])
        # The full one holds the 8 MiB in use, the incremental the 2 MiB written since (plus qcow2 metadata).
        assert 8 * MIB <= int(str(full["size"])) < 9 * MIB
        assert 2 * MIB <= int(str(inc["size"])) < 3 * MIB
        assert "not frozen" in str(inc["consistency"])  # no guest agent in this guest: said, not hidden
        # Only the newest checkpoint is kept, and its bitmap is the only one in the disk.
        assert checkpoints(g.name) == [inc["checkpoint"]]
        assert bitmaps(g.name) == [inc["checkpoint"]]

        listed = vm_json("backup", "list", g.name, "--to", str(g.root))["backups"]
        assert isinstance(listed, list)
        assert [(b["id"], b["parent"]) for b in listed] == [(full["id"], None), (inc["id"], full["id"])]

        # Written after the last backup: no restored point may hold it (nor read through to the live disk).
        write_while_running(g.name, 0x99, 4, 1)
        at_full = reference(g.dir / "at-full.raw", 32, (0x5A, 0, 8))
        at_inc = reference(g.dir / "at-inc.raw", 32, (0x5A, 0, 8), (0x33, 16, 2))
        for point, expected, other, suffix in ((full, at_full, at_inc, "rf"), (inc, at_inc, at_full, "ri")):
            done = vm_json(
                "backup", "restore", g.name, str(point["id"]), "--as", f"{g.name}-{suffix}", "--to", str(g.root)
            )
            disks = done["disks"]
            assert isinstance(disks, dict)
            assert same_disk(disks["vda"], expected), f"restored {point['id']} differs from the disk at that point"
            assert not same_disk(disks["vda"], other)  # the two points are told apart
            assert done["uuid"] != g.uuid
            virsh("start", f"{g.name}-{suffix}")
            assert virsh("domstate", f"{g.name}-{suffix}").strip() == "running"


def test_ctrl_c_half_way_aborts_the_job_and_leaves_no_file_checkpoint_or_bitmap(local_conn: Connection) -> None:
    with backup_guest(local_conn, disk_mib=1024, data_mib=8) as g:
        full = vm_json("backup", g.name, "--to", str(g.root))["backup"]
        assert isinstance(full, dict)
        write_while_running(g.name, 0x77, 64, 256)
        proc = subprocess.Popen(
            [VMTUI, "backup", g.name, "--incremental", "--to", str(g.root), "-c", LOCAL_URI],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("backing up"):
                set_job_speed(g.name, 1 * MIB)  # it would take minutes now
            if line.startswith("copied"):  # the job runs: QEMU is copying
                proc.send_signal(signal.SIGINT)
                break
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, "".join(seen) + err
        said = virsh("domjobinfo", g.name, "--completed")
        assert "Cancelled" in said, said  # aborted half-way, not finished before the signal
        # The full backup and its checkpoint stay as they were; nothing of the incremental is left.
        assert sorted(p.name for p in (g.root / next(iter(os.listdir(g.root)))).iterdir()) == [full["id"]]
        assert checkpoints(g.name) == [full["checkpoint"]]
        assert bitmaps(g.name) == [full["checkpoint"]]


def test_a_second_backup_while_one_runs_is_refused(local_conn: Connection) -> None:
    # A large sparse disk: QEMU copies ~100 MiB at once before a speed cap bites; the zeros after it wait.
    with backup_guest(local_conn, disk_mib=1024, data_mib=128) as g:
        first = subprocess.Popen(
            [VMTUI, "backup", g.name, "--to", str(g.root), "-c", LOCAL_URI],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
        assert first.stderr is not None
        for line in first.stderr:
            if line.startswith("backing up"):
                set_job_speed(g.name, 1 * MIB)
                break
        second = vm("backup", g.name, "--to", str(g.root), "--json")
        set_job_speed(g.name, 0)  # the first one may finish now
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, out + err
        assert second.returncode == 1, second.stdout + second.stderr
        assert "a backup of it is running" in json.loads(second.stdout)["error"]["message"]
        assert len(vm_json("backup", "list", g.name, "--to", str(g.root))["backups"]) == 1  # type: ignore[arg-type]


def raw_disk_guest_xml(name: str, disk: Path, *, kvm: bool) -> str:
    root = etree.fromstring(guest_xml(name, disk, kvm=kvm))
    driver = root.find("devices/disk/driver")
    assert driver is not None
    driver.set("type", "raw")
    return etree.tostring(root, encoding="unicode")


def test_bad_input_is_refused_before_any_change(local_conn: Connection, tmp_path: Path) -> None:
    kvm = local_conn.host_info(probe=False).kvm_usable
    with image_dir() as folder:
        raw = folder / "raw.img"
        subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(raw), "16M"], check=True)
        name = f"vmtui-test-{secrets.token_hex(3)}-raw"
        local_conn.define_and_start(raw_disk_guest_xml(name, raw, kvm=kvm))
        try:
            proc = vm("backup", name, "--to", str(folder / "b"), "--json")
            assert proc.returncode == 1
            assert json.loads(proc.stdout)["error"]["message"] == (
                f"backup of {name} refused: vda (raw file) not a qcow2 file"
            )
            assert not (folder / "b").exists()
        finally:
            local_conn.destroy_and_undefine(name)

    with backup_guest(local_conn, disk_mib=64, data_mib=32) as g:
        # No full backup yet: nothing to build an incremental on.
        proc = vm("backup", g.name, "--to", str(g.root), "--incremental", "--json")
        assert proc.returncode == 1
        assert "no backup of it" in json.loads(proc.stdout)["error"]["message"]

        # A target without room for the 32 MiB in use: refused first, nothing made there.
        small = tmp_path / "small"
        small.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(small)], check=True)
        try:
            proc = vm("backup", g.name, "--to", str(small), "--json")
            assert proc.returncode == 1, proc.stdout + proc.stderr
            assert "8.0 MiB free" in json.loads(proc.stdout)["error"]["message"]
            assert os.listdir(small) == []
        finally:
            subprocess.run(["umount", str(small)], check=True)
        assert checkpoints(g.name) == []
        assert bitmaps(g.name) == []

        full = vm_json("backup", g.name, "--to", str(g.root))["backup"]
        inc = vm_json("backup", g.name, "--to", str(g.root), "--incremental")["backup"]
        assert isinstance(full, dict)
        assert isinstance(inc, dict)

        proc = vm("backup", "restore", g.name, "20200101T000000Z-full", "--as", f"{g.name}-x", "--to", str(g.root))
        assert proc.returncode == 3, proc.stderr
        assert proc.stderr.startswith(f"vmtui: error: {g.name} has no backup 20200101T000000Z-full in ")

        proc = vm(
            "backup",
            "restore",
            g.name,
            str(inc["id"]),
            "--as",
            f"{g.name}-x",
            "--pool",
            "vmtui-no-such-pool",
            "--to",
            str(g.root),
        )
        assert proc.returncode == 3, proc.stderr
        assert proc.stderr.startswith(
            f"vmtui: error: restore as {g.name}-x refused: no storage pool 'vmtui-no-such-pool'"
        )

        proc = vm("backup", "restore", g.name, str(inc["id"]), "--to", str(g.root), "--yes", "--json")
        assert proc.returncode == 1
        assert json.loads(proc.stdout)["error"]["message"] == f"restore of {g.name} refused: it is running"

        # A damaged file under the point: one byte of the guest's data changed in place (same length, and
        # qcow2's own structure intact: `qemu-img check` finds nothing), so only the manifest's checksum tells.
        damaged = Path(str(full["path"])) / "vda.qcow2"
        flip_one_data_byte(damaged, 0x5A)
        proc = vm("backup", "restore", g.name, str(inc["id"]), "--as", f"{g.name}-x", "--to", str(g.root), "--json")
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert json.loads(proc.stdout)["error"]["message"] == (
            f"restore of {g.name}-x refused: {damaged} is missing or does not match its manifest's checksum"
        )

        # A chain with a missing link: the full backup under the incremental is gone.
        subprocess.run(["rm", "-rf", str(full["path"])], check=True)
        for args in (("restore", g.name, str(inc["id"]), "--as", f"{g.name}-x"), (g.name, "--incremental")):
            proc = vm("backup", *args, "--to", str(g.root), "--json")
            assert proc.returncode == 1, proc.stdout + proc.stderr
            assert f"its chain is missing {full['id']}" in json.loads(proc.stdout)["error"]["message"]
        assert virsh("list", "--all", "--name").split().count(f"{g.name}-x") == 0


def test_keep_merges_the_oldest_into_the_next_and_the_same_domain_restores_when_off(local_conn: Connection) -> None:
    with backup_guest(local_conn, disk_mib=32, data_mib=4) as g:
        full = vm_json("backup", g.name, "--to", str(g.root))["backup"]
        write_while_running(g.name, 0x11, 8, 1)
        inc1 = vm_json("backup", g.name, "--to", str(g.root), "--incremental")["backup"]
        write_while_running(g.name, 0x22, 12, 1)
        done = vm_json("backup", g.name, "--to", str(g.root), "--incremental", "--keep", "2")
        inc2 = done["backup"]
        assert isinstance(full, dict)
        assert isinstance(inc1, dict)
        assert isinstance(inc2, dict)
        assert done["removed"] == [full["id"]]
        listed = vm_json("backup", "list", g.name, "--to", str(g.root))["backups"]
        assert isinstance(listed, list)
        # The first increment became the chain's full backup; the newest still builds on it.
        assert [(b["id"], b["kind"], b["parent"]) for b in listed] == [
            (inc1["id"], "full", None),
            (inc2["id"], "incremental", inc1["id"]),
        ]
        assert not Path(str(full["path"])).exists()
        at_inc1 = reference(g.dir / "at-inc1.raw", 32, (0x5A, 0, 4), (0x11, 8, 1))
        at_inc2 = reference(g.dir / "at-inc2.raw", 32, (0x5A, 0, 4), (0x11, 8, 1), (0x22, 12, 1))
        restored = vm_json("backup", "restore", g.name, str(inc2["id"]), "--as", f"{g.name}-r2", "--to", str(g.root))
        assert isinstance(restored["disks"], dict)
        assert same_disk(restored["disks"]["vda"], at_inc2)

        # The same domain: refused while it runs (tested above), asked first when off, disks overwritten.
        virsh("destroy", g.name)
        proc = vm("backup", "restore", g.name, str(inc1["id"]), "--to", str(g.root))
        assert proc.returncode == 2, proc.stderr
        assert "Not asked without a terminal" in proc.stderr
        assert same_disk(g.disk, at_inc2)  # unchanged by the refusal
        back = vm_json("backup", "restore", g.name, str(inc1["id"]), "--to", str(g.root), "--yes")
        assert (back["uuid"], back["state"]) == (g.uuid, "shut-off")
        assert same_disk(g.disk, at_inc1)
        assert checkpoints(g.name) == []  # the old disk's checkpoints went with it
        virsh("start", g.name)
        assert virsh("domstate", g.name).strip() == "running"


def fill(path: Path) -> None:
    """Take every free byte of path's filesystem (QEMU writing there meanwhile): a MiB, then a page, at a time."""
    with open(path, "wb") as fh:
        offset = 0
        for step in (MIB, 4096):
            while True:
                try:
                    os.posix_fallocate(fh.fileno(), offset, step)
                except OSError:  # ENOSPC: this step no longer fits
                    break
                offset += step


def test_a_target_that_fills_up_during_the_job_keeps_nothing(local_conn: Connection) -> None:
    with image_dir() as outer:
        small = outer / "small"
        small.mkdir(mode=0o755)
        # Mounted before the guest starts: QEMU lives in a mount namespace of its own, copied at its start
        # (a tmpfs mounted later would not reach it here, where / is a private mount).
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=320m,mode=0755", "tmpfs", str(small)], check=True)
        try:
            # 256 MiB in use: room enough, with the 16 MiB margin; QEMU copies ~100 MiB before a cap bites.
            with backup_guest(local_conn, disk_mib=1024, data_mib=256) as g:
                proc = subprocess.Popen(
                    [VMTUI, "backup", g.name, "--to", str(small), "-c", LOCAL_URI],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"},
                )  # fmt: skip
                assert proc.stderr is not None
                for line in proc.stderr:
                    if line.startswith("backing up"):  # room was checked: now the job starts
                        set_job_speed(g.name, 1 * MIB)
                        fill(small / "filler")
                        set_job_speed(g.name, 0)
                        break
                out, err = proc.communicate(timeout=120)
                assert proc.returncode == 1, out + err
                last = err.splitlines()[-1]  # after the progress lines: the error, one line with its reason
                assert last.startswith(f"vmtui: error: backup of {g.name} failed: No space left on device"), err
                # Nothing of the backup is left (its folder's parent stays, empty), no checkpoint, no bitmap.
                assert sorted(str(p.relative_to(small)) for p in small.rglob("*")) == ["filler", g.name]
                assert checkpoints(g.name) == []
                assert bitmaps(g.name) == []
        finally:
            subprocess.run(["umount", str(small)], check=True)


class FullAtTheManifest(LocalBackupStore):
    """The disk fills up as the manifest is written, after QEMU's job and the checksums: seen in CI, where the
    filler of the test above took the last room only after QEMU had copied everything."""

    def write_text(self, path: str, text: str) -> None:
        if path.endswith("/manifest.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"{path}.tmp")
        super().write_text(path, text)


def test_a_disk_full_as_the_manifest_is_written_is_one_line_and_keeps_nothing(local_conn: Connection) -> None:
    with backup_guest(local_conn, disk_mib=64, data_mib=8) as g:
        with pytest.raises(OperationError) as caught:
            take_backup(local_conn, FullAtTheManifest(), g.name, root=str(g.root))
        assert caught.value.message == f"backup of {g.name} failed: No space left on device"
        # Nothing of the backup is left (its folder's parent stays, empty), no checkpoint, no bitmap.
        assert sorted(str(p.relative_to(g.root)) for p in g.root.rglob("*")) == [g.name]
        assert checkpoints(g.name) == []
        assert bitmaps(g.name) == []
