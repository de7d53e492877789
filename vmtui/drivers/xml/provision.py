"""XML for templates and clones: the template mark in a domain's <metadata>, and a clone's definition.

The mark lives in the element vmtui already writes under its own namespace (`edit.VMTUI_NS`,
`<vmtui:guest role=...>`), as an attribute `template="yes"`: every vmtui that reads the domain sees it,
and libvirt keeps it through redefinitions and migrations like any other metadata. A clone's
definition is the source's inactive XML read with the hardened parser and changed with lxml only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from vmtui.drivers.xml.read import GUEST_TAG, TEMPLATE_ATTR, parse_xml
from vmtui.drivers.xml.resources import build_volume_xml


def template_mark(current: str | None, on: bool) -> str | None:
    """The vmtui metadata element with the mark set (`on`) or cleared, keeping what else it holds (the
    role of a guest vmtui made); None when nothing would be left (the element is then removed).

    `current` is the element as libvirt returns it (None when the domain has none), without its
    namespace; the answer has none either: libvirt puts the element in `VMTUI_NS` itself (it refuses
    one that declares it already).
    """
    found = parse_xml(current) if current else None
    # libvirt answered for our namespace: an element of another name there is not ours to keep.
    attrs: dict[str, str] = {}
    if found is not None and etree.QName(found).localname == etree.QName(GUEST_TAG).localname:
        attrs = {str(k): str(v) for k, v in found.attrib.items()}
    if on:
        attrs[TEMPLATE_ATTR] = "yes"
    else:
        attrs.pop(TEMPLATE_ATTR, None)
    if not attrs:
        return None
    return etree.tostring(etree.Element("guest", attrs), encoding="unicode")


@dataclass(frozen=True, slots=True)
class ClonedDisk:
    """Where a cloned disk's data now lives."""

    path: str
    """The new volume's path on the host."""
    pool: str
    volume: str
    driver_type: str
    """raw or qcow2: a linked clone's overlay is qcow2 whatever its base is."""


def clone_domain_xml(
    source_xml: str, name: str, disks: Mapping[str, ClonedDisk], *, add_cdrom: ClonedDisk | None = None
) -> str:
    """The definition of a clone of `source_xml` (an inactive definition) named `name`, with the disks whose target
    is in `disks` moved to their new volumes (a CD-ROM's too: the clone's own cloud-init seed), and
    `add_cdrom` (a seed for a source that had none) as a new read-only SATA CD-ROM.

    Left for libvirt to make anew: the UUID, every NIC's MAC (libvirt generates one per <interface>
    without <mac>), the NVRAM file of a UEFI guest (a fresh copy of the firmware's template at the
    first start: the source's variables are not carried over). The template mark is dropped: a clone
    is a guest to run. Disks not in `disks` (a CD-ROM, a read-only or shared disk) stay as they are.
    """
    root = parse_xml(source_xml)
    root.find("name").text = name  # type: ignore[union-attr]  # an inactive definition always has one
    for path in ("uuid", "os/nvram"):
        node = root.find(path)
        if node is not None:
            node.getparent().remove(node)  # type: ignore[union-attr]
    mark = root.find(f"metadata/{GUEST_TAG}")
    if mark is not None and TEMPLATE_ATTR in mark.attrib:
        del mark.attrib[TEMPLATE_ATTR]
    for iface in root.iterfind("devices/interface"):
        for tag in ("mac", "target"):
            node = iface.find(tag)
            if node is not None:
                iface.remove(node)
    for disk in root.iterfind("devices/disk"):
        target = disk.find("target")
        new = disks.get(target.get("dev", "")) if target is not None else None
        if new is None:
            continue
        for stale in disk.findall("backingStore"):
            disk.remove(stale)  # the old chain; libvirt reads the new one from the volume itself
        source = disk.find("source")
        if source is None:
            source = etree.SubElement(disk, "source")
        for attr in list(source.attrib):
            del source.attrib[attr]
        if disk.get("type") == "volume":
            source.set("pool", new.pool)
            source.set("volume", new.volume)
        else:
            disk.set("type", "file")
            source.set("file", new.path)
        driver = disk.find("driver")
        if driver is None:
            driver = etree.SubElement(disk, "driver", name="qemu")
        driver.set("type", new.driver_type)
    if add_cdrom is not None:
        _add_cdrom(root, add_cdrom)
    return etree.tostring(root, encoding="unicode")


def _add_cdrom(root: etree._Element, new: ClonedDisk) -> None:
    """A read-only SATA CD-ROM on the volume `new`, on the first sdX no disk uses (libvirt adds the SATA
    controller a machine lacks)."""
    devices = root.find("devices")
    if devices is None:
        devices = etree.SubElement(root, "devices")
    used = {t.get("dev", "") for t in devices.iterfind("disk/target")}
    dev = next(f"sd{c}" for c in "abcdefghijklmnopqrstuvwxyz" if f"sd{c}" not in used)
    disk = etree.Element("disk", type="volume", device="cdrom")
    etree.SubElement(disk, "driver", name="qemu", type=new.driver_type)
    etree.SubElement(disk, "source", pool=new.pool, volume=new.volume)
    etree.SubElement(disk, "target", dev=dev, bus="sata")
    etree.SubElement(disk, "readonly")
    # After the last disk: libvirt wants the disks together, before the other devices.
    last = devices.findall("disk")
    if last:
        last[-1].addnext(disk)
    else:
        devices.insert(0, disk)


def build_overlay_xml(name: str, capacity: int, backing_path: str, backing_format: str) -> str:
    """A qcow2 volume whose unwritten blocks read from `backing_path` (a linked clone's disk)."""
    vol = parse_xml(build_volume_xml(name, capacity, "qcow2"))
    backing = etree.SubElement(vol, "backingStore")
    etree.SubElement(backing, "path").text = backing_path
    etree.SubElement(backing, "format", type=backing_format)
    return etree.tostring(vol, encoding="unicode")
