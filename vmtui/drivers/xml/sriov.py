"""Reading SR-IOV facts from the XML hosts send: node devices (PFs, VFs, their netdevs), hostdev networks,
and which domain holds which PCI function.

Pure and hardened (the parser of `xml.read`): XML text in, frozen values out; testable on libvirt's
test driver, whose node XML can describe a PF and its VFs on a machine without SR-IOV hardware.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from vmtui.drivers.pci import PciAddress
from vmtui.drivers.xml.read import parse_xml
from vmtui.errors import UsageError


@dataclass(frozen=True, slots=True)
class PciFunction:
    """One PCI node device: a PF has `vf_max`, a VF has `pf`."""

    nodedev: str
    address: PciAddress
    driver: str | None
    product: str
    vendor: str
    vf_max: int | None = None
    """sriov_totalvfs, as libvirt read it (a PF's `virt_functions maxCount`)."""
    vfs: tuple[PciAddress, ...] = ()
    """The VFs that exist now (sriov_numvfs of them)."""
    pf: PciAddress | None = None
    """For a VF: its physical function."""


@dataclass(frozen=True, slots=True)
class NetDevice:
    """A host network interface node device and the PCI function it belongs to."""

    nodedev: str
    interface: str
    mac: str | None
    parent: str
    """The parent node device's name (pci_0000_03_00_0)."""
    link: str | None = None


@dataclass(frozen=True, slots=True)
class HostdevNetwork:
    """A libvirt network in hostdev forward mode: a VF pool."""

    name: str
    active: bool
    pf_devs: tuple[str, ...]
    vfs: tuple[PciAddress, ...]
    """The VFs it hands out: listed in its definition, or filled in by libvirt once it runs."""
    connections: int
    """Guests using it now (libvirt's `connections` count on a running network)."""


@dataclass(frozen=True, slots=True)
class PassthroughUse:
    """A PCI function a domain's definition gives to the guest."""

    address: PciAddress
    via: str
    """interface (an SR-IOV NIC, MAC and VLAN set by libvirt) or hostdev (plain PCI passthrough)."""
    mac: str | None = None
    vlan: int | None = None


def _int(text: str | None) -> int | None:
    text = (text or "").strip().lower()
    try:
        return int(text, 16) if text.startswith("0x") else int(text)
    except ValueError:
        return None


def read_pci_device(xml: str) -> PciFunction | None:
    """A `pci` node device; None for other kinds or an address that does not parse."""
    root = parse_xml(xml)
    cap = root.find("capability[@type='pci']")
    if cap is None:
        return None
    parts = [_int(cap.findtext(tag)) for tag in ("domain", "bus", "slot", "function")]
    if any(p is None for p in parts):
        return None
    try:
        address = PciAddress(*(p or 0 for p in parts))
    except UsageError:  # out of range: not something a host should send; skip it
        return None
    vf_cap = cap.find("capability[@type='virt_functions']")
    pf_cap = cap.find("capability[@type='phys_function']/address")
    vfs = tuple(
        a
        for a in (PciAddress.from_element(el) for el in (vf_cap.findall("address") if vf_cap is not None else ()))
        if a
    )
    return PciFunction(
        nodedev=root.findtext("name") or address.nodedev,
        address=address,
        driver=root.findtext("driver/name"),
        product=(cap.findtext("product") or "").strip(),
        vendor=(cap.findtext("vendor") or "").strip(),
        vf_max=_int(vf_cap.get("maxCount")) if vf_cap is not None else None,
        vfs=vfs,
        pf=PciAddress.from_element(pf_cap) if pf_cap is not None else None,
    )


def read_net_device(xml: str) -> NetDevice | None:
    root = parse_xml(xml)
    cap = root.find("capability[@type='net']")
    if cap is None or not cap.findtext("interface"):
        return None
    link = cap.find("link")
    return NetDevice(
        nodedev=root.findtext("name") or "",
        interface=cap.findtext("interface") or "",
        mac=(cap.findtext("address") or "").lower() or None,
        parent=root.findtext("parent") or "",
        link=link.get("state") if link is not None else None,
    )


def read_hostdev_network(xml: str, *, active: bool) -> HostdevNetwork | None:
    """A hostdev-mode network; None for every other kind of network."""
    root = parse_xml(xml)
    forward = root.find("forward")
    if forward is None or forward.get("mode") != "hostdev":
        return None
    vfs = tuple(
        a
        for a in (PciAddress.from_element(el) for el in forward.findall("address") if el.get("type", "pci") == "pci")
        if a
    )
    return HostdevNetwork(
        name=root.findtext("name") or "",
        active=active,
        pf_devs=tuple(pf.get("dev", "") for pf in forward.findall("pf") if pf.get("dev")),
        vfs=vfs,
        connections=_int(forward.get("connections")) or 0,
    )


def _vlan(el: etree._Element) -> int | None:
    tag = el.find("vlan/tag")
    return _int(tag.get("id")) if tag is not None else None


def passthrough_uses(domain_xml: str) -> list[PassthroughUse]:
    """Every PCI function this definition passes through: SR-IOV NICs and `<hostdev>` devices."""
    root = parse_xml(domain_xml)
    out = []
    for iface in root.iterfind("devices/interface[@type='hostdev']"):
        addr_el = iface.find("source/address")
        address = PciAddress.from_element(addr_el) if addr_el is not None else None
        if address is not None:
            mac_el = iface.find("mac")
            mac = mac_el.get("address") if mac_el is not None else None
            out.append(PassthroughUse(address, "interface", mac.lower() if mac else None, _vlan(iface)))
    for hostdev in root.iterfind("devices/hostdev[@type='pci']"):
        addr_el = hostdev.find("source/address")
        address = PciAddress.from_element(addr_el) if addr_el is not None else None
        if address is not None:
            out.append(PassthroughUse(address, "hostdev"))
    return out


def pool_nics(domain_xml: str, pools: set[str]) -> list[tuple[str, str | None]]:
    """(network, MAC) of each NIC on one of `pools` (a VF the pool picks when the guest starts)."""
    root = parse_xml(domain_xml)
    out = []
    for iface in root.iterfind("devices/interface[@type='network']"):
        source = iface.find("source")
        network = source.get("network") if source is not None else None
        if network in pools:
            mac_el = iface.find("mac")
            out.append((network or "", mac_el.get("address") if mac_el is not None else None))
    return out
