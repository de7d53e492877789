"""Reading the XML that hosts send: domain definitions and capabilities.

Every document comes from a host that may be compromised, so it is parsed with entity
resolution, DTD loading and network access off (no XXE, no entity bombs). Pure functions:
XML text in, values out; testable without a host.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from vmtui.models import Accelerator, Device, DeviceClass

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_blank_text=True
)

EMULATED_DISK_BUSES = frozenset({"ide", "sata", "fdc", "usb", "sd"})

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


def _nic(iface: etree._Element) -> Device:
    mac_el = iface.find("mac")
    mac = mac_el.get("address", "") if mac_el is not None else ""
    target = iface.find("target")
    name = (target.get("dev") if target is not None else None) or mac or "nic"
    iface_type = iface.get("type", "")
    if iface_type == "hostdev":
        return Device("nic", name, "vfio", DeviceClass.PASSTHROUGH, "SR-IOV VF (hostdev interface)")
    model_el = iface.find("model")
    model = model_el.get("type", "") if model_el is not None else ""
    driver = iface.find("driver")
    backend = driver.get("name", "") if driver is not None else ""
    detail = f"type={iface_type}" + (f", driver={backend}" if backend else "")
    if model.startswith("virtio"):
        return Device("nic", name, model, DeviceClass.PARAVIRTUAL, detail)
    # No <model> means QEMU's machine default NIC, which is an emulated chip (e1000e on q35).
    return Device("nic", name, model or "default", DeviceClass.EMULATED, detail)


def _disk(disk: etree._Element, scsi_models: dict[str, str]) -> Device | None:
    target = disk.find("target")
    if target is None:
        return None
    dev = target.get("dev", "disk")
    bus = target.get("bus", "")
    source = disk.find("source")
    src = ""
    if source is not None:
        src = source.get("file") or source.get("dev") or source.get("name") or source.get("volume") or ""
    detail = f"{disk.get('device', 'disk')}" + (f", {src}" if src else "")
    if bus == "virtio":
        return Device("disk", dev, "virtio-blk", DeviceClass.PARAVIRTUAL, detail)
    if bus == "scsi":
        address = disk.find("address")
        controller = address.get("controller", "0") if address is not None else "0"
        model = scsi_models.get(controller, "")
        if model == "virtio-scsi":
            return Device("disk", dev, "virtio-scsi", DeviceClass.PARAVIRTUAL, detail)
        return Device("disk", dev, f"scsi ({model or 'default'})", DeviceClass.EMULATED, detail)
    if bus in EMULATED_DISK_BUSES:
        return Device("disk", dev, bus, DeviceClass.EMULATED, detail)
    return Device("disk", dev, bus or "unknown", DeviceClass.OTHER, detail)


def _hostdev(hostdev: etree._Element) -> Device:
    addr = hostdev.find("source/address")
    if addr is not None and hostdev.get("type") == "pci":
        name = "{}:{}:{}.{}".format(
            addr.get("domain", "0x0000")[2:],
            addr.get("bus", "0x00")[2:],
            addr.get("slot", "0x00")[2:],
            addr.get("function", "0x0")[2:],
        )
    else:
        name = hostdev.get("type", "hostdev")
    return Device("hostdev", name, hostdev.get("type", ""), DeviceClass.PASSTHROUGH, "host device passthrough")


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


def read_capabilities(text: str) -> CapsXml:
    root = parse_xml(text)
    types = frozenset(d.get("type", "") for d in root.iterfind("guest/arch/domain"))
    sizes = [int(p.get("size", "0")) for p in root.iterfind("host/cpu/pages") if p.get("size", "").isdigit()]
    huge = min((s for s in sizes if s > 4), default=None)  # 2 MiB where both exist
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
    )
