"""`vmtui lab image`: a tiny Linux guest (Debian kernel + busybox initramfs) that boots in ~2 s under TCG.

The initramfs holds busybox, the virtio modules the kernel needs for a balloon and a NIC (Debian builds
them as modules), a static memory dirtier (`dirtier.c`) and an init script. Load comes from the kernel
command line: `vmtui_dirty=MiB vmtui_rate=MiB/s` (see `GuestImage.cmdline`). The Debian packages are
fetched with `apt-get download` (nothing is installed) and kept in the cache for rebuilds. apt is asked
as it is configured (APT_CONFIG included): when its package lists are missing (a fresh container), they
are refreshed with `apt-get update` first, or the error says to run it.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vmtui.config import paths
from vmtui.errors import NotFoundError, OperationError
from vmtui.lab.netns import run

KERNEL_META = "linux-image-amd64"
BUSYBOX_PKG = "busybox-static"
APT_ARCHIVES = Path("/var/cache/apt/archives")
BUILD_TOOLS = ("apt-get", "apt-cache", "apt-config", "dpkg-deb", "gcc")
# In load order: each module's dependencies come before it.
MODULES = (
    "drivers/virtio/virtio_ring",
    "drivers/virtio/virtio",
    "drivers/virtio/virtio_pci_modern_dev",
    "drivers/virtio/virtio_pci_legacy_dev",
    "drivers/virtio/virtio_pci",
    "drivers/virtio/virtio_balloon",
    "drivers/block/virtio_blk",
    "net/core/failover",
    "drivers/net/net_failover",
    "drivers/net/virtio_net",
    "drivers/net/ethernet/intel/e1000/e1000",
)
SEED_MODULES = (
    "drivers/scsi/scsi_common",
    "drivers/scsi/scsi_mod",
    "drivers/ata/libata",
    "drivers/ata/libahci",
    "drivers/ata/ahci",
    "drivers/cdrom/cdrom",
    "drivers/scsi/sr_mod",
)
"""q35's SATA CD-ROM, where `vmtui create` attaches a cloud-init seed; loaded in the background, in order."""
INIT = """#!/bin/busybox sh
# vmtui lab guest init: load the virtio modules, start the dirtier and a console shell, stay alive as PID 1.
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in {modules}; do insmod /lib/modules/$m.ko || echo "vmtui-guest: insmod $m failed"; done
ip link set lo up; ip link set eth0 up 2>/dev/null
# The lab's stand-in for cloud-init: a NoCloud seed on the SATA CD-ROM (as `vmtui create` attaches it)
# gives the guest its meta-data's local-hostname, said once on the console and in every "up" line.
(for m in {seed_modules}; do insmod /lib/modules/$m.ko 2>/dev/null; done
 for i in $(seq 1 100); do [ -b /dev/sr0 ] && break; sleep 0.2; done
 h=$(grep -a -m1 '^local-hostname:' /dev/sr0 2>/dev/null | cut -d' ' -f2)
 [ -n "$h" ] && hostname "$h" && echo "VMTUI-SEED hostname=$h") &
echo "VMTUI-GUEST-UP $(cut -d' ' -f1 /proc/uptime) s"
/bin/dirtier &
# A little IO, so that every column of vmtui's table moves: the NIC pings its host's bridge, the disk
# (when there is one) is written and read back every few seconds. Addresses come from the command line.
arg() {{ sed -n "s/.*$1=\\([^ ]*\\).*/\\1/p" /proc/cmdline; }}
ip4=$(arg vmtui_ip); gw=$(arg vmtui_gw); load=$(arg vmtui_load)
[ -n "$ip4" ] && ip addr add "$ip4/24" dev eth0
(while true; do
  if [ -b /dev/vda ]; then
    dd if=/dev/urandom of=/dev/vda bs=64k count=16 conv=fsync 2>/dev/null
    echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda of=/dev/null bs=64k count=16 2>/dev/null
  fi
  [ -n "$gw" ] && [ "$load" != flood ] && ping -c 4 -i 0.25 -W 1 "$gw" >/dev/null 2>&1
  sleep 2
done) &
# vmtui_load=flood: ping the gateway as fast as it answers (the same load on any NIC model, for `lab tour`).
[ "$load" = flood ] && [ -n "$gw" ] && (while true; do ping -A -q -s 1000 "$gw" >/dev/null 2>&1; done) &
# A shell on the serial console (vmtui console, virsh console); cttyhack gives it job control.
(while true; do setsid cttyhack sh -l; done) </dev/console >/dev/console 2>&1 &
while true; do
  echo "vmtui-guest: up $(cut -d' ' -f1 /proc/uptime) s, $(grep MemTotal /proc/meminfo), host $(hostname)"; sleep 10
done
"""

APT_FIX = "run `apt-get update`, then `vmtui lab up` again"
"""What to do when apt cannot name or fetch the kernel (its package lists are missing or stale)."""

Progress = Callable[[str], None]
IMAGE_VERSION = 5
"""Bumped whenever the init or the modules change: an image of another version is rebuilt."""


@dataclass(frozen=True, slots=True)
class GuestImage:
    """A built guest: kernel and initramfs paths, and how long the build took."""

    kernel: Path
    initrd: Path
    kernel_version: str
    build_seconds: float

    @staticmethod
    def cmdline(dirty_mib: int = 0, rate_mib_s: int = 0, *, ip: str = "", gateway: str = "", load: str = "") -> str:
        """Kernel command line; the dirtier rewrites `dirty_mib` MiB at `rate_mib_s` MiB/s (0 = flat out);
        with `ip` and `gateway` the guest sets eth0's address and pings the gateway every few seconds."""
        net = f" vmtui_ip={ip} vmtui_gw={gateway}" if ip else ""
        net += f" vmtui_load={load}" if load else ""
        return f"console=ttyS0 loglevel=4 panic=-1 vmtui_dirty={dirty_mib} vmtui_rate={rate_mib_s}{net}"

    def to_json(self) -> dict[str, object]:
        return {
            "version": IMAGE_VERSION,
            "kernel": str(self.kernel),
            "initrd": str(self.initrd),
            "kernel_version": self.kernel_version,
            "build_seconds": round(self.build_seconds, 2),
        }


def init_script() -> str:
    """The guest's /init, with the module lists filled in."""

    def names(modules: tuple[str, ...]) -> str:
        return " ".join(Path(m).name for m in modules)

    return INIT.format(modules=names(MODULES), seed_modules=names(SEED_MODULES))


def image_dir() -> Path:
    return paths().cache / "guest"


def find_image() -> GuestImage | None:
    """The built image, or None when it is missing or incomplete."""
    meta = image_dir() / "image.json"
    try:
        data = json.loads(meta.read_text())
        if data.get("version") != IMAGE_VERSION:
            return None  # built by an older vmtui: its init lacks what this one expects
        image = GuestImage(Path(data["kernel"]), Path(data["initrd"]), data["kernel_version"], data["build_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return image if image.kernel.is_file() and image.initrd.is_file() else None


def missing_tools() -> list[str]:
    return [tool for tool in BUILD_TOOLS if shutil.which(tool) is None]


def build_image(*, force: bool = False, progress: Progress | None = None) -> GuestImage:
    """Build the guest image into the cache unless it exists (or `force`)."""
    say = progress or (lambda _msg: None)
    existing = find_image()
    if existing and not force:
        return existing
    if missing := missing_tools():
        raise NotFoundError(
            f"building the lab guest image needs {', '.join(missing)}", hint="`make setup` installs them"
        )
    started = time.monotonic()
    _ensure_package_lists(say)
    out = image_dir()
    downloads = paths().cache / "downloads"
    out.mkdir(parents=True, exist_ok=True)
    downloads.mkdir(parents=True, exist_ok=True)
    kernel_pkg = _kernel_package()
    kernel_version = kernel_pkg.removeprefix("linux-image-")
    say(f"image: fetching {kernel_pkg} and {BUSYBOX_PKG}")
    kernel_deb = _fetch_deb(kernel_pkg, downloads)
    busybox_deb = _fetch_deb(BUSYBOX_PKG, downloads)
    say("image: extracting kernel, modules and busybox")
    wanted = {f"./boot/vmlinuz-{kernel_version}": "vmlinuz"}
    wanted |= {f"./lib/modules/{kernel_version}/kernel/{mod}.ko": Path(mod).name for mod in MODULES + SEED_MODULES}
    files = _extract(kernel_deb, wanted)
    files |= _extract(busybox_deb, {"./bin/busybox": "busybox"})
    if missing_files := sorted(set(wanted.values()) - set(files)):
        raise OperationError(f"{kernel_pkg} lacks {', '.join(missing_files)}")
    say("image: compiling the memory dirtier")
    dirtier = _compile_dirtier()
    say("image: writing the initramfs")
    entries: list[tuple[str, int, bytes]] = [(d, 0o40755, b"") for d in ("bin", "dev", "lib", "lib/modules")]
    entries += [(d, 0o40755, b"") for d in ("proc", "sys", "tmp")]
    entries += [
        ("bin/busybox", 0o100755, files["busybox"]),
        ("bin/dirtier", 0o100755, dirtier),
        ("init", 0o100755, init_script().encode()),
    ]
    entries += [(f"lib/modules/{Path(m).name}.ko", 0o100644, files[Path(m).name]) for m in MODULES + SEED_MODULES]
    _write_atomic(out / "initrd.img", gzip.compress(_cpio(entries), compresslevel=1))
    _write_atomic(out / "vmlinuz", files["vmlinuz"])
    image = GuestImage(out / "vmlinuz", out / "initrd.img", kernel_version, time.monotonic() - started)
    _write_atomic(out / "image.json", json.dumps(image.to_json(), indent=2).encode())
    say(f"image: built in {image.build_seconds:.1f} s ({kernel_version})")
    return image


def apt_lists_dir() -> Path:
    """Where apt keeps its package lists, as apt itself is configured (Dir::State::Lists, APT_CONFIG)."""
    out = run(["apt-config", "shell", "LISTS", "Dir::State::Lists/d"]).stdout
    return Path(out.strip().removeprefix("LISTS=").strip("'\""))


def _has_package_lists(lists: Path) -> bool:
    return any(lists.glob("*_Packages*"))


def _ensure_package_lists(say: Progress) -> None:
    """apt's package lists, refreshed with `apt-get update` when there are none; else say what to run."""
    lists = apt_lists_dir()
    if _has_package_lists(lists):
        return
    say(f"image: apt has no package lists ({lists}): running `apt-get update`")
    proc = run(["apt-get", "update"], check=False, timeout=600)
    if proc.returncode != 0:
        raise OperationError(
            f"apt has no package lists ({lists}) and `apt-get update` failed: {_last_line(proc)}", hint=APT_FIX
        )
    if not _has_package_lists(lists):
        raise OperationError(
            f"apt has no package lists ({lists}), even after `apt-get update` (no sources configured?)", hint=APT_FIX
        )
    say("image: apt's package lists refreshed")


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    """What a failed apt command said last (apt ends with its reason), or its exit status."""
    detail = (proc.stderr or proc.stdout).strip().splitlines()
    return detail[-1] if detail else f"exit {proc.returncode}"


def _kernel_package() -> str:
    """The concrete kernel package behind the `linux-image-amd64` meta package."""
    proc = run(["apt-cache", "depends", KERNEL_META], check=False)
    if proc.returncode != 0:
        raise NotFoundError(f"`apt-cache depends {KERNEL_META}` failed: {_last_line(proc)}", hint=APT_FIX)
    for line in proc.stdout.splitlines():
        dep = line.split(":", 1)[-1].strip()
        if line.strip().startswith("Depends:") and dep.startswith("linux-image-"):
            return dep
    raise NotFoundError(f"apt knows no kernel behind {KERNEL_META}", hint=APT_FIX)


def _fetch_deb(package: str, downloads: Path) -> Path:
    """A .deb of `package`: from apt's archive cache, our downloads, or `apt-get download`."""
    for folder in (APT_ARCHIVES, downloads):
        found = sorted(folder.glob(f"{package}_*.deb"))
        if found:
            return found[-1]
    # apt-get download writes to the current directory, so run it there.
    proc = subprocess.run(
        ["apt-get", "download", package], cwd=downloads, capture_output=True, text=True, check=False, timeout=600
    )
    found = sorted(downloads.glob(f"{package}_*.deb"))
    if proc.returncode != 0 or not found:
        raise OperationError(f"apt-get download {package} failed: {proc.stderr.strip()[-300:]}", hint=APT_FIX)
    return found[-1]


def _extract(deb: Path, wanted: dict[str, str]) -> dict[str, bytes]:
    """Read only the `wanted` members (path in the package -> our name) by streaming the data tarball."""
    found: dict[str, bytes] = {}
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|*") as tar:
            for member in tar:
                name = wanted.get(member.name)
                if name and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is not None:
                        found[name] = handle.read()
        proc.stdout.close()
        proc.wait()
    return found


def _compile_dirtier() -> bytes:
    source = Path(__file__).with_name("dirtier.c")
    with tempfile.TemporaryDirectory(prefix="vmtui-dirtier-") as tmp:
        binary = Path(tmp) / "dirtier"
        run(["gcc", "-O2", "-static", "-Wall", "-o", str(binary), str(source)], timeout=120)
        return binary.read_bytes()


def _cpio(entries: list[tuple[str, int, bytes]]) -> bytes:
    """An initramfs in the kernel's `newc` cpio format, with /dev/console so init has a terminal."""
    buf = io.BytesIO()
    records = [*entries, ("dev/console", 0o20600, b"")]

    def record(ino: int, name: str, mode: int, data: bytes, rdev: tuple[int, int] = (0, 0)) -> None:
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0)
        header = b"070701" + b"".join(f"{f:08x}".encode() for f in fields)
        buf.write(header + name.encode() + b"\0")
        buf.write(b"\0" * (-buf.tell() % 4))
        buf.write(data)
        buf.write(b"\0" * (-buf.tell() % 4))

    for ino, (name, mode, data) in enumerate(records, start=1):
        record(ino, name, mode, data, (5, 1) if name == "dev/console" else (0, 0))
    record(0, "TRAILER!!!", 0, b"")
    return buf.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
