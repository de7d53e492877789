"""A disk image or an ISO on this machine (the client), read before it is uploaded to a host.

`qemu-img info --output=json` says the format, the virtual size and the backing file, as it would
for QEMU itself. qemu-img calls any file it does not recognise "raw", so a raw image must also look
like a disk (a whole number of 512-byte sectors holding a partition table or a file system), or a
text file, a tarball or an ISO would be taken for a disk and the guest would not boot.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vmtui.errors import NotFoundError, OperationError, UsageError

QEMU_IMG_TIMEOUT = 30.0
DISK_FORMATS = ("qcow2", "raw")
ISO_MAGIC_OFFSET = 0x8001
"""ISO 9660's "CD001" at the first volume descriptor (sector 16 of 2048 bytes, plus one)."""
PVD_OFFSET = 16 * 2048
PVD_SIZE = 2048
"""The primary volume descriptor: where an ISO's volume label is."""
SEED_LABEL = "cidata"
"""The label cloud-init's NoCloud data source looks for (it also accepts CIDATA)."""


@dataclass(frozen=True, slots=True)
class ImageFacts:
    path: Path
    format: str
    """qcow2, raw, iso (raw with an ISO 9660 volume descriptor), or what qemu-img said."""
    virtual_size: int
    """What the guest sees, in bytes."""
    file_size: int
    """The bytes to upload (the file's length)."""
    backing: str | None = None
    """The backing file a qcow2 names (it would not be on the host)."""


def readable_file(path: Path, option: str) -> Path:
    """`path` as a regular file this user can read; one-line UsageError otherwise."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{option} {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{option} {path}: {exc.strerror}") from None
    if not path.is_file():
        raise UsageError(f"{option} {path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{option} {path}: not readable (permission denied)")
    if st.st_size == 0:
        raise UsageError(f"{option} {path}: the file is empty")
    return path


def _head(path: Path, length: int) -> bytes:
    with path.open("rb") as f:
        return f.read(length)


def is_iso(path: Path) -> bool:
    return _head(path, ISO_MAGIC_OFFSET + 5)[ISO_MAGIC_OFFSET:] == b"CD001"


def iso_label(sector: bytes) -> str | None:
    """The volume label of an ISO 9660 primary volume descriptor (the 2048 bytes at 32768), or None."""
    if len(sector) < 72 or sector[0] != 1 or sector[1:6] != b"CD001":
        return None
    return sector[40:72].decode("ascii", "replace").strip()


def is_seed_label(sector: bytes) -> bool:
    """Whether that descriptor names a NoCloud seed: cloud-init takes `cidata` or `CIDATA`."""
    label = iso_label(sector)
    return label is not None and label.lower() == SEED_LABEL


def looks_like_disk(path: Path) -> bool:
    """A raw file that is a disk: an MBR/GPT boot signature, or an ext2/3/4, XFS or btrfs superblock."""
    head = _head(path, 0x10040 + 8)
    return (
        head[510:512] == b"\x55\xaa"
        or head[1080:1082] == b"\x53\xef"
        or head[:4] == b"XFSB"
        or head[0x10040 : 0x10040 + 8] == b"_BHRfS_M"
    )


def qemu_img_info(path: Path) -> dict[str, object]:
    """`qemu-img info --output=json` of a local file (-U: a running guest's image is still readable)."""
    try:
        proc = subprocess.run(
            ["qemu-img", "info", "-U", "--output=json", "--", str(path)],
            capture_output=True,
            text=True,
            timeout=QEMU_IMG_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise NotFoundError("qemu-img is not installed on this machine", hint="apt-get install qemu-utils") from None
    except subprocess.TimeoutExpired:
        raise OperationError(f"qemu-img info {path}: no answer in {QEMU_IMG_TIMEOUT:g} s") from None
    if proc.returncode != 0:
        said = (proc.stderr.strip().splitlines() or ["failed"])[-1].removeprefix("qemu-img: ")
        raise UsageError(f"{path}: qemu-img cannot read it: {said}")
    info: dict[str, object] = json.loads(proc.stdout)
    return info


def inspect_image(path: Path, option: str = "--image") -> ImageFacts:
    """The facts of a disk image to upload; UsageError for a file that is not a qcow2 or raw disk."""
    readable_file(path, option)
    info = qemu_img_info(path)
    fmt = str(info.get("format", ""))
    size = int(str(info.get("virtual-size", 0)))
    backing = info.get("backing-filename") or info.get("full-backing-filename")
    file_size = path.stat().st_size
    if fmt == "raw":
        if is_iso(path):
            raise UsageError(f"{option} {path} is an ISO 9660 image, not a disk", hint="use --iso for an installer")
        if file_size % 512 or not looks_like_disk(path):
            raise UsageError(
                f"{option} {path} is not a disk image (qemu-img reads it as raw data with no partition table "
                "or file system)"
            )
    elif fmt not in DISK_FORMATS:
        raise UsageError(f"{option} {path} is a {fmt} image; vmtui uploads qcow2 or raw", hint="qemu-img convert it")
    return ImageFacts(path, fmt, size, file_size, str(backing) if backing else None)


def inspect_iso(path: Path, option: str = "--iso") -> ImageFacts:
    readable_file(path, option)
    if not is_iso(path):
        raise UsageError(f"{option} {path} is not an ISO 9660 image (no CD001 volume descriptor)")
    size = path.stat().st_size
    return ImageFacts(path, "raw", size, size)


def inspect_boot_file(path: Path, option: str) -> ImageFacts:
    """A kernel or initrd to upload as a raw volume: only readable is asked of it."""
    readable_file(path, option)
    size = path.stat().st_size
    return ImageFacts(path, "raw", size, size)
