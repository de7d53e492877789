"""Full backup of a disk: `vmtui backup` against `virsh backup-begin` with the same target, in one run.

    .venv/bin/python bench/bench_backup.py --size-mib 1024

A diskless guest with one qcow2 disk of `--size-mib` filled with data (qemu-io, before it starts) is
made on qemu:///system and always removed, with its files. Each contender backs the whole disk up
into a fresh folder of the same filesystem; the figures are QEMU's own job time (`domjobinfo
--completed`) and the wall time until the command is done (for vmtui: the checksums and the manifest
too), as throughput of the disk's size: medians over `--rounds`, the contenders taking turns first.
Also the CPU time the contender's own processes used (virsh's, or vmtui's: its start, its calls, the
checksums) and its wall time beyond QEMU's job: both hold still when other work on the machine slows
the job itself down, where the ratios do not.

`--baseline DIR` adds `vmtui backup` of another tree (PYTHONPATH=DIR, for example a `git archive` of the
commit before a change) as a third contender taking its turn in the same rounds: before and after in one
run. The vmtui executable runs whatever `vmtui` its PYTHONPATH finds first; this tree's own contender is
run with PYTHONPATH set to this tree, so both are told apart by the same means.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from lxml import etree

from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml

VMTUI = Path(sys.executable).parent / "vmtui"
LOCAL_URI = "qemu:///system"


def virsh(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["virsh", "-c", LOCAL_URI, *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise SystemExit(f"virsh {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def guest_xml(name: str, disk: Path, *, kvm: bool) -> str:
    """A small diskless BIOS guest (it idles) with the one virtio qcow2 disk to back up."""
    root = etree.fromstring(
        build_guest_xml(GuestSpec(name=name, role="test", domain_type="kvm" if kvm else "qemu", nic_model=None))
    )
    el = etree.SubElement(root.find("devices"), "disk", type="file", device="disk")  # type: ignore[arg-type]
    etree.SubElement(el, "driver", name="qemu", type="qcow2")
    etree.SubElement(el, "source", file=str(disk))
    etree.SubElement(el, "target", dev="vda", bus="virtio")
    return etree.tostring(root, encoding="unicode")


def job_ms(name: str) -> int:
    said = virsh("domjobinfo", name, "--completed")
    line = next(x for x in said.splitlines() if x.startswith("Time elapsed:"))
    return int(line.split()[2])


def children_cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def with_virsh(name: str, target: Path) -> tuple[float, int, float]:
    """backup-begin into `target`, waiting for the job's end as `vmtui backup` does (polling it)."""
    root = etree.Element("domainbackup", mode="push")
    disk = etree.SubElement(etree.SubElement(root, "disks"), "disk", name="vda", backup="yes", type="file")
    etree.SubElement(disk, "target", file=str(target / "vda.qcow2"))
    etree.SubElement(disk, "driver", type="qcow2")
    xml = target / "backup.xml"
    xml.write_bytes(etree.tostring(root))
    started, cpu = time.monotonic(), children_cpu_s()
    virsh("backup-begin", name, str(xml))
    while "Unbounded" in virsh("domjobinfo", name):
        time.sleep(0.05)
    return time.monotonic() - started, job_ms(name), children_cpu_s() - cpu


def with_pull(name: str, target: Path) -> tuple[float, int, float]:
    """Pull mode, the best case of a copy that passes through a client (where a checksum could be taken on
    the way): QEMU exports the point in time over NBD on a unix socket and `qemu-img convert` (C, 16
    requests in flight, writes out of order) copies it into a qcow2; no hash, no CLI of ours. Its "job"
    is the copy's time; the wall runs from backup-begin to the job's end (domjobabort, as a pull client ends it)."""
    sock = target / "nbd.sock"
    os.chmod(target, 0o777)  # QEMU (not root under libvirt) makes the socket here; the folder is the bench's own
    root = etree.Element("domainbackup", mode="pull")
    etree.SubElement(root, "server", transport="unix", socket=str(sock))
    disk = etree.SubElement(etree.SubElement(root, "disks"), "disk", name="vda", backup="yes", type="file")
    etree.SubElement(disk, "scratch", file=str(target / "scratch.qcow2"))
    xml = target / "backup.xml"
    xml.write_bytes(etree.tostring(root))
    started, cpu = time.monotonic(), children_cpu_s()
    virsh("backup-begin", name, str(xml))
    copy_began = time.monotonic()
    subprocess.run(
        ["qemu-img", "convert", "-W", "-m", "16", "-f", "raw", "-O", "qcow2", f"nbd+unix:///vda?socket={sock}",
         str(target / "vda.qcow2")],
        check=True, timeout=600,
    )  # fmt: skip
    copy_ms = int((time.monotonic() - copy_began) * 1000)
    virsh("domjobabort", name)
    return time.monotonic() - started, copy_ms, children_cpu_s() - cpu


def with_vmtui(name: str, root: Path, tree: Path) -> tuple[float, int, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started, cpu = time.monotonic(), children_cpu_s()
    subprocess.run([str(VMTUI), "backup", name, "-c", LOCAL_URI, "--to", str(root), "--json"], check=True,
                   capture_output=True, env=env)  # fmt: skip
    wall, used = time.monotonic() - started, children_cpu_s() - cpu
    # vmtui keeps the newest checkpoint; the next round's full backup must start as the first one did
    # (the bench's own reset, outside the figures).
    for checkpoint in virsh("checkpoint-list", name, "--name").split():
        virsh("checkpoint-delete", name, checkpoint)
    return wall, job_ms(name), used


def phases(name: str, folder: Path, rounds: int, mib: float) -> None:
    """Where `vmtui backup`'s time goes, in this process (no CLI start-up): QEMU's job, the checksum pass
    after it, and the rest (the calls before the job, seeing its end, the manifest, the checkpoints)."""
    from vmtui.drivers import connect
    from vmtui.drivers.backupstore import LocalBackupStore
    from vmtui.ops import backup as ops

    class TimedStore(LocalBackupStore):
        hashing = 0.0

        def sha256_many(self, paths: Sequence[str]) -> dict[str, str]:
            began = time.monotonic()
            try:
                return super().sha256_many(paths)
            finally:
                self.hashing += time.monotonic() - began

    conn = connect(LOCAL_URI)
    try:
        for round_no in range(rounds):
            store = TimedStore()
            began = time.monotonic()
            ops.take_backup(conn, store, name, root=str(folder / f"p{round_no}"))
            wall, job = time.monotonic() - began, job_ms(name) / 1000
            rest = wall - job - store.hashing
            print(
                f"  in process, round {round_no + 1}: wall {wall:5.2f} s = job {job:5.2f} s"
                f" + checksums {store.hashing:5.2f} s ({mib / store.hashing:5.0f} MiB/s) + the rest {rest:5.2f} s"
            )
            for checkpoint in virsh("checkpoint-list", name, "--name").split():
                virsh("checkpoint-delete", name, checkpoint)
            subprocess.run(["rm", "-rf", str(folder / f"p{round_no}")], check=True)
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--baseline", type=Path, action="append", default=[], help="another vmtui tree (PYTHONPATH); repeatable"
    )
    parser.add_argument("--pull", action="store_true", help="also pull mode through qemu-img (see with_pull)")
    parser.add_argument("--phases", action="store_true", help="then split this tree's time, in process (see phases)")
    args = parser.parse_args()
    trees = {"vmtui backup": Path(__file__).resolve().parent.parent}
    for tree in args.baseline:
        trees[f"vmtui {tree.name}"] = tree.resolve()
    size = args.size_mib * 1024 * 1024
    name = f"vmtui-bench-{secrets.token_hex(3)}"
    folder = Path(tempfile.mkdtemp(prefix="vmtui-bench-backup-"))
    os.chmod(folder, 0o755)
    try:
        disk = folder / "disk.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), f"{args.size_mib}M"], check=True)
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0x5a 0 {args.size_mib}M", str(disk)],
                       check=True, capture_output=True)  # fmt: skip
        kvm = os.path.exists("/dev/kvm")
        (folder / "guest.xml").write_text(guest_xml(name, disk, kvm=kvm))
        virsh("define", str(folder / "guest.xml"))
        virsh("start", name)
        labels = ["virsh backup-begin", *(["pull via qemu-img"] if args.pull else []), *trees]
        results: dict[str, list[tuple[float, int, float]]] = {label: [] for label in labels}
        for round_no in range(args.rounds):
            # Contenders take turns first: the one that runs second finds more of the disk in the page cache.
            shift = round_no % len(labels)
            for label in labels[shift:] + labels[:shift]:
                target = folder / f"r{round_no}-{''.join(c if c.isalnum() else '-' for c in label)}"
                target.mkdir(mode=0o755)
                if label in trees:
                    results[label].append(with_vmtui(name, target, trees[label]))
                elif label.startswith("pull"):
                    results[label].append(with_pull(name, target))
                else:
                    results[label].append(with_virsh(name, target))
                subprocess.run(["rm", "-rf", str(target)], check=True)
        mib = size / 1024 / 1024
        print(
            f"full backup of a {args.size_mib} MiB disk (all data), {args.rounds} rounds, load {os.getloadavg()[0]:.2f}"
        )
        medians = {}
        for label, runs in results.items():
            wall = statistics.median(r[0] for r in runs)
            job = statistics.median(r[1] for r in runs)
            cpu = statistics.median(r[2] for r in runs)
            beyond = statistics.median(r[0] - r[1] / 1000 for r in runs)
            medians[label] = (wall, job)
            job_rate, wall_rate = mib / (job / 1000), mib / wall
            print(
                f"{label:22} job {job:6.0f} ms {job_rate:5.0f} MiB/s   wall {wall:5.2f} s {wall_rate:5.0f} MiB/s"
                f"   cpu {cpu:5.2f} s   wall beyond the job {beyond:5.2f} s"
            )
        virsh_wall, virsh_job = medians["virsh backup-begin"]
        ratios = {}
        for label in labels[1:]:
            vmtui_wall, vmtui_job = medians[label]
            key = "" if label == "vmtui backup" else label.split(maxsplit=1)[1] + "_"
            if label.startswith("pull"):
                key = "pull_"
            ratios[f"{key}job_ratio"] = round(virsh_job / vmtui_job, 2)
            ratios[f"{key}wall_ratio"] = round(virsh_wall / vmtui_wall, 2)
        print(json.dumps(ratios))
        if args.phases:
            phases(name, folder, args.rounds, mib)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    finally:
        virsh("destroy", name, check=False)
        virsh("undefine", name, "--checkpoints-metadata", check=False)
        subprocess.run(["rm", "-rf", str(folder)], check=False)


if __name__ == "__main__":
    main()
