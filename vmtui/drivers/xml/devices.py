"""Device XML, built with lxml from validated values, and the few edits vmtui makes to a domain's devices.

Each kind of device vmtui adds is a frozen spec whose fields map to XML paths in one table (as
virtinst's `XMLProperty("./source/address/@slot")` does): the table is the whole story of what
reaches the XML. Values are validated on the way in (MAC, VLAN, names, sizes, PCI addresses) and set
as attribute values or text by lxml, which escapes them; nothing is assembled from strings. Edits
of existing devices (NIC model, disk bus) work on parsed copies of what the host sent.

Pure: XML text and values in, XML text out; testable without a host.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lxml import etree

from vmtui.drivers.pci import PciAddress
from vmtui.drivers.xml.read import parse_xml
from vmtui.errors import UsageError

# ----- validation ---------------------------------------------------------------------------------

_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
_NEW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
_TARGET = re.compile(r"^(?:vd|sd|hd|xvd)[a-z]{1,3}$")
MIN_DISK_BYTES = 1024**2
MAX_DISK_BYTES = 64 * 1024**4
VLAN_RANGE = (1, 4094)


def check_mac(text: str) -> str:
    """A unicast MAC address, lower case (libvirt refuses multicast ones for a NIC)."""
    mac = text.strip().lower().replace("-", ":")
    if not _MAC.match(mac):
        raise UsageError(f"{text!r} is not a MAC address", hint="six hex pairs: 52:54:00:12:34:56")
    if int(mac[:2], 16) & 1:
        raise UsageError(f"{mac} is a multicast MAC address; a NIC needs a unicast one (even first byte)")
    if mac == "00:00:00:00:00:00":
        raise UsageError("00:00:00:00:00:00 is not a usable MAC address")
    return mac


def check_vlan(vlan: int) -> int:
    low, high = VLAN_RANGE
    if not low <= vlan <= high:
        raise UsageError(f"VLAN {vlan} is out of range ({low}-{high})")
    return vlan


def check_new_name(what: str, text: str) -> str:
    """A name vmtui gives something new (a network, a volume): plain characters only."""
    if not _NEW_NAME.match(text):
        raise UsageError(
            f"refusing {what} name {text!r}", hint="letters, digits and _.+- only, at most 64, not starting with . + -"
        )
    return text


def check_ref_name(what: str, text: str) -> str:
    """The name of something that exists (a network, a pool): any printable text without '/'."""
    if not text or len(text) > 255 or not text.isprintable() or "/" in text:
        raise UsageError(f"refusing {what} name {text!r}: empty, too long, '/' or control characters")
    return text


def check_target(text: str) -> str:
    if not _TARGET.match(text):
        raise UsageError(f"{text!r} is not a disk target", hint="as the guest sees it: vda, sdb, hdc")
    return text


# ----- declarative building -----------------------------------------------------------------------

Field = tuple[str, str | None]
"""(path, value): `a/b/@attr` sets an attribute, `a/b` the text of an element; None leaves it out."""


def put(root: etree._Element, path: str, value: str) -> None:
    """Set `value` at `path` under `root`, creating the elements on the way (one of each name)."""
    steps = path.split("/")
    attr = steps.pop()[1:] if steps[-1].startswith("@") else None
    node = root
    for step in steps:
        child = node.find(step)
        node = child if child is not None else etree.SubElement(node, step)
    if attr is None:
        node.text = value
    else:
        node.set(attr, value)


def build(tag: str, attrs: dict[str, str], fields: Iterable[Field]) -> etree._Element:
    root = etree.Element(tag, attrs)
    for path, value in fields:
        if value is not None:
            put(root, path, value)
    return root


def text(el: etree._Element) -> str:
    return etree.tostring(el, encoding="unicode", pretty_print=True)


def _pci_fields(prefix: str, address: PciAddress) -> list[Field]:
    return [(f"{prefix}/@type", "pci"), *((f"{prefix}/@{k}", v) for k, v in address.attrs().items())]


@dataclass(frozen=True, slots=True)
class NicSpec:
    """A paravirtual NIC: on a libvirt network, a host bridge, or QEMU's user-mode network."""

    kind: str
    """network, bridge or user."""
    source: str | None = None
    """The network's or bridge's name (None for user)."""
    mac: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("network", "bridge", "user"):
            raise UsageError(f"a NIC is on a network, a bridge or user-mode networking, not {self.kind!r}")
        if (self.kind == "user") != (self.source is None):
            raise UsageError("a network or bridge NIC needs its name; a user-mode NIC takes none")

    def element(self) -> etree._Element:
        return build(
            "interface",
            {"type": self.kind},
            [
                ("mac/@address", check_mac(self.mac) if self.mac else None),
                (f"source/@{self.kind}", check_ref_name(self.kind, self.source) if self.source else None),
                ("model/@type", "virtio"),
            ],
        )


@dataclass(frozen=True, slots=True)
class VfNicSpec:
    """An SR-IOV VF given to the guest as a NIC (`<interface type='hostdev'>`): MAC and VLAN set by libvirt."""

    address: PciAddress
    mac: str | None = None
    vlan: int | None = None

    def element(self) -> etree._Element:
        return build(
            "interface",
            {"type": "hostdev", "managed": "yes"},
            [
                ("mac/@address", check_mac(self.mac) if self.mac else None),
                *_pci_fields("source/address", self.address),
                ("vlan/tag/@id", str(check_vlan(self.vlan)) if self.vlan is not None else None),
            ],
        )


@dataclass(frozen=True, slots=True)
class PoolNicSpec:
    """A NIC from a VF pool (a hostdev network): libvirt picks a free VF when the guest gets it."""

    network: str
    mac: str | None = None
    vlan: int | None = None

    def element(self) -> etree._Element:
        return build(
            "interface",
            {"type": "network"},
            [
                ("mac/@address", check_mac(self.mac) if self.mac else None),
                ("source/@network", check_ref_name("network", self.network)),
                ("vlan/tag/@id", str(check_vlan(self.vlan)) if self.vlan is not None else None),
            ],
        )


@dataclass(frozen=True, slots=True)
class DiskSpec:
    """A virtio-blk disk backed by a file or a block device on the host."""

    path: str
    target: str
    fmt: str = "qcow2"
    block: bool = False

    def element(self) -> etree._Element:
        if not self.path.startswith("/") or "\n" in self.path:
            raise UsageError(f"refusing disk path {self.path!r}: an absolute host path is needed")
        if self.fmt not in ("qcow2", "raw"):
            raise UsageError(f"disk format {self.fmt!r}: qcow2 or raw")
        return build(
            "disk",
            {"type": "block" if self.block else "file", "device": "disk"},
            [
                ("driver/@name", "qemu"),
                ("driver/@type", self.fmt),
                ("source/@dev" if self.block else "source/@file", self.path),
                ("target/@dev", check_target(self.target)),
                ("target/@bus", "virtio"),
            ],
        )


@dataclass(frozen=True, slots=True)
class VolumeSpec:
    """A new storage volume: sparse (nothing allocated up front), qcow2 unless asked otherwise."""

    name: str
    capacity: int
    fmt: str = "qcow2"

    def element(self) -> etree._Element:
        if not MIN_DISK_BYTES <= self.capacity <= MAX_DISK_BYTES:
            raise UsageError(f"volume size {self.capacity} bytes is out of range")
        return build(
            "volume",
            {},
            [
                ("name", check_new_name("volume", self.name)),
                ("capacity", str(self.capacity)),
                ("capacity/@unit", "bytes"),
                ("allocation", "0"),
                ("target/format/@type", self.fmt if self.fmt in ("qcow2", "raw") else None),
            ],
        )


@dataclass(frozen=True, slots=True)
class HostdevNetworkSpec:
    """A VF pool: a libvirt network in hostdev forward mode over a PF (or over a list of VFs when the PF
    has no host netdev to name)."""

    name: str
    pf_dev: str | None = None
    vfs: tuple[PciAddress, ...] = ()

    def element(self) -> etree._Element:
        if (self.pf_dev is None) == (not self.vfs):
            raise UsageError("a VF pool is over one PF's netdev or over a list of VFs")
        root = build(
            "network",
            {},
            [
                ("name", check_new_name("network", self.name)),
                ("forward/@mode", "hostdev"),
                ("forward/@managed", "yes"),
                ("forward/pf/@dev", check_ref_name("PF", self.pf_dev) if self.pf_dev else None),
            ],
        )
        forward = root.find("forward")
        assert forward is not None
        for vf in self.vfs:  # repeated elements: one <address> each, which `put` cannot express
            etree.SubElement(forward, "address", {"type": "pci", **vf.attrs()})
        return root


# ----- edits of what a host sent --------------------------------------------------------------------


def interfaces(domain_xml: str) -> list[etree._Element]:
    return parse_xml(domain_xml).findall("devices/interface")


def interface_by_mac(domain_xml: str, mac: str) -> etree._Element | None:
    wanted = mac.lower()
    for iface in interfaces(domain_xml):
        found = iface.find("mac")
        if found is not None and (found.get("address") or "").lower() == wanted:
            return iface
    return None


RUNTIME_ONLY = ("target", "alias")
"""Children of a live device that libvirt fills in at run time and would refuse (or misread) on attach."""


def without_runtime(device: etree._Element) -> etree._Element:
    """A copy of a live device as one would attach it: no target/alias, no port id or resolved bridge."""
    clean = copy.deepcopy(device)
    for tag in RUNTIME_ONLY:
        for child in clean.findall(tag):
            clean.remove(child)
    source = clean.find("source")
    if source is not None and clean.get("type") == "network":
        for attr in ("portid", "bridge"):
            if attr in source.attrib:
                del source.attrib[attr]
    return clean


def nic_as_virtio(iface: etree._Element) -> etree._Element:
    """The same NIC (type, source, MAC, PCI address, ROM setting) with the virtio model."""
    if iface.get("type") in ("hostdev", "vdpa", "vhostuser"):
        raise UsageError(f"a {iface.get('type')} NIC has no emulated model to change")
    new = without_runtime(iface)
    put(new, "model/@type", "virtio")
    return new


def target_names(docs: Sequence[str]) -> set[str]:
    return {t.get("dev", "") for doc in docs for t in parse_xml(doc).iterfind("devices/disk/target")}


def disk_name(prefix: str, index: int) -> str:
    """The guest-visible name of disk number `index` (0 -> vda, 25 -> vdz, 26 -> vdaa), as libvirt counts."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return prefix + letters


def free_target(docs: Sequence[str], prefix: str = "vd") -> str:
    """The first `vdX` no disk of these definitions (live and persistent) uses."""
    used = target_names(docs)
    return next(name for i in range(26 * 27) if (name := disk_name(prefix, i)) not in used)


EMULATED_BUSES = ("sata", "ide", "scsi", "usb")


def disk_as_virtio(domain_xml: str, target: str, new_target: str) -> str:
    """The domain definition with disk `target` on the virtio bus as `new_target` (its drive address dropped)."""
    root = parse_xml(domain_xml)
    disk = next(
        (d for d in root.iterfind("devices/disk") if d.find(f"target[@dev='{check_target(target)}']") is not None), None
    )
    if disk is None:
        raise UsageError(f"no disk {target} in this definition")
    flavor = disk.get("device", "disk")
    if flavor != "disk":
        raise UsageError(f"{target} is a {flavor}: virtio-blk carries disks only (a CD-ROM stays on its bus)")
    tgt = disk.find("target")
    assert tgt is not None
    if tgt.get("bus") not in EMULATED_BUSES:
        raise UsageError(f"{target} is on the {tgt.get('bus') or 'default'} bus, not an emulated one")
    tgt.set("dev", check_target(new_target))
    tgt.set("bus", "virtio")
    for address in disk.findall("address"):
        disk.remove(address)  # a drive address (controller/bus/unit) means nothing on virtio: libvirt picks a PCI slot
    return text(root)
