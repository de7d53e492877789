"""Frozen value objects shared by every layer: the drivers produce them, the faces render them.

Nothing here does I/O or imports libvirt or Textual. Samples cross threads (poller -> UI), so
every field is immutable: tuples, not lists; read-only mappings, not dicts.

This module holds what listing domains needs; the other values live in submodules by subject
(`host`: host facts and samples; `definitions`: snapshots and what a definition owns; `jobs`: jobs
and migration) and are imported from here too (`from vmtui.models import JobStats`), loaded on
first use: building a frozen dataclass costs ~0.4 ms, and `vmtui list` needs three of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

StatValue = int | float | str
"""One value of `virDomainGetAllDomainStats` (libvirt gives ints, floats, strings and booleans as ints)."""

EMPTY_STATS: Mapping[str, StatValue] = MappingProxyType({})

DOMAIN_STATES = ("nostate", "running", "blocked", "paused", "shutting-down", "shut-off", "crashed", "pmsuspended")
"""libvirt's virDomainState values 0..7, by name (the driver and the metrics use the same words)."""
ACTIVE_STATES = frozenset({"running", "blocked", "paused", "shutting-down", "pmsuspended"})
"""States in which a domain has a QEMU process (and uses host memory)."""


def state_name(code: int) -> str:
    """The name of a virDomainState number; unknown numbers stay visible as numbers."""
    return DOMAIN_STATES[code] if 0 <= code < len(DOMAIN_STATES) else str(code)


class Accelerator(StrEnum):
    """How the guest CPU runs (the chapter's full virtualization vs hardware-assisted)."""

    KVM = "kvm"
    """Hardware-assisted: guest code runs natively under VT-x/AMD-V through /dev/kvm."""
    TCG = "tcg"
    """Software emulation: QEMU's Tiny Code Generator translates every guest instruction."""
    OTHER = "other"


class DeviceClass(StrEnum):
    """How a device reaches the guest, which decides what its IO costs."""

    PARAVIRTUAL = "paravirtual"
    """virtio/vhost: the guest knows it is virtualized and batches IO through shared rings."""
    EMULATED = "emulated"
    """A real chip (e1000, IDE, rtl8139) imitated by QEMU: every register access is a VM exit."""
    PASSTHROUGH = "passthrough"
    """A host PCI device or SR-IOV VF given to the guest (VFIO): no emulation at all."""
    OTHER = "other"
    """Not on the IO path that matters here (serial console, video none, ...)."""


@dataclass(frozen=True, slots=True)
class HostEntry:
    """A saved host from hosts.toml."""

    name: str
    uri: str
    read_only: bool = False
    maintenance: bool = False
    """In maintenance (`vmtui host drain`): placement, migrate targets and drains skip it until undrained."""
    colour: str | None = None
    """`colour = "red"`: its rows' HOST cell and its screens' header in this colour (a production host)."""


@dataclass(frozen=True, slots=True)
class Device:
    """One device of a domain, as read from its XML."""

    kind: str
    """disk, nic, controller, balloon, hostdev, input, rng, video, ..."""
    name: str
    """What a user would call it: the target dev (vda), the MAC, or the alias."""
    model: str
    """virtio, e1000, ide, sata, vfio, ..."""
    dev_class: DeviceClass
    detail: str = ""
    bus: str = ""
    """A disk's target bus (virtio, sata, ide, scsi, usb); empty for other kinds."""
    flavor: str = ""
    """A disk's `device` (disk, cdrom, lun, floppy) or a NIC's `type` (network, bridge, user, hostdev)."""
    mac: str = ""
    """A NIC's MAC address: what identifies it across live and persistent definitions."""
    alias: str = ""
    """libvirt's alias of the device in a running domain (net0, sata0-0-0): how a live detach names it."""
    source: str = ""
    """Where it comes from on the host: a disk's file or volume, a NIC's network or bridge, a
    passthrough device's PCI address (0000:03:10.1)."""
    vlan: int | None = None
    """The VLAN tag of a NIC (SR-IOV VFs), when set."""


@dataclass(frozen=True, slots=True)
class DomainInfo:
    """What the domain's live XML and state say about it (changes rarely; read on events)."""

    uuid: str
    name: str
    id: int | None
    state: str
    accelerator: Accelerator
    vcpus: int
    max_memory_kib: int
    memory_kib: int
    persistent: bool
    machine: str = ""
    devices: tuple[Device, ...] = ()
    balloon_model: str | None = None
    """None when the domain has no <memballoon>; "none" when it is explicitly disabled."""
    balloon_period: int | None = None
    """The balloon statistics period in seconds; without it guest memory stats never update."""
    template: bool = False
    """Marked a template (`vmtui template`): it is cloned, never started."""


if TYPE_CHECKING:
    from vmtui.models.definitions import DiskFile as DiskFile
    from vmtui.models.definitions import Snapshot as Snapshot
    from vmtui.models.definitions import UndefineFacts as UndefineFacts
    from vmtui.models.host import BalloonReading as BalloonReading
    from vmtui.models.host import DomainStats as DomainStats
    from vmtui.models.host import HostInfo as HostInfo
    from vmtui.models.host import HostSample as HostSample
    from vmtui.models.jobs import DEFAULT_PAGE_SIZE as DEFAULT_PAGE_SIZE
    from vmtui.models.jobs import JOB_OPERATIONS as JOB_OPERATIONS
    from vmtui.models.jobs import JOB_TYPES as JOB_TYPES
    from vmtui.models.jobs import DirtyRate as DirtyRate
    from vmtui.models.jobs import DomainPresence as DomainPresence
    from vmtui.models.jobs import JobStats as JobStats
    from vmtui.models.jobs import MigrateSpec as MigrateSpec

_SUBMODULE = {
    **dict.fromkeys(("DiskFile", "Snapshot", "UndefineFacts"), "definitions"),
    **dict.fromkeys(("BalloonReading", "DomainStats", "HostInfo", "HostSample"), "host"),
    **dict.fromkeys(
        ("DEFAULT_PAGE_SIZE", "JOB_OPERATIONS", "JOB_TYPES", "DirtyRate", "DomainPresence", "JobStats", "MigrateSpec"),
        "jobs",
    ),
}
"""The names the submodules define, by submodule (PEP 562: looked up only when not found above)."""


def __getattr__(name: str) -> object:
    sub = _SUBMODULE.get(name)
    if sub is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{sub}"), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value
