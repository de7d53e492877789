"""`vmtui disk resize`: grow a domain's disk, live through QEMU or offline on its volume.

A running (or paused) domain's disk grows through libvirt's blockResize: QEMU grows the image and the
guest sees the new size at once (a virtio disk raises a capacity change; the file system inside is
the guest's to grow). A shut-off domain's disk grows on its storage volume (libvirt runs qemu-img
resize for qcow2). Shrinking is refused: the end of the disk holds the guest's data (a partition, a
file system) and nothing here can tell that it is unused. The size is read by the one size parser
(`ops.sizes`); "+5G" grows by that much, "20G" to that size. A growth larger than the free room of
the volume's pool is refused before anything: a thin image would fill the pool as the guest writes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.provision import Provisioner, provisioner
from vmtui.drivers.resources import VolumeInfo
from vmtui.drivers.xml.parts import read_disks
from vmtui.errors import NotFoundError, OperationError, UsageError
from vmtui.models import DiskFile, DomainInfo
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.busy import refuse_if_migrating
from vmtui.ops.sizes import parse_size
from vmtui.ops.storage import MAX_BYTES
from vmtui.present import size

LIVE_STATES = ("running", "paused", "blocked")
"""QEMU runs: its block layer grows the image."""
SECTOR = 512


def new_capacity(text: str, current: int) -> int:
    """The size `text` asks for: "+5G" is `current` plus 5 GiB, "20G" is 20 GiB (a unit is needed)."""
    stripped = text.strip()
    if stripped.startswith("-"):
        raise UsageError(f"size {stripped!r}: shrinking a disk is refused", hint="give the new size, or +SIZE to grow")
    if stripped.startswith("+"):
        return current + parse_size(stripped[1:])
    return parse_size(stripped)


@dataclass(frozen=True, slots=True)
class ResizePlan:
    host: str
    domain: DomainInfo
    target: str
    path: str
    current: int
    capacity: int
    live: bool
    volume: VolumeInfo | None
    """The disk's volume (None for a running domain's file that no pool holds)."""

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "domain": self.domain.name,
            "target": self.target,
            "path": self.path,
            "before": self.current,
            "after": self.capacity,
            "live": self.live,
            "pool": self.volume.pool if self.volume else None,
        }


def _disk(xml: str, target: str, name: str) -> DiskFile:
    disks = read_disks(xml)
    for disk in disks:
        if disk.target == target:
            return disk
    have = ", ".join(d.target for d in disks) or "none"
    raise UsageError(f"{name} has no disk {target!r} (its disks: {have})")


def _volume_of(prov: Provisioner, disk: DiskFile) -> VolumeInfo | None:
    if disk.source_type == "volume":
        pool, _, vol = (disk.source or "").partition("/")
        try:
            return prov.volume(pool, vol)
        except NotFoundError:
            return None
    return prov.volume_at(disk.source) if disk.source and disk.source_type == "file" else None


@dataclass(frozen=True, slots=True)
class DiskNow:
    """A domain's disk as it is before a resize: what the resize form shows and checks against."""

    domain: DomainInfo
    target: str
    path: str
    current: int
    live: bool
    volume: VolumeInfo | None


def disk_now(conn: Hypervisor, ident: str, target: str) -> DiskNow:
    """The disk `target` of `ident` and its size now (read live from QEMU on a running domain)."""
    prov = provisioner(conn, "disk resize")
    info = conn.domain(ident)
    live = info.state in LIVE_STATES
    if not live and info.state != "shut-off":
        raise OperationError(f"disk resize {info.name}: it is {info.state}", hint="start it, or shut it off")
    disk = _disk(conn.domain_xml(info.uuid, inactive=not live), target, info.name)
    if disk.device not in ("disk", "lun") or disk.readonly or not disk.source:
        raise OperationError(
            f"disk resize {info.name}: {target} is a {disk.device}, read-only or empty: it has no size to grow"
        )
    volume = _volume_of(prov, disk)
    if live:
        current = prov.block_capacity(info.uuid, target)
    elif volume is None:
        raise OperationError(
            f"disk resize {info.name}: {target} ({disk.source}) is in no storage pool",
            hint="an offline resize goes through libvirt's pools (virsh pool-define-as), or start the domain",
        )
    else:
        current = volume.capacity
    return DiskNow(info, target, disk.source or "", current, live, volume)


def grown_capacity(name: str, target: str, current: int, new_size: str) -> int:
    """The size `new_size` asks for, refused when it shrinks the disk, leaves it as it is, or is no
    whole number of sectors (no host is asked: the TUI's form checks with it in place)."""
    capacity = new_capacity(new_size, current)
    if capacity < current:
        raise OperationError(
            f"disk resize {name}: {target} is {size(current)}; shrinking it to {size(capacity)} is refused",
            hint="the end of a disk holds the guest's data",
        )
    if capacity == current:
        raise UsageError(f"disk resize {name}: {target} is {size(current)} already")
    if capacity > MAX_BYTES or capacity % SECTOR:
        raise UsageError(f"size {new_size!r}: a disk is a whole number of 512-byte sectors, at most {MAX_BYTES} bytes")
    return capacity


def plan_resize(conn: Hypervisor, ident: str, target: str, new_size: str, *, host: str = "") -> ResizePlan:
    """Check the resize before anything: the disk, its size now, no shrink, room in the pool."""
    conn.require_writable("disk resize")
    prov = provisioner(conn, "disk resize")
    info = conn.domain(ident)
    refuse_if_migrating(conn, info.uuid, "disk resize", name=info.name)
    now = disk_now(conn, info.uuid, target)
    current, volume = now.current, now.volume
    capacity = grown_capacity(info.name, target, current, new_size)
    if volume is not None:
        free = prov.pool(volume.pool).available
        if capacity - current > free:
            raise OperationError(
                f"disk resize {info.name}: growing {target} by {size(capacity - current)} needs that much free in "
                f"pool {volume.pool}, which has {size(free)}",
                hint="free room in the pool first",
            )
    return ResizePlan(host or conn.uri, now.domain, target, now.path, current, capacity, now.live, volume)


def resize(
    conn: Hypervisor,
    plan: ResizePlan,
    *,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> ResizePlan:
    """Grow the disk as planned; refused when the domain started or stopped since the plan."""
    conn.require_writable("disk resize")
    prov = provisioner(conn, "disk resize")
    now = conn.domain(plan.domain.uuid)
    if (now.state in LIVE_STATES) != plan.live:
        raise OperationError(f"{now.name} is {now.state} now: nothing done", hint="run it again")
    check_cancel(cancel or never_cancelled(), f"disk resize {plan.domain.name}")
    progress(Step(f"growing {plan.target} of {plan.domain.name} to {size(plan.capacity)}"))
    if plan.live:
        prov.block_resize(plan.domain.uuid, plan.target, plan.capacity)
    else:
        assert plan.volume is not None  # the plan refuses an offline disk without one
        prov.resize_volume(plan.volume.pool, plan.volume.name, plan.capacity)
    return plan
