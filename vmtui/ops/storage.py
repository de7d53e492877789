"""Storage pools and volumes: listing with who uses what, creating a volume, deleting one.

Names and sizes are validated, and sizes converted exactly, before any call. A volume a domain uses
(its disk, in the live XML of a running domain or in any definition) or one that backs another
volume is never deleted: the refusal names the domain or the volume.
"""

from __future__ import annotations

import logging
import posixpath
import threading
from dataclasses import dataclass, replace
from typing import Any

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.resources import DiskUse, PoolInfo, ResourceHost, VolumeInfo, live
from vmtui.drivers.xml.resources import FILE_POOL_TYPES, build_volume_xml
from vmtui.errors import NotFoundError, OperationError, UsageError
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.sizes import parse_size

log = logging.getLogger("vmtui.ops.storage")

FORMATS = ("qcow2", "raw")
"""Formats a new volume of a file pool can have (the ones virt-manager offers first)."""

MAX_NAME_BYTES = 255
"""A file name's limit on Linux file systems, which dir pools map volume names to."""

MAX_BYTES = 2**63 - 1
"""libvirt passes sizes as unsigned long long; QEMU's limit is the signed one."""


def volume_capacity(size: str | int) -> int:
    """A new volume's capacity in bytes from `size` (bytes, or text such as "10GiB" read by `parse_size`)."""
    capacity = parse_size(size) if isinstance(size, str) else size
    if not 0 < capacity <= MAX_BYTES:
        raise UsageError(f"size {size!r} must be more than 0 and at most {MAX_BYTES} bytes")
    return capacity


def validate_volume_name(name: str) -> str:
    """A volume name as dir pools store it: one file name, no control characters, not an option."""
    if not name or name in (".", ".."):
        raise UsageError(f"volume name {name!r} is not a file name")
    if "/" in name:
        raise UsageError(f"volume name {name!r} contains '/'", hint="a volume is one file inside its pool")
    if not name.isprintable():
        raise UsageError(f"volume name {name!r} contains control characters")
    if name.startswith("-"):
        raise UsageError(f"volume name {name!r} starts with '-'", hint="tools would read it as an option")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise UsageError(f"volume name is longer than {MAX_NAME_BYTES} bytes")
    return name


@dataclass(frozen=True, slots=True)
class VolumeChanged:
    """A volume was created or deleted; `pool` is the pool afterwards (its new allocation)."""

    action: str
    """created or deleted."""
    volume: VolumeInfo
    pool: PoolInfo

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "volume": self.volume.to_json(), "pool": self.pool.to_json()}


def _norm(path: str) -> str:
    # Paths are the host's, maybe remote: compare them as strings, normalised, never through this machine.
    return posixpath.normpath(path) if path else ""


def overlays_of(volume: VolumeInfo, host_volumes: list[VolumeInfo]) -> list[VolumeInfo]:
    """The volumes backed by `volume`, directly or through other overlays, nearest first."""
    above = {_norm(volume.path)}
    found: list[VolumeInfo] = []
    grew = True
    while grew:
        grew = False
        for v in host_volumes:
            if v.backing and _norm(v.backing) in above and _norm(v.path) not in above:
                above.add(_norm(v.path))
                found.append(v)
                grew = True
    return found


def _uses_of(volume: VolumeInfo, uses: list[DiskUse], host_volumes: list[VolumeInfo]) -> list[DiskUse]:
    """The disks that need `volume`: on it, on an overlay above it, or with it in their backing chain."""
    needed = [volume, *overlays_of(volume, host_volumes)]
    paths = {_norm(v.path) for v in needed}
    refs = {(v.pool, v.name) for v in needed}
    return [u for u in uses if paths & {_norm(p) for p in (u.path, *u.chain) if p} or (u.pool, u.volume) in refs]


def users(volume: VolumeInfo, uses: list[DiskUse], host_volumes: list[VolumeInfo] | None = None) -> tuple[str, ...]:
    """Names of the domains that need `volume`: a disk on it (by path, or by pool and volume name), on
    a volume of `host_volumes` backed by it, or with it in the disk's backing chain; also when only
    one of the domain's snapshots has such a disk (reverting to it needs the file)."""
    return tuple(sorted({u.domain for u in _uses_of(volume, uses, host_volumes or [])}))


def host_volumes(host: ResourceHost, *, refresh: bool = False) -> list[VolumeInfo]:
    """The volumes of every active pool of the host; `refresh` rescans each pool first."""
    out: list[VolumeInfo] = []
    for pool in host.list_pools():
        if not pool.active:
            continue
        try:
            if refresh:
                host.refresh_pool(pool.name)
            out += host.list_volumes(pool.name)
        except NotFoundError:
            continue  # undefined between listing and reading
    return out


def volumes(conn: Hypervisor, pool: str) -> list[VolumeInfo]:
    """The volumes of `pool` (as libvirt last scanned it), each with the domains that need it."""
    host = live(conn, "storage volumes")
    found = host.list_volumes(pool)
    uses = host.disk_uses()
    everything = host_volumes(host)
    return [replace(v, used_by=users(v, uses, everything)) for v in found]


def pools(conn: Hypervisor) -> list[PoolInfo]:
    return live(conn, "storage pools").list_pools()


@dataclass(frozen=True, slots=True)
class StorageOverview:
    """A host's pools, and the volumes of one of them (what the TUI's storage screen shows)."""

    pools: tuple[PoolInfo, ...]
    pool: str | None
    """The pool `volumes` belong to: the one asked for, else the first; None without pools."""
    volumes: tuple[VolumeInfo, ...]


def overview(conn: Hypervisor, pool: str | None = None) -> StorageOverview:
    """Every pool, and the volumes (with their users) of `pool`, or of the first pool when it is gone.

    A writable connection rescans that pool first, so files made behind libvirt's back (an external
    snapshot's overlay) show; a read-only one cannot (libvirt refuses it) and shows the last scan.
    """
    found = tuple(pools(conn))
    by_name = {p.name: p for p in found}
    chosen = pool if pool in by_name else (found[0].name if found else None)
    if chosen is None or not by_name[chosen].active:
        return StorageOverview(found, chosen, ())
    if not conn.read_only:
        try:
            live(conn, "storage volumes").refresh_pool(chosen)
        except OperationError as exc:  # busy (a volume being built): show the last scan
            log.info("pool %s not rescanned: %s", chosen, exc)
    return StorageOverview(found, chosen, tuple(volumes(conn, chosen)))


def refusal_of(volume: VolumeInfo, host_volumes: list[VolumeInfo]) -> str | None:
    """Why `volume` must not be deleted, from its `used_by` and the volumes it backs, or None."""
    reasons = []
    using = volume.used_by
    if using:
        reasons.append(
            f"domain {', '.join(using)} uses it" if len(using) == 1 else f"domains {', '.join(using)} use it"
        )
    overlays = sorted(
        v.name if v.pool == volume.pool else f"{v.name} (pool {v.pool})" for v in overlays_of(volume, host_volumes)
    )
    if overlays:
        reasons.append(f"it is the backing file of volume {', '.join(overlays)}")
    return "; ".join(reasons) or None


def delete_refusal(conn: ResourceHost, volume: VolumeInfo) -> str | None:
    """Why `volume` must not be deleted (the domains that need it, the volumes it backs), asked of the
    host now: every active pool rescanned first, since a file made behind libvirt's back (an external
    snapshot's overlay) is no volume until then."""
    try:
        everything = host_volumes(conn, refresh=True)
    except OperationError as exc:
        # Without a fresh scan an overlay may be missing: not knowing is no licence to delete.
        raise OperationError(exc.message, hint="vol-delete rescans every pool first; nothing was deleted") from exc
    current = replace(volume, used_by=users(volume, conn.disk_uses(), everything))
    return refusal_of(current, everything)


def delete_question(volume: VolumeInfo, host: str) -> str:
    return f"Delete volume {volume.name} ({volume.path}) from pool {volume.pool} on {host}? Its data is lost."


def create_volume(
    conn: Hypervisor,
    pool: str,
    name: str,
    size: str | int,
    *,
    fmt: str = "qcow2",
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> VolumeChanged:
    """Create a sparse volume of `size` (bytes, or text such as "10GiB") in an active pool."""
    conn.require_writable("create volume")
    host = live(conn, "create volume")
    validate_volume_name(name)
    capacity = volume_capacity(size)
    if fmt not in FORMATS:
        raise UsageError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    info = host.pool(pool)
    if not info.active:
        raise OperationError(f"create volume {name}: pool {pool} is {info.state}", hint="start the pool first")
    file_pool = info.pool_type in FILE_POOL_TYPES
    if not file_pool and fmt != "raw":
        raise UsageError(f"pool {pool} is of type {info.pool_type}: its volumes are raw (use --format raw)")
    check_cancel(cancel or never_cancelled(), f"create volume {name}")
    progress(Step(f"creating {name} in {pool}"))
    vol = host.create_volume(pool, build_volume_xml(name, capacity, fmt if file_pool else None))
    return VolumeChanged("created", vol, host.pool(pool))


def delete_volume(
    conn: Hypervisor,
    pool: str,
    name: str,
    *,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> VolumeChanged:
    """Delete a volume no domain uses; refused, naming the domain, when one does."""
    conn.require_writable("delete volume")
    host = live(conn, "delete volume")
    vol = host.volume(pool, name)
    why = delete_refusal(host, vol)
    if why is not None:
        raise OperationError(f"delete volume {name} from {pool}: {why}")
    check_cancel(cancel or never_cancelled(), f"delete volume {name}")
    progress(Step(f"deleting {name} from {pool}"))
    host.delete_volume(pool, name)
    return VolumeChanged("deleted", vol, host.pool(pool))


@dataclass(frozen=True, slots=True)
class SharedVolume:
    """A volume of a domain being removed that something else still needs: it is kept, and named."""

    path: str
    volume: str
    used_by: tuple[str, ...]
    """Other domains with a disk on it."""
    backing_of: tuple[str, ...]
    """Other domains whose disk reads from it through an overlay (linked clones of a template)."""
    backing_of_volumes: tuple[str, ...] = ()
    """Overlay volumes on it that no domain uses."""

    def reason(self) -> str:
        parts = []
        if self.used_by:
            parts.append("used by " + ", ".join(self.used_by))
        if self.backing_of:
            parts.append("backing file of " + ", ".join(self.backing_of))
        if self.backing_of_volumes:
            parts.append("backing file of volume " + ", ".join(self.backing_of_volumes))
        return f"{self.volume}, " + "; ".join(parts)

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "volume": self.volume,
            "used_by": list(self.used_by),
            "backing_of": list(self.backing_of),
            "backing_of_volumes": list(self.backing_of_volumes),
        }


def still_needed(host: ResourceHost, uuid: str, paths: tuple[str, ...]) -> tuple[SharedVolume, ...]:
    """Of the volumes at `paths` (a domain's disks), those another domain or volume still needs.

    Asked of the host now, every active pool rescanned first (as `delete_refusal`): a base volume whose
    linked clones read from it is kept, whatever the domain being removed says.
    """
    everything = host_volumes(host, refresh=True)
    by_path = {_norm(v.path): v for v in everything}
    others = [u for u in host.disk_uses() if u.uuid != uuid]
    out = []
    for path in paths:
        vol = by_path.get(_norm(path))
        if vol is None:
            continue
        direct = sorted(
            {u.domain for u in others if _norm(u.path) == _norm(vol.path) or (u.pool, u.volume) == (vol.pool, vol.name)}
        )
        through = sorted(set(users(vol, others, everything)) - set(direct))
        lone = sorted(
            v.name
            for v in overlays_of(vol, everything)
            if not any(_norm(u.path) == _norm(v.path) or _norm(v.path) in map(_norm, u.chain) for u in others)
        )
        if direct or through or lone:
            out.append(SharedVolume(vol.path, vol.name, tuple(direct), tuple(through), tuple(lone)))
    return tuple(out)
