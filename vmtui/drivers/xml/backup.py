"""The documents a backup needs: `<domainbackup>` and `<domaincheckpoint>` (built), a checkpoint's dirty
sizes (read), and a backed-up domain definition moved onto restored disks (edited).

Built with lxml: paths and names go in as attribute values, never into a string; host XML is parsed
with the hardened parser of `xml.read` (no entities, no network).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lxml import etree

from vmtui.drivers.xml.read import parse_xml


def build_backup_xml(targets: Mapping[str, str], *, incremental: str | None = None) -> str:
    """A push-mode backup of the disks in `targets` (guest target -> qcow2 file on the host to create).

    `incremental`: the checkpoint whose changes since are copied; None for every block in use.
    """
    root = etree.Element("domainbackup", mode="push")
    if incremental is not None:
        etree.SubElement(root, "incremental").text = incremental
    disks = etree.SubElement(root, "disks")
    for target, path in targets.items():
        disk = etree.SubElement(disks, "disk", name=target, backup="yes", type="file")
        etree.SubElement(disk, "target", file=path)
        etree.SubElement(disk, "driver", type="qcow2")
    return etree.tostring(root, encoding="unicode")


def build_checkpoint_xml(name: str, targets: Sequence[str], *, description: str = "") -> str:
    """A checkpoint (a qcow2 bitmap per disk) that the next incremental backup starts from."""
    root = etree.Element("domaincheckpoint")
    etree.SubElement(root, "name").text = name
    if description:
        etree.SubElement(root, "description").text = description
    disks = etree.SubElement(root, "disks")
    for target in targets:
        etree.SubElement(disks, "disk", name=target, checkpoint="bitmap")
    return etree.tostring(root, encoding="unicode")


def checkpoint_sizes(text: str) -> dict[str, int]:
    """Bytes changed since the checkpoint, per disk (its XML read with the SIZE flag, a running domain)."""
    out: dict[str, int] = {}
    for disk in parse_xml(text).iterfind("disks/disk"):
        size = disk.get("size", "")
        if disk.get("checkpoint") == "bitmap" and size.isdigit():
            out[disk.get("name", "")] = int(size)
    return out


def restored_domain_xml(text: str, disk_files: Mapping[str, str], *, new_name: str | None = None) -> str:
    """The backed-up definition with its disks on the restored files; under `new_name`, a new domain.

    A new domain gets no UUID and no MAC addresses (libvirt makes fresh ones), so it can run beside the
    original. Backing chains are dropped: a restored disk is one standalone qcow2 file.
    """
    root = parse_xml(text)
    if new_name is not None:
        name = root.find("name")
        if name is None:
            name = etree.SubElement(root, "name")
        name.text = new_name
        for tag in ("uuid",):
            for el in root.findall(tag):
                root.remove(el)
        for mac in root.findall("devices/interface/mac"):
            parent = mac.getparent()
            if parent is not None:
                parent.remove(mac)
    for disk in root.iterfind("devices/disk"):
        target = disk.find("target")
        dev = target.get("dev", "") if target is not None else ""
        if dev not in disk_files:
            continue
        disk.set("type", "file")
        for old in disk.findall("source") + disk.findall("backingStore"):
            disk.remove(old)
        source = etree.Element("source", file=disk_files[dev])
        driver = disk.find("driver")
        if driver is not None:
            driver.set("type", "qcow2")
            driver.addnext(source)
        else:
            disk.insert(0, source)
    return etree.tostring(root, encoding="unicode")
