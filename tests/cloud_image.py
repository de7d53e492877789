"""A real cloud-init guest for the tests: Debian's own cloud-init and qemu-guest-agent on a small image.

Built once with mmdebstrap from the host's Debian mirror (the release the host runs), without a
bootloader: the test boots the image's kernel and initrd directly (`vmtui create --kernel --initrd
--cmdline root=/dev/vda`). The file system is made by `mkfs.ext4 -d` from the tree, so no loop
device or mount is needed, then compressed to qcow2. Images are cached under a directory named by a
hash of this file (a changed recipe builds a new one) and guarded by a lock file: a build
started in the background (scripts/run-tests.sh starts one before the suite) and the test's fixture
wait for each other, and whoever comes second finds the image made.

Run as a script to build (or find) the image and print where it is:
`python tests/cloud_image.py [CACHE_DIR]`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE_ENV = "VMTUI_TEST_CLOUD_IMAGE_CACHE"
DEFAULT_CACHE = ROOT / ".pytest_cache" / "d" / "vmtui-cloud-image"
"""Beside pytest's own cache (where the lab's kernel download is kept), kept across runs."""
HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
"""The host's Debian mirror (deb822), pasted into the image's sources; else deb.debian.org."""

PACKAGES = (
    "systemd",
    "systemd-sysv",
    "udev",  # names the agent's port (/dev/virtio-ports/...), which starts qemu-guest-agent.service
    "cloud-init",
    "qemu-guest-agent",
    # The generic kernel, not linux-image-cloud-amd64: the cloud kernel has no AHCI driver, and q35
    # puts vmtui's seed CD-ROM on its SATA controller.
    "linux-image-amd64",
    "initramfs-tools",
)
_MODULES = "/lib/modules/*/kernel"
EXCLUDED_PATHS = (
    "/usr/share/doc/*",
    "/usr/share/man/*",
    "/usr/share/info/*",
    "/usr/share/locale/*",
    # Hardware a q35 guest with virtio devices never has: most of the kernel's modules.
    f"{_MODULES}/sound/*",
    f"{_MODULES}/drivers/gpu/*",
    f"{_MODULES}/drivers/media/*",
    f"{_MODULES}/drivers/net/wireless/*",
    f"{_MODULES}/drivers/net/ethernet/*",
    f"{_MODULES}/drivers/infiniband/*",
    f"{_MODULES}/drivers/staging/*",
    f"{_MODULES}/drivers/usb/*",
    f"{_MODULES}/drivers/bluetooth/*",
    f"{_MODULES}/drivers/iio/*",
    f"{_MODULES}/drivers/isdn/*",
    f"{_MODULES}/drivers/mtd/*",
    f"{_MODULES}/drivers/scsi/*/*",  # host adapters; sr_mod, scsi_mod and virtio_scsi sit at the top
    f"{_MODULES}/net/wireless/*",
    f"{_MODULES}/net/mac80211/*",
    f"{_MODULES}/net/bluetooth/*",
)
INITRAMFS_MODULES = ("virtio_pci", "virtio_blk", "ext4", "crc32c_generic")
"""All the initramfs needs to mount / (ext4 needs its crc32c); MODULES=list keeps it small and quick to unpack."""
CLOUD_CFG = """\
# vmtui's test image: the seed is the only source (no waiting for metadata services on the network),
# and no module that needs what the image leaves out (apt, locales, ssh-keygen, a network renderer).
datasource_list: [NoCloud, None]
network: {config: disabled}
ssh_deletekeys: false
ssh_genkeytypes: []
cloud_init_modules: [seed_random, bootcmd, write-files, set_hostname, update_hostname, update_etc_hosts,
  users-groups, ssh]
cloud_config_modules: [runcmd]
cloud_final_modules: [scripts-per-once, scripts-per-boot, scripts-per-instance, scripts-user, final-message]
"""
MASKED_UNITS = (
    # Nothing for them to do in a throw-away guest, and each costs seconds under TCG.
    "fstrim.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "systemd-pstore.service",
    "cloud-init-hotplugd.socket",
)
IMAGE_HOSTNAME = "vmtui-cloud-image"
"""The image's own hostname, until cloud-init sets the seeded one."""
CMDLINE = "root=/dev/vda rw console=ttyS0 loglevel=4 systemd.show_status=false"
DISK_BYTES = 1536 * 2**20
"""The file system's size; the qcow2 holds only what is written."""
BUILD_TIMEOUT = 900.0


@dataclass(frozen=True, slots=True)
class CloudImage:
    disk: Path
    kernel: Path
    initrd: Path
    cmdline: str
    build_seconds: float
    """How long the build took when it was made (from nothing but the apt mirror)."""

    @property
    def disk_bytes(self) -> int:
        return self.disk.stat().st_size


def suite() -> str:
    """The host's Debian release (bookworm): the image matches the host."""
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    raise RuntimeError("/etc/os-release names no VERSION_CODENAME: not a Debian host")


def recipe_key() -> str:
    """A hash of the recipe: this file (package list, excluded paths, cloud-init's configuration, the
    build steps) and the release it builds. Any change to it builds a new image."""
    return hashlib.sha256(Path(__file__).read_bytes() + suite().encode()).hexdigest()[:16]


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def _find(entry: Path) -> CloudImage | None:
    try:
        data = json.loads((entry / "image.json").read_text())
        image = CloudImage(
            entry / data["disk"], entry / data["kernel"], entry / data["initrd"], data["cmdline"], data["build_seconds"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return image if all(p.is_file() for p in (image.disk, image.kernel, image.initrd)) else None


def ensure(cache: Path | None = None, *, timeout: float = BUILD_TIMEOUT) -> CloudImage:
    """The image of this recipe: found in `cache`, else built there (waiting, up to `timeout` seconds, for
    a build another process is making)."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    entry = cache / recipe_key()
    with (cache / f"{entry.name}.lock").open("w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another build of {entry} held its lock for {timeout:.0f} s") from None
                time.sleep(0.5)
        found = _find(entry)
        if found is not None:
            return found
        for stale in cache.glob(f"{entry.name}-*"):
            _remove_tree(stale)  # a build killed half-way (only the lock's holder builds)
        started = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix=f"{entry.name}-", dir=cache))
        try:
            _build(work)
            (work / "image.json").write_text(
                json.dumps(
                    {
                        "disk": "disk.qcow2",
                        "kernel": "vmlinuz",
                        "initrd": "initrd.img",
                        "cmdline": CMDLINE,
                        "build_seconds": round(time.monotonic() - started, 1),
                    }
                )
            )
            shutil.rmtree(entry, ignore_errors=True)
            work.rename(entry)
        finally:
            _remove_tree(work)
        image = _find(entry)
        assert image is not None
        return image


def _remove_tree(path: Path) -> None:
    """rm -rf `path`, unless something is still mounted in it (never from mmdebstrap's unshare mode, but
    rm -rf must not reach into a host's /dev): then the tree is left and said."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    inside = [m for m in mounts if m.startswith(f"{path}/")]
    if inside:
        print(f"cloud_image: left {path} as it is: {', '.join(inside)} still mounted there", file=sys.stderr)
        return
    shutil.rmtree(path, ignore_errors=True)


def _essential_hook() -> str:
    """Shell run by mmdebstrap before the kernel is installed: the initramfs's module list."""
    modules = "\\n".join(INITRAMFS_MODULES)
    return (
        'mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"'
        ' && echo MODULES=list > "$1/etc/initramfs-tools/conf.d/vmtui.conf"'
        f' && printf "{modules}\\n" > "$1/usr/share/initramfs-tools/modules.d/vmtui"'
    )


def _build(work: Path) -> None:
    tree = work / "tree"
    command = [
        "mmdebstrap",
        "--quiet",
        "--variant=essential",
        # Its own mount namespace: the /dev, /proc and /sys it mounts in the tree go with it, even when killed.
        "--mode=unshare",
        f"--include={','.join(PACKAGES)}",
        f"--essential-hook={_essential_hook()}",
        *(f"--dpkgopt=path-exclude={p}" for p in EXCLUDED_PATHS),
        suite(),
        str(tree),
    ]
    if HOST_SOURCES.is_file():
        command.append(str(HOST_SOURCES))
    _run_or_kill(command)
    _configure(tree)
    boot = tree / "boot"
    shutil.copyfile(next(boot.glob("vmlinuz-*")), work / "vmlinuz")
    shutil.copyfile(next(boot.glob("initrd.img-*")), work / "initrd.img")
    raw = work / "disk.raw"
    with raw.open("wb") as f:
        f.truncate(DISK_BYTES)
    subprocess.run(["mkfs.ext4", "-q", "-L", "root", "-d", str(tree), str(raw)], check=True)
    _remove_tree(tree)
    subprocess.run(
        ["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", str(raw), str(work / "disk.qcow2")], check=True
    )
    raw.unlink()


def _run_or_kill(command: list[str]) -> None:
    """Run `command` in a process group of its own; on Ctrl-C or SIGTERM kill the whole group (mmdebstrap
    itself finishes its apt and dpkg run before it heeds SIGTERM) before the tree is removed."""
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        code = proc.wait()
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if code != 0:
        raise subprocess.CalledProcessError(code, command[0])


def _configure(tree: Path) -> None:
    """What a cloud image vendor sets: cloud-init's sources and modules, a neutral hostname, no slow units."""
    (tree / "etc/cloud/cloud.cfg.d/99-vmtui-test.cfg").write_text(CLOUD_CFG)
    (tree / "etc/hostname").write_text(IMAGE_HOSTNAME + "\n")
    (tree / "etc/fstab").write_text("/dev/vda / ext4 rw,noatime 0 1\n")
    for unit in MASKED_UNITS:
        link = tree / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    # The package's module index still names the modules left out: rebuild it for the ones there are.
    for modules in (tree / "lib/modules").iterdir():
        subprocess.run(["chroot", str(tree), "depmod", modules.name], check=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)  # a stopped build removes what it made, as on Ctrl-C
    cache = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    image = ensure(cache)
    print(
        json.dumps(
            {
                "disk": str(image.disk),
                "disk_bytes": image.disk_bytes,
                "kernel": str(image.kernel),
                "initrd": str(image.initrd),
                "build_seconds": image.build_seconds,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
