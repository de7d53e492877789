"""The guests `vmtui lab up` keeps running on each lab host.

Per host (all with role "lab" in their metadata; 128 MiB diskless BIOS guests that idle):
`labK-kvm-virtio` (KVM, virtio NIC; `labK-tcg-virtio` instead when KVM is not usable) and
`labK-tcg-e1000` (TCG, emulated e1000 NIC): hardware-assisted vs emulated CPU, paravirtual vs
emulated NIC. When the image of `vmtui lab image` exists or can be built, lab1 and lab2 also run
`labK-linux` (TCG, 256 MiB, virtio balloon): its virtio NIC sits on the host's bridge `vmtuibr0` and
pings it, so the NET columns move; lab2's also has a virtio disk it writes and reads, so DISK moves.
lab1-linux stays diskless: it is the guest to migrate without copying storage.

Each host's guest disks sit in its disk folder, which is also the host's storage pool `default`
(a dir pool, autostarted), as on a host set up by virt-manager: `backup restore --as`, `create` and
`clone` find their disks' pool there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.drivers.xml.resources import build_dir_pool_xml
from vmtui.errors import OperationError, VmtuiError
from vmtui.lab import image
from vmtui.lab.netns import run
from vmtui.models import DomainInfo

if TYPE_CHECKING:
    from vmtui.drivers.libvirt.driver import Connection
    from vmtui.drivers.resources import PoolInfo

LINUX_GUEST = "lab1-linux"
GUEST_BRIDGE = "vmtuibr0"
"""A bridge inside every lab host's namespace (made by `manager`), for guest NICs with counters."""
GUEST_NET = "192.168.123"
"""The guests' /24 on that bridge: the bridge is .1; each lab host has its own copy (separate namespaces)."""
LINUX_HOSTS = ("lab1", "lab2")
DISK_MIB = 64
POOL = "default"
"""The pool over each host's disk folder: the name `create`, `clone` and virt-manager default to."""


def linux_image(progress: Callable[[str], None]) -> image.GuestImage:
    """The Linux guest image, built on the fly when missing (about 5 s); raises why it cannot be built."""
    return image.find_image() or image.build_image(progress=progress)


def without_linux(hosts: Sequence[str], why: VmtuiError) -> OperationError | None:
    """The error of a lab whose `hosts` came up without their Linux guests because of `why` (None when
    no host of the lab has one): it names every host and guest affected, and what to do."""
    affected = [h for h in hosts if h in LINUX_HOSTS]
    if not affected:
        return None
    guests = ", ".join(f"{h}-linux" for h in affected)
    return OperationError(
        f"{' and '.join(affected)} came up without their Linux guests ({guests}): the guest image was not built: "
        f"{why.message}",
        hint=why.hint or image.APT_FIX,
    )


def guest_specs(
    host: str, *, kvm: bool, linux: image.GuestImage | None, disk_dir: Path | None = None
) -> list[GuestSpec]:
    """The guests `up` keeps running on `host` (see the module docstring); `disk_dir` holds guest disks."""
    specs = [
        GuestSpec(f"{host}-kvm-virtio", domain_type="kvm", nic_model="virtio", role="lab")
        if kvm
        else GuestSpec(f"{host}-tcg-virtio", domain_type="qemu", nic_model="virtio", role="lab"),
        GuestSpec(f"{host}-tcg-e1000", domain_type="qemu", nic_model="e1000", role="lab"),
    ]
    if host in LINUX_HOSTS and linux is not None:
        # Stock Linux hangs under this machine's nested KVM (kvm_pvm): Linux guests use TCG.
        disk = disk_dir / f"{host}-linux.qcow2" if disk_dir is not None and host != "lab1" else None
        specs.append(
            GuestSpec(
                f"{host}-linux",
                memory_mib=256,
                domain_type="qemu",
                nic_model="virtio",
                bridge=GUEST_BRIDGE,
                disk=disk,
                role="lab",
                kernel=linux.kernel,
                initrd=linux.initrd,
                cmdline=linux.cmdline(ip=f"{GUEST_NET}.10", gateway=f"{GUEST_NET}.1"),
            )
        )
    return specs


def make_disk(path: Path) -> None:
    """A fresh qcow2 image for a lab guest (its contents are scratch: the guest overwrites them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), f"{DISK_MIB}M"])


def ensure(
    conn: Connection, host: str, *, kvm: bool, linux: image.GuestImage | None, disk_dir: Path | None = None
) -> list[str]:
    """Start every lab guest of `host` that is not running (a shut-off one is redefined). Returns names."""
    have = {d.name: d for d in conn.list_domains()}
    started = []
    for spec in guest_specs(host, kvm=kvm, linux=linux, disk_dir=disk_dir):
        existing = have.get(spec.name)
        if existing is not None and existing.state == "running":
            continue
        if existing is not None:
            conn.destroy_and_undefine(existing.uuid)
        if spec.disk is not None and not spec.disk.exists():
            make_disk(spec.disk)
        conn.define_and_start(build_guest_xml(spec))
        started.append(spec.name)
    return started


def ensure_pool(conn: Connection, disk_dir: Path) -> PoolInfo:
    """Keep the pool `default` over `disk_dir` defined, active and autostarted, rescanned (after the guests'
    disks are made) so that each disk file is one of its volumes."""
    disk_dir.mkdir(parents=True, exist_ok=True)
    if any(p.name == POOL for p in conn.list_pools()):
        conn.autostart_pool(POOL)  # up on a running lab: the pool exists, maybe stopped by hand
    else:
        conn.define_pool(build_dir_pool_xml(POOL, str(disk_dir)))
    conn.refresh_pool(POOL)
    return conn.pool(POOL)


def pool_json(pool: PoolInfo) -> dict[str, object]:
    """The JSON shape of a host's pool in `vmtui lab up/status --json`."""
    return {"name": pool.name, "state": pool.state, "autostart": pool.autostart, "path": pool.path,
            "volumes": pool.volumes}  # fmt: skip


def guest_json(dom: DomainInfo) -> dict[str, str]:
    """The JSON shape of a guest in `vmtui lab up/down/status --json`."""
    return {"name": dom.name, "uuid": dom.uuid, "state": dom.state, "accelerator": str(dom.accelerator)}
