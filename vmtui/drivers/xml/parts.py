"""The parts of domain and snapshot XML that consoles, displays, snapshots and undefine need.

Pure functions over text from hosts (parsed with the hardened parser of `xml.read`), plus the one
snapshot document vmtui writes, built with lxml: names go in as element text, never into a string.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from vmtui.drivers.xml.read import parse_xml
from vmtui.models import DiskFile


@dataclass(frozen=True, slots=True)
class Graphics:
    """One graphical display of a running domain (`<graphics>` in its live XML)."""

    type: str
    """vnc, spice (others, like rdp or egl-headless, are listed but have no viewer URI here)."""
    port: int | None
    """The TCP port QEMU listens on; None while not running or for a socket display."""
    tls_port: int | None
    listen: str | None
    """The address it listens on (127.0.0.1, 0.0.0.0, ::); None for a UNIX socket."""
    socket: str | None
    """The UNIX socket path, for `<listen type='socket'>` displays."""


def _port(value: str | None) -> int | None:
    if value is None or not value.lstrip("-").isdigit():
        return None
    port = int(value)
    return port if 0 < port < 65536 else None


def read_graphics(text: str) -> tuple[Graphics, ...]:
    out = []
    for gfx in parse_xml(text).iterfind("devices/graphics"):
        listen_el = gfx.find("listen")
        listen = gfx.get("listen")
        socket = gfx.get("socket")
        if listen_el is not None:
            if listen_el.get("type") == "socket":
                socket = listen_el.get("socket") or socket
            elif listen_el.get("address"):
                listen = listen_el.get("address")
        out.append(
            Graphics(
                type=gfx.get("type", ""),
                port=_port(gfx.get("port")),
                tls_port=_port(gfx.get("tlsPort")),
                listen=None if socket else listen,
                socket=socket,
            )
        )
    return tuple(out)


def has_text_console(text: str) -> bool:
    """Whether the domain has a serial port or console that `virsh console` can attach to."""
    devices = parse_xml(text).find("devices")
    return devices is not None and (devices.find("console") is not None or devices.find("serial") is not None)


def read_disks(text: str) -> tuple[DiskFile, ...]:
    out = []
    for disk in parse_xml(text).iterfind("devices/disk"):
        target = disk.find("target")
        source = disk.find("source")
        driver = disk.find("driver")
        path = None
        if source is not None:
            path = source.get("file") or source.get("dev") or source.get("dir") or source.get("name")
            if disk.get("type") == "volume" and source.get("volume"):
                path = f"{source.get('pool', '')}/{source.get('volume')}"
        out.append(
            DiskFile(
                target=target.get("dev", "") if target is not None else "",
                device=disk.get("device", "disk"),
                source=path,
                source_type=disk.get("type", "file"),
                driver_type=driver.get("type", "") if driver is not None else "",
                readonly=disk.find("readonly") is not None or disk.get("device") in ("cdrom", "floppy"),
            )
        )
    return tuple(out)


def identity(text: str) -> tuple[str, str]:
    """(name, uuid) of a domain document; "" for what it does not say. ValueError when it is none."""
    try:
        root = parse_xml(text)
    except ValueError as exc:
        raise ValueError(f"not well-formed XML: {exc.__cause__ or exc}") from exc
    if root.tag != "domain":
        raise ValueError(f"not a domain definition: the root element is <{root.tag}>")
    return (root.findtext("name") or "").strip(), (root.findtext("uuid") or "").strip().lower()


def boot_files(text: str) -> tuple[DiskFile, ...]:
    """The direct-boot kernel and initrd (`<os><kernel>`, `<os><initrd>`), as read-only files named by
    what they are: a VM made with `vmtui create --kernel` owns the volumes they were uploaded to."""
    os_node = parse_xml(text).find("os")
    out = []
    for boot in ("kernel", "initrd"):
        node = os_node.find(boot) if os_node is not None else None
        if node is not None and node.text and node.text.strip():
            path = node.text.strip()
            out.append(
                DiskFile(target=boot, device=boot, source=path, source_type="file", driver_type="", readonly=True)
            )
    return tuple(out)


def nvram_path(text: str) -> str | None:
    node = parse_xml(text).find("os/nvram")
    return node.text.strip() if node is not None and node.text and node.text.strip() else None


# ----- snapshots -------------------------------------------------------------------------------


def build_snapshot_xml(
    name: str | None,
    description: str,
    *,
    external_disks: tuple[str, ...] = (),
    memory_file: str | None = None,
    no_memory: bool = False,
) -> str:
    """A `<domainsnapshot>`: internal when no external disk is named, else an overlay per disk.

    `memory_file` keeps a running guest's memory in that file (external); `no_memory` leaves it out.
    Without either, libvirt decides: an internal snapshot of a running guest includes its memory.
    """
    root = etree.Element("domainsnapshot")
    if name is not None:
        etree.SubElement(root, "name").text = name
    if description:
        etree.SubElement(root, "description").text = description
    if memory_file is not None:
        etree.SubElement(root, "memory", snapshot="external", file=memory_file)
    elif no_memory:
        etree.SubElement(root, "memory", snapshot="no")
    if external_disks:
        disks = etree.SubElement(root, "disks")
        for target in external_disks:
            etree.SubElement(disks, "disk", name=target, snapshot="external")
    return etree.tostring(root, encoding="unicode")


@dataclass(frozen=True, slots=True)
class SnapshotXml:
    name: str
    description: str
    created: int
    state: str
    parent: str | None
    location: str
    memory: bool


SNAPSHOT_STATES = {"shutoff": "shut-off", "disk-snapshot": "disk-snapshot"}
"""libvirt's snapshot state words, in vmtui's words for domain states where they differ."""


def read_snapshot_xml(text: str) -> SnapshotXml:
    root = parse_xml(text)
    memory = root.find("memory")
    memory_kind = memory.get("snapshot", "no") if memory is not None else "no"
    state = (root.findtext("state") or "").strip()
    kinds = {d.get("snapshot", "") for d in root.iterfind("disks/disk")} - {"", "no"}
    if memory_kind in ("internal", "external"):
        kinds.add(memory_kind)
    if not kinds:
        # Old or inactive internal snapshots may name no disks: the data sits inside the qcow2 files.
        kinds = {"internal"}
    created = (root.findtext("creationTime") or "0").strip()
    return SnapshotXml(
        name=(root.findtext("name") or "").strip(),
        description=(root.findtext("description") or "").strip(),
        created=int(created) if created.isdigit() else 0,
        state=SNAPSHOT_STATES.get(state, state),
        parent=(root.findtext("parent/name") or "").strip() or None,
        location=kinds.pop() if len(kinds) == 1 else "mixed",
        memory=memory_kind in ("internal", "external") or (memory is None and state in ("running", "paused")),
    )


def writable_disks(disks: tuple[DiskFile, ...]) -> tuple[DiskFile, ...]:
    """The disks a snapshot covers and `--remove-storage` removes: writable, with a source.

    CD-ROMs, floppies and read-only disks are often shared (an installer ISO): never touched.
    """
    return tuple(d for d in disks if not d.readonly and d.source and d.device in ("disk", "lun"))
