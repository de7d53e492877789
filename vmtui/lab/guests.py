"""The guests `vmtui lab up` keeps running on each lab host.

Per host (all with role "lab" in their metadata; 128 MiB diskless BIOS guests that idle):
`labK-kvm-virtio` (KVM, virtio NIC; `labK-tcg-virtio` instead when KVM is not usable) and
`labK-tcg-e1000` (TCG, emulated e1000 NIC): hardware-assisted vs emulated CPU, paravirtual vs
emulated NIC. lab1 also runs `lab1-linux` (TCG, 256 MiB, virtio balloon and NIC, the kernel and
initramfs of `vmtui lab image`) when the image exists or can be built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from vmtui.drivers.xmledit import GuestSpec, build_guest_xml
from vmtui.errors import VmtuiError
from vmtui.lab import image
from vmtui.models import DomainInfo

if TYPE_CHECKING:
    from vmtui.drivers.libvirt_driver import Connection

LINUX_GUEST = "lab1-linux"


def linux_image(progress: Callable[[str], None]) -> image.GuestImage | None:
    """The Linux guest image, built on the fly when missing and the tools are there (about 5 s)."""
    found = image.find_image()
    if found or image.missing_tools():
        return found
    try:
        return image.build_image(progress=progress)
    except VmtuiError as exc:
        progress(f"image: not built, lab1 runs without {LINUX_GUEST}: {exc}")
        return None


def guest_specs(host: str, *, kvm: bool, linux: image.GuestImage | None) -> list[GuestSpec]:
    """The guests `up` keeps running on `host` (see the module docstring)."""
    specs = [
        GuestSpec(f"{host}-kvm-virtio", domain_type="kvm", nic_model="virtio", role="lab")
        if kvm
        else GuestSpec(f"{host}-tcg-virtio", domain_type="qemu", nic_model="virtio", role="lab"),
        GuestSpec(f"{host}-tcg-e1000", domain_type="qemu", nic_model="e1000", role="lab"),
    ]
    if host == "lab1" and linux is not None:
        # Stock Linux hangs under this machine's nested KVM (kvm_pvm): Linux guests use TCG.
        specs.append(
            GuestSpec(
                LINUX_GUEST,
                memory_mib=256,
                domain_type="qemu",
                nic_model="virtio",
                role="lab",
                kernel=linux.kernel,
                initrd=linux.initrd,
                cmdline=linux.cmdline(),
            )
        )
    return specs


def ensure(conn: Connection, host: str, *, kvm: bool, linux: image.GuestImage | None) -> list[str]:
    """Start every lab guest of `host` that is not running (a shut-off one is redefined). Returns names."""
    have = {d.name: d for d in conn.list_domains()}
    started = []
    for spec in guest_specs(host, kvm=kvm, linux=linux):
        existing = have.get(spec.name)
        if existing is not None and existing.state == "running":
            continue
        if existing is not None:
            conn.destroy_and_undefine(existing.uuid)
        conn.define_and_start(build_guest_xml(spec))
        started.append(spec.name)
    return started


def guest_json(dom: DomainInfo) -> dict[str, str]:
    """The JSON shape of a guest in `vmtui lab up/down/status --json`."""
    return {"name": dom.name, "uuid": dom.uuid, "state": dom.state, "accelerator": str(dom.accelerator)}
