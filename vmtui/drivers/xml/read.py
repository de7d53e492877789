"""Reading the XML that hosts send: domain definitions and capabilities.

Every document comes from a host that may be compromised, so it is parsed with entity
resolution, DTD loading and network access off (no XXE, no entity bombs). Pure functions:
XML text in, values out; testable without a host.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lxml import etree

from vmtui.drivers.xml.edit import VMTUI_NS
from vmtui.models import Accelerator, Device, DeviceClass

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_blank_text=True
)

EMULATED_DISK_BUSES = frozenset({"ide", "sata", "fdc", "usb", "sd"})

NET_MODELS = (
    "netfront", "rtl8139", "virtio", "e1000", "e1000e", "igb", "virtio-transitional", "virtio-non-transitional",
    "usb-net", "spapr-vlan", "lan9118", "scm91c111", "vlance", "vmxnet", "vmxnet2", "vmxnet3",
    "Am79C970A", "Am79C973", "82540EM", "82545EM", "82543GC",
)  # fmt: skip
"""libvirt's NIC models (virDomainNetModel, conf/domain_conf.c) in its spelling. It matches a <model type>
against them ignoring case (virDomainNetModelTypeFromString: STRCASEEQ), so `ViRtIo` runs as virtio;
any other name goes to QEMU as written. Only NIC models: disk buses, balloon, video, RNG and
controller models are matched exactly, and libvirt 9.0 refuses `VirtIO` there at define."""
_NET_MODEL_BY_LOWER = {m.lower(): m for m in NET_MODELS}


def net_model(written: str) -> str:
    """A NIC's <model type> as libvirt reads it: a known model in libvirt's spelling, else as written."""
    return _NET_MODEL_BY_LOWER.get(written.lower(), written)


UNIT_KIB = {
    "b": 1 / 1024, "bytes": 1 / 1024,
    "k": 1, "kib": 1, "kb": 1000 / 1024,
    "m": 1024, "mib": 1024, "mb": 1000**2 / 1024,
    "g": 1024**2, "gib": 1024**2, "gb": 1000**3 / 1024,
    "t": 1024**3, "tib": 1024**3, "tb": 1000**4 / 1024,
}  # fmt: skip
"""libvirt's memory units (formatdomain "Memory Allocation") in KiB; no unit means KiB."""


def parse_xml(text: str | bytes) -> etree._Element:
    """Parse untrusted XML from a host; raises ValueError on anything malformed."""
    data = text.encode() if isinstance(text, str) else text
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"malformed XML from host: {exc}") from exc


def memory_kib(el: etree._Element, path: str) -> int | None:
    """A memory element's size in KiB, honouring its `unit=` (libvirt writes KiB, people write MiB)."""
    node = el.find(path)
    if node is None or node.text is None:
        return None
    factor = UNIT_KIB.get((node.get("unit") or "KiB").lower())
    try:
        value = int(node.text.strip())
    except ValueError:
        return None
    return None if factor is None else int(value * factor)


def accelerator_of(domain_type: str) -> Accelerator:
    return {"kvm": Accelerator.KVM, "qemu": Accelerator.TCG}.get(domain_type, Accelerator.OTHER)


def _attr(el: etree._Element, path: str, attr: str) -> str:
    node = el.find(path)
    return (node.get(attr) or "") if node is not None else ""


def _vlan(iface: etree._Element) -> int | None:
    tag = iface.find("vlan/tag")
    text = tag.get("id", "") if tag is not None else ""
    return int(text) if text.isdigit() else None


def _nic(iface: etree._Element) -> Device:
    mac = _attr(iface, "mac", "address")
    iface_type = iface.get("type", "")
    base = Device(
        "nic",
        _attr(iface, "target", "dev") or mac or "nic",
        "",
        DeviceClass.OTHER,
        flavor=iface_type,
        mac=mac,
        alias=_attr(iface, "alias", "name"),
        vlan=_vlan(iface),
    )
    if iface_type == "hostdev":
        from vmtui.drivers.pci import PciAddress  # here: most domains have no passthrough device

        address = iface.find("source/address")
        pci = PciAddress.from_element(address) if address is not None else None
        source = str(pci) if pci else ""
        detail = "SR-IOV VF (hostdev interface)" + (f", {source}" if source else "")
        return replace(base, model="vfio", dev_class=DeviceClass.PASSTHROUGH, detail=detail, source=source)
    model = net_model(_attr(iface, "model", "type"))
    backend = _attr(iface, "driver", "name")
    source_el = iface.find("source")
    source = ""
    if source_el is not None:
        source = source_el.get("network") or source_el.get("bridge") or source_el.get("dev") or ""
    detail = f"type={iface_type}" + (f", driver={backend}" if backend else "")
    if model.startswith("virtio"):
        return replace(base, model=model, dev_class=DeviceClass.PARAVIRTUAL, detail=detail, source=source)
    # No <model> means QEMU's machine default NIC, which is an emulated chip (e1000e on q35).
    return replace(base, model=model or "default", dev_class=DeviceClass.EMULATED, detail=detail, source=source)


def _disk(disk: etree._Element, scsi_models: dict[str, str]) -> Device | None:
    target = disk.find("target")
    if target is None:
        return None
    bus = target.get("bus", "")
    source = disk.find("source")
    src = ""
    if source is not None:
        src = source.get("file") or source.get("dev") or source.get("name") or source.get("volume") or ""
    flavor = disk.get("device", "disk")
    base = Device(
        "disk",
        target.get("dev", "disk"),
        bus or "unknown",
        DeviceClass.OTHER,
        flavor + (f", {src}" if src else ""),
        bus=bus,
        flavor=flavor,
        alias=_attr(disk, "alias", "name"),
        source=src,
    )
    if bus == "virtio":
        return replace(base, model="virtio-blk", dev_class=DeviceClass.PARAVIRTUAL)
    if bus == "scsi":
        controller = _attr(disk, "address", "controller") or "0"
        model = scsi_models.get(controller, "")
        if model == "virtio-scsi":
            return replace(base, model="virtio-scsi", dev_class=DeviceClass.PARAVIRTUAL)
        return replace(base, model=f"scsi ({model or 'default'})", dev_class=DeviceClass.EMULATED)
    if bus in EMULATED_DISK_BUSES:
        return replace(base, dev_class=DeviceClass.EMULATED)
    return base


def _hostdev(hostdev: etree._Element) -> Device:
    from vmtui.drivers.pci import PciAddress  # here: most domains have no passthrough device

    addr = hostdev.find("source/address")
    pci = PciAddress.from_element(addr) if addr is not None and hostdev.get("type") == "pci" else None
    name = str(pci) if pci else hostdev.get("type", "hostdev")
    return Device(
        "hostdev",
        name,
        hostdev.get("type", ""),
        DeviceClass.PASSTHROUGH,
        "host device passthrough",
        flavor=hostdev.get("type", ""),
        alias=_attr(hostdev, "alias", "name"),
        source=str(pci) if pci else "",
    )


def devices_of(root: etree._Element) -> tuple[Device, ...]:
    """Classify the devices that matter for overhead: disks, NICs, host devices, balloon, rng, video."""
    devices = root.find("devices")
    if devices is None:
        return ()
    scsi_models = {
        c.get("index", "0"): c.get("model", "") for c in devices.findall("controller") if c.get("type") == "scsi"
    }
    out: list[Device] = []
    for disk in devices.findall("disk"):
        device = _disk(disk, scsi_models)
        if device is not None:
            out.append(device)
    for index, model in sorted(scsi_models.items()):
        cls = DeviceClass.PARAVIRTUAL if model == "virtio-scsi" else DeviceClass.EMULATED
        out.append(Device("controller", f"scsi{index}", model or "default", cls))
    out.extend(_nic(iface) for iface in devices.findall("interface"))
    out.extend(_hostdev(h) for h in devices.findall("hostdev"))
    for rng in devices.findall("rng"):
        model = rng.get("model", "")
        cls = DeviceClass.PARAVIRTUAL if model.startswith("virtio") else DeviceClass.OTHER
        out.append(Device("rng", "rng", model, cls))
    for video in devices.findall("video/model"):
        vtype = video.get("type", "")
        if vtype and vtype != "none":
            cls = DeviceClass.PARAVIRTUAL if vtype == "virtio" else DeviceClass.EMULATED
            out.append(Device("video", "video", vtype, cls))
    for balloon in devices.findall("memballoon"):
        model = balloon.get("model", "")
        if model and model != "none":
            cls = DeviceClass.PARAVIRTUAL if model.startswith("virtio") else DeviceClass.OTHER
            out.append(Device("balloon", "balloon", model, cls))
    return tuple(out)


GUEST_TAG = f"{{{VMTUI_NS}}}guest"
"""vmtui's element inside <metadata> (libvirt hands it over alone through virDomainGetMetadata)."""
TEMPLATE_ATTR = "template"


def is_template(root: etree._Element) -> bool:
    """Whether a parsed domain document carries vmtui's template mark (drivers/xml/provision.py)."""
    mark = root.find(f"metadata/{GUEST_TAG}")
    return mark is not None and mark.get(TEMPLATE_ATTR) == "yes"


@dataclass(frozen=True, slots=True)
class DomainXml:
    """The parts of a domain's XML the rest of vmtui uses."""

    name: str
    uuid: str
    accelerator: Accelerator
    vcpus: int
    max_memory_kib: int
    memory_kib: int
    machine: str
    devices: tuple[Device, ...]
    balloon_model: str | None
    balloon_period: int | None
    template: bool = False
    """Marked a template by `vmtui template` (see drivers/xml/provision.py): cloned, never started."""


def read_domain_xml(text: str) -> DomainXml:
    root = parse_xml(text)
    vcpu_el = root.find("vcpu")
    vcpus = 1
    if vcpu_el is not None:
        try:
            vcpus = int(vcpu_el.get("current") or vcpu_el.text or 1)
        except ValueError:
            vcpus = 1
    os_type = root.find("os/type")
    balloon = root.find("devices/memballoon")
    period: int | None = None
    if balloon is not None:
        stats = balloon.find("stats")
        if stats is not None and (stats.get("period") or "").isdigit():
            period = int(stats.get("period", "0")) or None
    max_kib = memory_kib(root, "memory") or 0
    current = memory_kib(root, "currentMemory")
    return DomainXml(
        name=root.findtext("name") or "",
        uuid=root.findtext("uuid") or "",
        accelerator=accelerator_of(root.get("type", "")),
        vcpus=vcpus,
        max_memory_kib=max_kib,
        # Without <currentMemory> the guest has all of <memory> (no balloon inflation).
        memory_kib=current if current is not None else max_kib,
        machine=os_type.get("machine", "") if os_type is not None else "",
        devices=devices_of(root),
        balloon_model=balloon.get("model") if balloon is not None else None,
        balloon_period=period,
        template=is_template(root),
    )


@dataclass(frozen=True, slots=True)
class CapsXml:
    """The parts of the host capabilities XML the rest of vmtui uses."""

    cpu_model: str
    host_uuid: str
    domain_types: frozenset[str]
    hugepage_size_kib: int | None
    hugepages_total: int | None
    cells: int
    page_size_kib: int | None = None


def read_capabilities(text: str) -> CapsXml:
    root = parse_xml(text)
    types = frozenset(d.get("type", "") for d in root.iterfind("guest/arch/domain"))
    sizes = [int(p.get("size", "0")) for p in root.iterfind("host/cpu/pages") if p.get("size", "").isdigit()]
    huge = min((s for s in sizes if s > 4), default=None)  # 2 MiB where both exist
    base = min(sizes, default=None)
    total: int | None = None
    if huge is not None:
        total = sum(
            int(p.text or 0)
            for p in root.iterfind("host/topology/cells/cell/pages")
            if p.get("size") == str(huge) and (p.text or "").isdigit()
        )
    return CapsXml(
        cpu_model=root.findtext("host/cpu/model") or "",
        host_uuid=root.findtext("host/uuid") or "",
        domain_types=types,
        hugepage_size_kib=huge,
        hugepages_total=total,
        cells=max(1, len(root.findall("host/topology/cells/cell"))),
        page_size_kib=base,
    )
