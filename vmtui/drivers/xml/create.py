"""The domain XML of a new VM (`vmtui create`), built with lxml from a checked plan.

The defaults are the ones a vmtui user wants (and virt-install mostly picks): q35, virtio disk and
NIC (SATA and e1000e for an OS without virtio drivers), a virtio balloon with a stats period (so the
memory screens have figures), a serial console, a guest-agent channel, a virtio RNG, and a VNC
display on the host's loopback for installers. Disks name their pool and volume (type='volume'),
so the domain follows the volume wherever the pool keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from vmtui.drivers.xml.edit import check_domain_name

LIBOSINFO_NS = "http://libosinfo.org/xmlns/libvirt/domain/1.0"
"""virt-install and virt-manager record the OS variant here; vmtui does the same, so they read it."""
AGENT_CHANNEL = "org.qemu.guest_agent.0"
BALLOON_PERIOD_S = 5


@dataclass(frozen=True, slots=True)
class DiskPlan:
    pool: str
    volume: str
    fmt: str
    """qcow2 or raw (a CD-ROM's ISO is raw)."""
    device: str = "disk"
    """disk or cdrom."""


@dataclass(frozen=True, slots=True)
class NicPlan:
    kind: str
    """network, bridge or user (the `--network` forms)."""
    source: str = ""
    """The network's or bridge's name; "" for user."""


@dataclass(frozen=True, slots=True)
class DomainPlan:
    name: str
    memory_kib: int
    vcpus: int
    domain_type: str
    """kvm, or qemu (TCG) where KVM is not usable."""
    disks: tuple[DiskPlan, ...]
    nic: NicPlan | None
    virtio: bool = True
    """The OS has virtio drivers (osinfo); without, disks are SATA and the NIC an e1000e."""
    boot: tuple[str, ...] = ("hd",)
    """Boot order when there is no kernel: ("cdrom", "hd") for an installer."""
    kernel: str | None = None
    """The host path of a kernel to boot directly, with `initrd` and `cmdline`."""
    initrd: str | None = None
    cmdline: str = ""
    os_id: str | None = None
    """The osinfo id (http://debian.org/debian/11) recorded in the metadata, when known."""


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def disk_targets(plan: DomainPlan) -> list[tuple[str, str]]:
    """(target dev, bus) for each of the plan's disks, in order: vda, vdb... on virtio, sda... on SATA
    (a CD-ROM is always SATA: q35 has no IDE, and virtio has no CD-ROM)."""
    counters = {"vd": 0, "sd": 0}
    out = []
    for disk in plan.disks:
        prefix, bus = ("vd", "virtio") if plan.virtio and disk.device == "disk" else ("sd", "sata")
        out.append((prefix + chr(ord("a") + counters[prefix]), bus))
        counters[prefix] += 1
    return out


def build_domain_xml(plan: DomainPlan) -> str:
    """The domain XML of `plan`; names and paths go in as text and attributes, escaped by lxml."""
    check_domain_name(plan.name)
    dom = etree.Element("domain", type=plan.domain_type)
    _sub(dom, "name", plan.name)
    if plan.os_id:
        meta = _sub(dom, "metadata")
        info = etree.SubElement(meta, f"{{{LIBOSINFO_NS}}}libosinfo", nsmap={"libosinfo": LIBOSINFO_NS})
        etree.SubElement(info, f"{{{LIBOSINFO_NS}}}os", id=plan.os_id)
    _sub(dom, "memory", str(plan.memory_kib), unit="KiB")
    _sub(dom, "currentMemory", str(plan.memory_kib), unit="KiB")
    _sub(dom, "vcpu", str(plan.vcpus), placement="static")
    os_el = _sub(dom, "os")
    _sub(os_el, "type", "hvm", arch="x86_64", machine="q35")
    if plan.kernel is not None:
        _sub(os_el, "kernel", plan.kernel)
        if plan.initrd is not None:
            _sub(os_el, "initrd", plan.initrd)
        if plan.cmdline:
            _sub(os_el, "cmdline", plan.cmdline)
    else:
        for dev in plan.boot:
            _sub(os_el, "boot", dev=dev)
    features = _sub(dom, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    # No <cpu>: QEMU's default model, which every host runs and a migration never refuses. A
    # host-passthrough CPU dies at start under nested KVM (kvm_pvm: "failed to set MSR 0x10a").
    clock = _sub(dom, "clock", offset="utc")
    _sub(clock, "timer", name="rtc", tickpolicy="catchup")
    _sub(clock, "timer", name="pit", tickpolicy="delay")
    _sub(clock, "timer", name="hpet", present="no")
    _sub(dom, "on_poweroff", "destroy")
    _sub(dom, "on_reboot", "restart")
    _sub(dom, "on_crash", "destroy")
    devices = _sub(dom, "devices")
    for disk, (target, bus) in zip(plan.disks, disk_targets(plan), strict=True):
        el = _sub(devices, "disk", type="volume", device=disk.device)
        driver = {"name": "qemu", "type": disk.fmt}
        if disk.device == "disk":
            driver["discard"] = "unmap"  # the guest's TRIM gives space back to a sparse volume
        _sub(el, "driver", **driver)
        _sub(el, "source", pool=disk.pool, volume=disk.volume)
        _sub(el, "target", dev=target, bus=bus)
        if disk.device == "cdrom":
            _sub(el, "readonly")
    if plan.nic is not None:
        nic = _sub(devices, "interface", type=plan.nic.kind)
        if plan.nic.kind == "network":
            _sub(nic, "source", network=plan.nic.source)
        elif plan.nic.kind == "bridge":
            _sub(nic, "source", bridge=plan.nic.source)
        _sub(nic, "model", type="virtio" if plan.virtio else "e1000e")
    serial = _sub(devices, "serial", type="pty")
    _sub(serial, "target", port="0")
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port="0")
    channel = _sub(devices, "channel", type="unix")
    _sub(channel, "target", type="virtio", name=AGENT_CHANNEL)
    _sub(devices, "input", type="tablet", bus="usb")
    _sub(devices, "graphics", type="vnc", port="-1", autoport="yes", listen="127.0.0.1")
    video = _sub(devices, "video")
    _sub(video, "model", type="virtio" if plan.virtio else "vga")
    balloon = _sub(devices, "memballoon", model="virtio")
    _sub(balloon, "stats", period=str(BALLOON_PERIOD_S))
    if plan.virtio:
        rng = _sub(devices, "rng", model="virtio")
        _sub(rng, "backend", "/dev/urandom", model="random")
    return etree.tostring(dom, encoding="unicode", pretty_print=True)
