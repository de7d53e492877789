"""Domain XML for the small guests vmtui makes itself (demo, lab, tests), built with lxml only.

Names and paths go in as element text and attribute values, so lxml escapes them; no XML is ever
assembled from strings. Two shapes exist: a diskless BIOS guest (boots to "no bootable device" in
about a second and then idles, enough for real CPU/KVM stats) and a tiny Linux guest (kernel +
initramfs, with a balloon driver and a memory dirtier) for ballooning, KSM and migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from vmtui.errors import UsageError

VMTUI_NS = "urn:vmtui:guest"
"""Namespace of the <metadata> element that marks a guest as made by vmtui (and by which part)."""


@dataclass(frozen=True, slots=True)
class GuestSpec:
    name: str
    memory_mib: int = 128
    vcpus: int = 1
    domain_type: str = "kvm"
    """'kvm' (hardware-assisted) or 'qemu' (TCG emulation)."""
    nic_model: str | None = "virtio"
    """virtio (paravirtual), e1000 / rtl8139 (emulated), or None for no NIC."""
    bridge: str | None = None
    """Attach the NIC to this host bridge (a tap with rx/tx counters) instead of user-mode networking,
    which reports no counters at all."""
    disk: Path | None = None
    """An image attached as a virtio disk (vda)."""
    disk_format: str = "qcow2"
    """qcow2, or raw (a boot sector of the project's own)."""
    role: str = "demo"
    """Recorded in the metadata: demo, lab, test. Cleanup finds guests by it."""
    kernel: Path | None = None
    initrd: Path | None = None
    cmdline: str = ""
    balloon_period: int = 2


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


MAX_NAME_BYTES = 200


def check_domain_name(name: str) -> str:
    """Refuse, before any call, a name libvirt or a shell would read otherwise (virtinst's rules).

    Not empty, at most 200 bytes, no '/' (QEMU puts the name in file paths), no control characters
    (libvirt refuses a newline), and no leading '-' (it would read as an option to virsh and vmtui).
    """
    if not name.strip():
        raise UsageError("a domain name must not be empty")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise UsageError(f"domain name longer than {MAX_NAME_BYTES} bytes")
    if "/" in name or name.startswith("-") or not name.isprintable():
        raise UsageError(f"domain name {name!r}: no '/', no control characters, and not starting with '-'")
    return name


def check_host_path(path: Path, what: str) -> Path:
    """An absolute path on the host (remote paths are the host's, never checked locally), printable."""
    text = str(path)
    if not path.is_absolute() or not text.isprintable():
        raise UsageError(f"{what} {text!r}: an absolute path without control characters is needed")
    if path == Path(path.anchor):  # libvirt's schema (absFilePath) refuses the bare root: it names no file
        raise UsageError(f"{what} {text!r}: the root directory is not a file; name the file")
    return path


def build_guest_xml(spec: GuestSpec) -> str:
    """The domain XML for `spec`; names and paths are checked first and then escaped by lxml."""
    if spec.domain_type not in ("kvm", "qemu"):
        raise UsageError(f"domain type must be kvm or qemu, not {spec.domain_type!r}")
    check_domain_name(spec.name)
    for path, what in ((spec.disk, "disk"), (spec.kernel, "kernel"), (spec.initrd, "initrd")):
        if path is not None:
            check_host_path(path, what)
    if not spec.cmdline.isprintable():
        raise UsageError("the kernel command line must not hold control characters")
    dom = etree.Element("domain", type=spec.domain_type)
    _sub(dom, "name", spec.name)
    meta = _sub(dom, "metadata")
    etree.SubElement(meta, f"{{{VMTUI_NS}}}guest", {"role": spec.role}, nsmap={"vmtui": VMTUI_NS})
    _sub(dom, "memory", str(spec.memory_mib), unit="MiB")
    _sub(dom, "currentMemory", str(spec.memory_mib), unit="MiB")
    _sub(dom, "vcpu", str(spec.vcpus))
    os_el = _sub(dom, "os")
    _sub(os_el, "type", "hvm", arch="x86_64", machine="q35")
    if spec.kernel is not None:
        _sub(os_el, "kernel", str(spec.kernel))
        if spec.initrd is not None:
            _sub(os_el, "initrd", str(spec.initrd))
        _sub(os_el, "cmdline", spec.cmdline)
    else:
        # No bootable device: SeaBIOS idles, which is all a stats-only guest needs.
        _sub(os_el, "boot", dev="hd")
    features = _sub(dom, "features")
    _sub(features, "acpi")
    _sub(dom, "on_poweroff", "destroy")
    _sub(dom, "on_reboot", "restart")
    _sub(dom, "on_crash", "destroy")
    devices = _sub(dom, "devices")
    _sub(devices, "emulator", "/usr/bin/qemu-system-x86_64")
    if spec.disk is not None:
        disk = _sub(devices, "disk", type="file", device="disk")
        # cache='none': the image is never half in the host's page cache (safe to migrate, honest IO figures).
        if spec.disk_format not in ("qcow2", "raw"):
            raise UsageError(f"disk format must be qcow2 or raw, not {spec.disk_format!r}")
        _sub(disk, "driver", name="qemu", type=spec.disk_format, cache="none")
        _sub(disk, "source", file=str(spec.disk))
        _sub(disk, "target", dev="vda", bus="virtio")
    if spec.nic_model:
        if spec.bridge:
            nic = _sub(devices, "interface", type="bridge")
            _sub(nic, "source", bridge=spec.bridge)
        else:
            nic = _sub(devices, "interface", type="user")
        _sub(nic, "model", type=spec.nic_model)
        # iPXE in the NIC ROM crashes under nested KVM ("emulation failure"); nobody boots from it here.
        _sub(nic, "rom", enabled="no")
    serial = _sub(devices, "serial", type="pty")
    _sub(serial, "target", port="0")
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port="0")
    video = _sub(devices, "video")
    _sub(video, "model", type="none")
    balloon = _sub(devices, "memballoon", model="virtio")
    _sub(balloon, "stats", period=str(spec.balloon_period))
    return etree.tostring(dom, encoding="unicode", pretty_print=True)
