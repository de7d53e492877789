"""The XML of pools, volumes and networks, and the parts of a domain's XML that name its storage,
its NICs and its guest agent channel. Pure: XML text in, values out (hardened parser), and two
builders (a new volume, a new directory pool) that take only validated values and never format
strings into XML.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from vmtui.drivers.xml.read import parse_xml

AGENT_CHANNEL = "org.qemu.guest_agent.0"
"""The virtio-serial port name qemu-guest-agent listens on."""


@dataclass(frozen=True, slots=True)
class PoolXml:
    pool_type: str
    path: str


def read_pool_xml(text: str) -> PoolXml:
    root = parse_xml(text)
    return PoolXml(pool_type=root.get("type", ""), path=root.findtext("target/path") or "")


def build_dir_pool_xml(name: str, path: str) -> str:
    """A directory pool `name` whose volumes are the files of the folder `path` (absolute, on the host)."""
    pool = etree.Element("pool", type="dir")
    etree.SubElement(pool, "name").text = name
    target = etree.SubElement(pool, "target")
    etree.SubElement(target, "path").text = path
    return etree.tostring(pool, encoding="unicode")


@dataclass(frozen=True, slots=True)
class VolumeXml:
    format: str
    backing: str


def read_volume_xml(text: str) -> VolumeXml:
    root = parse_xml(text)
    fmt = root.find("target/format")
    return VolumeXml(
        format=fmt.get("type", "") if fmt is not None else "",
        backing=root.findtext("backingStore/path") or "",
    )


@dataclass(frozen=True, slots=True)
class NetworkXml:
    forward: str
    bridge: str
    addresses: tuple[str, ...]
    dhcp: bool


def read_network_xml(text: str) -> NetworkXml:
    root = parse_xml(text)
    forward = root.find("forward")
    # No <forward> is an isolated network; <forward> without a mode is NAT (libvirt's default).
    mode = "isolated" if forward is None else forward.get("mode", "nat")
    bridge = root.find("bridge")
    addresses = []
    dhcp = False
    for ip in root.findall("ip"):
        address = ip.get("address", "")
        prefix = ip.get("prefix") or _netmask_prefix(ip.get("netmask", ""))
        if address:
            addresses.append(f"{address}/{prefix}" if prefix else address)
        dhcp = dhcp or ip.find("dhcp") is not None
    return NetworkXml(
        forward=mode,
        bridge=bridge.get("name", "") if bridge is not None else "",
        addresses=tuple(addresses),
        dhcp=dhcp,
    )


def _netmask_prefix(mask: str) -> str:
    """255.255.255.0 -> "24"; "" when it is not a dotted IPv4 netmask."""
    parts = mask.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        return ""
    return str(sum(bin(int(p)).count("1") for p in parts))


@dataclass(frozen=True, slots=True)
class DiskSource:
    target: str
    path: str
    pool: str
    volume: str
    chain: tuple[str, ...] = ()
    """The files under `path`, nearest first, where the XML names them: a running domain's live XML
    has its whole backing chain; a definition only what its author wrote."""


def _source_path(source: etree._Element) -> str:
    return source.get("file") or source.get("dev") or source.get("dir") or ""


def _chain(disk: etree._Element) -> tuple[str, ...]:
    out = []
    backing = disk.find("backingStore")
    while backing is not None:
        source = backing.find("source")
        path = _source_path(source) if source is not None else ""
        if path:
            out.append(path)
        backing = backing.find("backingStore")
    return tuple(out)


def _disk_sources(devices_parent: etree._Element) -> list[DiskSource]:
    out = []
    for disk in devices_parent.iterfind("devices/disk"):
        source = disk.find("source")
        if source is None:
            continue  # an empty CD-ROM drive
        target = disk.find("target")
        out.append(
            DiskSource(
                target=target.get("dev", "") if target is not None else "",
                path=_source_path(source),
                pool=source.get("pool", ""),
                volume=source.get("volume", ""),
                chain=_chain(disk),
            )
        )
    # A direct-boot kernel and initrd (`vmtui create --kernel`) are files the domain needs as much as a
    # disk: a volume holding one is used, and never removed from under it.
    for boot in ("kernel", "initrd"):
        node = devices_parent.find(f"os/{boot}")
        if node is not None and node.text and node.text.strip():
            out.append(DiskSource(target=boot, path=node.text.strip(), pool="", volume=""))
    return out


def disk_sources(text: str) -> list[DiskSource]:
    """Every <disk> with a source: its target and its file, block device, or pool and volume; and the
    direct-boot kernel and initrd files (targets `kernel`, `initrd`)."""
    return _disk_sources(parse_xml(text))


def snapshot_disk_sources(text: str) -> list[DiskSource]:
    """The disks of the definition a snapshot keeps (`<domainsnapshot><domain>`): what reverting to it needs.

    After an external snapshot of a shut-off guest this is the only place that still names the
    file under the overlay: the new definition names just the overlay, without its chain.
    """
    domain = parse_xml(text).find("domain")
    return _disk_sources(domain) if domain is not None else []


@dataclass(frozen=True, slots=True)
class NicXml:
    mac: str
    iface_type: str
    network: str
    target: str = ""
    """The host-side device (vnet0) of a running domain."""


def nics(text: str) -> list[NicXml]:
    root = parse_xml(text)
    out = []
    for iface in root.iterfind("devices/interface"):
        mac = iface.find("mac")
        source = iface.find("source")
        target = iface.find("target")
        iface_type = iface.get("type", "")
        out.append(
            NicXml(
                mac=(mac.get("address", "") if mac is not None else "").lower(),
                iface_type=iface_type,
                network=source.get("network", "") if source is not None and iface_type == "network" else "",
                target=target.get("dev", "") if target is not None else "",
            )
        )
    return out


def agent_channel_state(text: str) -> str | None:
    """The guest agent channel's state in a live domain XML: "connected", "disconnected", "" when the
    XML does not say (an inactive definition), or None when the domain has no such channel."""
    root = parse_xml(text)
    for channel in root.iterfind("devices/channel"):
        target = channel.find("target")
        if target is not None and target.get("type") == "virtio" and target.get("name") == AGENT_CHANNEL:
            return target.get("state", "")
    return None


FILE_POOL_TYPES = frozenset({"dir", "fs", "netfs", "gluster", "vstorage"})
"""Pools whose volumes are files, so a volume has a format (raw, qcow2) of its own."""


def build_volume_xml(name: str, capacity: int, fmt: str | None, *, backing: tuple[str, str] | None = None) -> str:
    """A new sparse volume (allocation 0): `name` and `capacity` (bytes) already validated.

    `fmt` None leaves the format to the pool (block-based pools have none). `backing` (path, format)
    makes a qcow2 overlay on that file: it reads through to it and writes only its own clusters.
    """
    vol = etree.Element("volume")
    etree.SubElement(vol, "name").text = name
    etree.SubElement(vol, "capacity", unit="bytes").text = str(capacity)
    # Sparse: the file grows as the guest writes, as virt-manager's default qcow2 disks do.
    etree.SubElement(vol, "allocation", unit="bytes").text = "0"
    if fmt is not None:
        target = etree.SubElement(vol, "target")
        etree.SubElement(target, "format", type=fmt)
        if fmt == "qcow2":
            # qcow2 v3: libvirt makes v2 (compat 0.10) without it, which cannot hold the dirty bitmaps
            # of incremental backups (QEMU refuses the backup's checkpoint).
            etree.SubElement(target, "compat").text = "1.1"
    if backing is not None:
        store = etree.SubElement(vol, "backingStore")
        etree.SubElement(store, "path").text = backing[0]
        etree.SubElement(store, "format", type=backing[1])
    return etree.tostring(vol, encoding="unicode")
