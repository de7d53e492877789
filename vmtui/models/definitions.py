"""Snapshots, and what a domain's definition owns (its disks): what is asked before it is removed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One snapshot of a domain, as its snapshot XML and libvirt describe it."""

    name: str
    domain_uuid: str
    description: str
    created: int
    """Seconds since the epoch (libvirt's creationTime)."""
    state: str
    """The domain's state when it was taken: running, paused, shut-off, disk-snapshot."""
    parent: str | None
    current: bool
    """The snapshot the domain's present state descends from (virsh snapshot-current)."""
    location: str
    """internal (inside the qcow2 disks), external (overlay files), or mixed."""
    memory: bool
    """The guest's memory (a running VM's RAM and device state) is part of it."""

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "created": self.created,
            "state": self.state,
            "parent": self.parent,
            "current": self.current,
            "location": self.location,
            "memory": self.memory,
        }


@dataclass(frozen=True, slots=True)
class DiskFile:
    """A disk of a domain as its XML names it (for snapshots and for removing storage)."""

    target: str
    """vda, sda, hdc: what the guest calls it."""
    device: str
    """disk, cdrom, floppy, lun."""
    source: str | None
    """The file, block device or volume behind it; None for an empty drive."""
    source_type: str
    """file, block, volume, network, dir."""
    driver_type: str
    """raw, qcow2, ... ("" when the XML does not say)."""
    readonly: bool


@dataclass(frozen=True, slots=True)
class UndefineFacts:
    """What undefining a domain would take with it: asked about before it is done."""

    uuid: str
    name: str
    active: bool
    persistent: bool
    snapshots: int
    managed_save: bool
    nvram: str | None
    """The NVRAM (UEFI variables) file of the definition, if it has one."""
    disks: tuple[DiskFile, ...]
    volumes: tuple[DiskFile, ...]
    """Writable disks whose file belongs to a storage pool: only those can be removed through libvirt."""
