"""What a domain's live XML says about migrating it: its CPU definition and the disks that must be reachable.

Pure (no libvirt): XML text in, values out. The pre-checks of `vmtui.ops.migrate.precheck` ask the
target about each of these (CPU compare, storage lookups) through the driver.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from vmtui.drivers.xml.read import parse_xml

SHARED_DISK_TYPES = frozenset({"network"})
"""Disk types whose storage lives off the host (rbd, iscsi, nbd, gluster...): the target reaches it too."""
SKIPPED_DEVICES = frozenset({"cdrom", "floppy"})
"""Removable media: libvirt migrates them as they are (an empty drive has nothing to copy)."""


@dataclass(frozen=True, slots=True)
class LocalDisk:
    """A disk whose image sits on a host path: shared storage only if the target sees the same path."""

    target: str
    """What the guest calls it (vda)."""
    path: str
    read_only: bool
    shareable: bool


@dataclass(frozen=True, slots=True)
class MigrationXml:
    """The facts of a live domain XML that decide whether it can move."""

    virt_type: str
    """kvm or qemu (TCG): the target must offer the same."""
    arch: str
    machine: str
    cpu_mode: str
    """custom, host-model, host-passthrough, maximum, or "" when the XML has no <cpu>."""
    cpu_xml: str | None
    """The <cpu> element as text, for the target's hypervisor CPU compare; None without one."""
    disks: tuple[LocalDisk, ...]
    network_disks: tuple[str, ...]
    """Targets of disks on network storage (shared by nature)."""


def read_migration_xml(text: str) -> MigrationXml:
    root = parse_xml(text)
    os_type = root.find("os/type")
    cpu = root.find("cpu")
    cpu_xml: str | None = None
    cpu_mode = ""
    if cpu is not None:
        cpu_mode = cpu.get("mode", "custom")
        # A <cpu> with only topology or NUMA (no model) says nothing the target could refuse.
        if cpu.find("model") is not None:
            cpu_xml = etree.tostring(cpu, encoding="unicode")
    disks: list[LocalDisk] = []
    network: list[str] = []
    for disk in root.iterfind("devices/disk"):
        if disk.get("device", "disk") in SKIPPED_DEVICES:
            continue
        target_el = disk.find("target")
        target = target_el.get("dev", "?") if target_el is not None else "?"
        if disk.get("type") in SHARED_DISK_TYPES:
            network.append(target)
            continue
        source = disk.find("source")
        path = ""
        if source is not None:
            path = source.get("file") or source.get("dev") or ""
        if not path:
            continue  # no image (an empty drive) or a pool volume by name: nothing this check can name
        disks.append(
            LocalDisk(
                target=target,
                path=path,
                read_only=disk.find("readonly") is not None,
                shareable=disk.find("shareable") is not None,
            )
        )
    return MigrationXml(
        virt_type=root.get("type", ""),
        arch=os_type.get("arch", "") if os_type is not None else "",
        machine=os_type.get("machine", "") if os_type is not None else "",
        cpu_mode=cpu_mode,
        cpu_xml=cpu_xml,
        disks=tuple(disks),
        network_disks=tuple(network),
    )
