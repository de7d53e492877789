"""Provisioning over qemu+ssh, in one run (not part of `make bench`): the upload of a 1 GiB image by
`vmtui create` against `virsh vol-upload`, and a linked clone of a template defined and started.

    VMTUI_LAB_ID=15 .venv/bin/python bench/bench_provision.py --rounds 4 --clones 7

Brings up its own one-host lab (VMTUI_LAB_ID, default 11; a private VMTUI_HOME; its guests not
started) and always takes it down; `--uri URI` uses a host you brought up instead (its pool `default`)
and leaves it up. Everything the bench makes is named `vmtui-bench-<random>...` and removed at the end,
also on failure or Ctrl-C: the domains, their volumes, the image in /tmp.

1. **Upload**: a qcow2 of `--size-mib` (default 1024) full of random data (no holes, nothing to
   compress), made in /tmp. Per round, each contender in turn (who goes first alternates):
   - `virsh vol-upload`: the volume is made first (`vol-create-as`, untimed); timed is the one virsh
     command (its start, the SSH connection, the upload), and by virsh itself (`--timing`) the upload alone;
   - `vmtui create NAME --image FILE` (not started): the whole command as a user runs it (its start,
     `qemu-img info`, the pool checks, the SSH connection, the volume, the upload through libvirt's
     stream, the definition), and, from the time its progress lines reach the bench, the upload alone
     (from "uploading ..." to "defining ..."). The domain and its volume go after each round, untimed.
   Throughput is the file's size over the time, for the upload alone (virsh's own `--timing` of the
   command, after it connected; vmtui's from its "uploading" progress line to its "defining" one) and for
   the whole command. The ratio is vmtui's throughput over virsh's, median over median (goal >= 0.9x).
2. **Linked clone**: a template made once with `vmtui create` (a 16 MiB qcow2 with data, a cloud-init
   seed, 128 MiB, TCG, user networking) and `vmtui template`. Per round, `vmtui clone TEMPLATE NEW
   --linked --start`, timed from the command's start to its end: the end comes once libvirt reports the
   domain started, before the guest's own boot (it has no OS to boot: a BIOS guest idling at "no bootable
   device"). Checked running with virsh; removed with `vmtui delete --force --storage` (untimed). Median
   (goal < 2 s), and where the time goes from the progress lines.

vmtui runs with a bytecode cache (a throw-away PYTHONPYCACHEPREFIX, PYTHONDONTWRITEBYTECODE dropped), as an
installed vmtui does; an untimed `create --dry-run` and an untimed first clone write it.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VMTUI = str(ROOT / ".venv" / "bin" / "vmtui")
POOL = "default"
MIB = 1024 * 1024
GUEST = ["--memory", "128M", "--network", "user", "--accel", "tcg"]
"""What the bench's guests are: small, and the same on any host (no KVM or network needed)."""


def virsh(uri: str, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["virsh", "-q", "-c", uri, *args], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise SystemExit(f"virsh {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


@dataclass
class Timed:
    wall: float
    out: str
    lines: list[tuple[float, str]] = field(default_factory=list)
    """The command's stderr lines, each with the seconds since its start when the bench read it."""

    def virsh_command_s(self) -> float:
        """The one command's own time as `virsh --timing` prints it: after connecting, before closing."""
        found = re.search(r"\(Time: ([\d.]+) ms\)", self.out)
        assert found, self.out
        return float(found.group(1)) / 1000

    def between(self, first: str, then: str) -> float:
        """Seconds from the first line starting with `first` to the first later one starting with `then`."""
        start = next(t for t, line in self.lines if line.startswith(first))
        return next(t for t, line in self.lines if t >= start and line.startswith(then)) - start


def timed(cmd: list[str]) -> Timed:
    """Run `cmd`, reading its stderr line by line as it comes (vmtui's progress lines, timestamped)."""
    began = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    assert proc.stdout is not None
    lines = [(time.monotonic() - began, line.strip()) for line in proc.stderr]
    out = proc.stdout.read()
    proc.wait()
    wall = time.monotonic() - began
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({proc.returncode}): {out[-500:]}{lines[-5:]}")
    return Timed(wall, out, lines)


def make_image(folder: Path, size_mib: int) -> Path:
    """A qcow2 with `size_mib` MiB of random data: vmtui refuses a raw file that holds no disk layout."""
    raw = folder / "image.raw"
    with raw.open("wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(MIB))
    image = folder / "image.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(image)], check=True)
    raw.unlink()
    return image


def baseline_vmtui(tree: Path) -> list[str]:
    """vmtui of another tree (a `git archive` of the base commit), run with this venv's Python."""
    return ["env", f"PYTHONPATH={tree}", sys.executable, "-m", "vmtui"]


def upload_part(uri: str, image: Path, prefix: str, rounds: int, baseline: Path | None) -> dict[str, list[Timed]]:
    size = image.stat().st_size
    commands = {"vmtui create": [VMTUI]}
    if baseline is not None:
        commands["vmtui create, baseline"] = baseline_vmtui(baseline)
    # Untimed: the bytecode of what creating imports is written before the first timed run.
    for vmtui in commands.values():
        timed(
            [*vmtui, "create", f"{prefix}-warm", "-c", uri, "--image", str(image), "--pool", POOL, *GUEST, "--dry-run"]
        )
    runs: dict[str, list[Timed]] = {"virsh vol-upload": [], **{label: [] for label in commands}}
    for r in range(rounds):
        order = list(runs) if r % 2 == 0 else list(reversed(runs))
        for label in order:
            name = f"{prefix}-up{r}"
            if label.startswith("virsh"):
                virsh(uri, "vol-create-as", POOL, f"{name}.raw", str(size), "--format", "raw")
                runs[label].append(timed(["virsh", "-t", "-q", "-c", uri, "vol-upload", "--pool", POOL, f"{name}.raw",
                                          str(image)]))  # fmt: skip
                virsh(uri, "vol-delete", "--pool", POOL, f"{name}.raw")
            else:
                create = [*commands[label], "create", name, "-c", uri, "--image", str(image), "--pool", POOL]
                runs[label].append(timed([*create, *GUEST]))
                subprocess.run([VMTUI, "delete", name, "-c", uri, "--storage", "--yes", "--json"], check=True,
                               capture_output=True)  # fmt: skip
        print(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{label} {runs[label][-1].wall:.2f} s" for label in runs) + f", load {os.getloadavg()[0]:.1f}",
            flush=True)  # fmt: skip
    return runs


def clone_part(uri: str, prefix: str, rounds: int, folder: Path) -> list[Timed]:
    disk = folder / "template.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    subprocess.run(["qemu-io", "-c", "write -P 0x5a 0 4M", str(disk)], check=True, capture_output=True)
    template = f"{prefix}-tpl"
    timed([VMTUI, "create", template, "-c", uri, "--image", str(disk), "--pool", POOL, "--hostname", "tpl", *GUEST])
    timed([VMTUI, "template", template, "-c", uri])
    runs: list[Timed] = []
    for r in range(-1, rounds):  # round -1: untimed, it writes the bytecode of what cloning imports
        name = f"{template}-c{r + 1}"
        done = timed([VMTUI, "clone", template, name, "--linked", "--start", "-c", uri])
        state = virsh(uri, "domstate", name).strip()
        if state != "running":
            raise SystemExit(f"{name} is {state} after `vmtui clone --start`")
        subprocess.run([VMTUI, "delete", name, "-c", uri, "--force", "--storage", "--yes", "--json"], check=True,
                       capture_output=True)  # fmt: skip
        if r >= 0:
            runs.append(done)
            print(f"  clone {r + 1}/{rounds}: {done.wall:.2f} s, load {os.getloadavg()[0]:.1f}", flush=True)
    return runs


def remove_everything(uri: str, prefix: str) -> None:
    """Every domain and volume named PREFIX...: what the bench made, whatever state it stopped in."""
    for name in virsh(uri, "list", "--all", "--name", check=False).split():
        if name.startswith(prefix):
            virsh(uri, "destroy", name, check=False)
            virsh(uri, "undefine", name, check=False)
    virsh(uri, "pool-refresh", POOL, check=False)
    for line in virsh(uri, "vol-list", POOL, check=False).splitlines():
        if line.split() and line.split()[0].startswith(prefix):
            virsh(uri, "vol-delete", "--pool", POOL, line.split()[0], check=False)


def report_upload(runs: dict[str, list[Timed]], size: int) -> None:
    mib = size / MIB
    virsh_runs = runs["virsh vol-upload"]
    print(f"part 1: upload of {mib:.0f} MiB (random data, qcow2) to pool {POOL}, medians of {len(virsh_runs)}")
    virsh_alone = statistics.median(t.virsh_command_s() for t in virsh_runs)
    virsh_whole = statistics.median(t.wall for t in virsh_runs)
    print(f"  virsh vol-upload: upload alone {virsh_alone:5.2f} s {mib / virsh_alone:5.0f} MiB/s, "
          f"whole command {virsh_whole:5.2f} s {mib / virsh_whole:5.0f} MiB/s")  # fmt: skip
    for label, vmtui_runs in runs.items():
        if label == "virsh vol-upload":
            continue
        alone = statistics.median(t.between("uploading", "defining") for t in vmtui_runs)
        whole = statistics.median(t.wall for t in vmtui_runs)
        print(f"  {label}: upload alone {alone:5.2f} s {mib / alone:5.0f} MiB/s ({virsh_alone / alone:.2f}x virsh), "
              f"whole command {whole:5.2f} s {mib / whole:5.0f} MiB/s ({virsh_whole / whole:.2f}x virsh)")  # fmt: skip
    print(
        "    (the upload alone: virsh's own `--timing` of the command; vmtui's from its \"uploading\" progress line "
        'to "defining". The whole command: vmtui also checks the image and the pool and defines the domain)'
    )
    print(f"    virsh vol-upload, each run, upload s: {' '.join(f'{t.virsh_command_s():.2f}' for t in virsh_runs)}")
    for label, vmtui_runs in runs.items():
        if label != "virsh vol-upload":
            print(f"    {label}, each run, upload s: "
                  + " ".join(f"{t.between('uploading', 'defining'):.2f}" for t in vmtui_runs))  # fmt: skip


def report_clone(runs: list[Timed]) -> None:
    walls = [t.wall for t in runs]
    median = statistics.median(walls)
    print(f"part 2: linked clone defined and started, {len(runs)} rounds: median {median:.2f} s "
          f"(min {min(walls):.2f}, max {max(walls):.2f}), goal < 2 s: {'met' if median < 2 else 'MISSED'}")  # fmt: skip
    print(f"    each run, s: {' '.join(f'{w:.2f}' for w in walls)}")

    def at(t: Timed, start: str) -> float:
        return next(s for s, line in t.lines if line.startswith(start))

    # The progress lines: the plan's volumes ("NEW: ..."), then "defining NEW", then "starting NEW".
    phases = {
        "vmtui's start, SSH connection, plan": [t.lines[0][0] for t in runs],
        "overlay and seed made": [at(t, "defining") - t.lines[0][0] for t in runs],
        "defined": [at(t, "starting") - at(t, "defining") for t in runs],
        "started (QEMU), exit": [t.wall - at(t, "starting") for t in runs],
    }
    print("    where it goes, median s: " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in phases.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, help="upload rounds (each contender once per round)")
    parser.add_argument("--clones", type=int, default=7, help="linked clones, one after another")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--baseline", type=Path, help="another tree's vmtui (a `git archive`) as a third contender")
    parser.add_argument("--uri", help="a host you brought up (its pool `default`); else a lab of its own")
    args = parser.parse_args()
    os.environ.setdefault("VMTUI_LAB_ID", "11")
    home = Path(tempfile.mkdtemp(prefix="vmtui-bench-provision-"))
    os.environ["VMTUI_HOME"] = str(home)
    folder = Path(tempfile.mkdtemp(prefix="vmtui-bench-provision-img-"))
    # vmtui as installed: with bytecode caches, which this environment may forbid writing
    # (PYTHONDONTWRITEBYTECODE: every run would compile vmtui again). A throw-away cache, as startup.py.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    prefix = f"vmtui-bench-{secrets.token_hex(3)}"
    sys.path.insert(0, str(ROOT))
    from vmtui.lab import manager

    uri = args.uri
    try:
        if uri is None:
            print(f"lab {os.environ['VMTUI_LAB_ID']}: bringing one host up", flush=True)
            uri = manager.up(1, start_guests=False)[0].uri
        image = make_image(folder, args.size_mib)
        subprocess.run(["cat", str(image)], stdout=subprocess.DEVNULL, check=True)  # in the page cache for both
        print(f"load average {os.getloadavg()}, {os.cpu_count()} CPUs, host {uri.split('?')[0]}", flush=True)
        uploads = upload_part(uri, image, prefix, args.rounds, args.baseline)
        clones = clone_part(uri, prefix, args.clones, folder)
        print(f"load average {os.getloadavg()}")
        report_upload(uploads, image.stat().st_size)
        report_clone(clones)
    finally:
        if uri is not None:
            remove_everything(uri, prefix)
        if args.uri is None:
            manager.down()
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
