"""A domain's devices: what each one is (paravirtual, emulated, passthrough), what switching it to virtio
needs, and adding a virtio disk or NIC. `vmtui.ops.virtio` converts; `vmtui.ops.sriov` handles VFs.

`passthrough_devices(info)` is the pure check the migration pre-checks use: a VM holding a VF or any
other host PCI device cannot live-migrate.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.deviceapi import DomainDocs, device_host
from vmtui.drivers.xml.devices import (
    MAX_DISK_BYTES,
    MIN_DISK_BYTES,
    DiskSpec,
    NicSpec,
    VolumeSpec,
    check_mac,
    check_new_name,
    check_ref_name,
    free_target,
    interfaces,
    text,
)
from vmtui.drivers.xml.read import devices_of, parse_xml
from vmtui.errors import OperationError, UsageError
from vmtui.models import Device, DeviceClass, DomainInfo, state_name
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.busy import refuse_if_migrating
from vmtui.ops.changes import PAUSED, RUNNING, DeviceChange, attach, done, scopes
from vmtui.ops.sizes import parse_size

NIC_DRIVER = "virtio-net (Linux: in the kernel; Windows: NetKVM from virtio-win)"
DISK_DRIVER = "virtio-blk (Linux: in the kernel and most initramfs; Windows: viostor from virtio-win, installed first)"


@dataclass(frozen=True, slots=True)
class DeviceAdvice:
    """One device and what moving it to virtio would take."""

    device: Device
    switch: str
    """live (NIC: detach + attach with the same MAC), next-boot (persistent config only), done
    (already paravirtual), no (cannot or need not), n/a."""
    guest_driver: str
    note: str
    next_boot: str = ""
    """What the persistent config has instead, when it differs from the running guest ("virtio")."""

    def to_json(self) -> dict[str, Any]:
        d = self.device
        return {
            "kind": d.kind,
            "name": d.name,
            "class": str(d.dev_class),
            "bus": d.bus,
            "model": d.model,
            "flavor": d.flavor,
            "mac": d.mac,
            "source": d.source,
            "vlan": d.vlan,
            "switch": self.switch,
            "guest_driver": self.guest_driver,
            "note": self.note,
            "next_boot": self.next_boot,
        }


@dataclass(frozen=True, slots=True)
class DevicesReport:
    host: str
    domain: str
    uuid: str
    state: str
    persistent: bool
    devices: tuple[DeviceAdvice, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "domain": self.domain,
            "uuid": self.uuid,
            "state": self.state,
            "persistent": self.persistent,
            "devices": [a.to_json() for a in self.devices],
        }


def passthrough_devices(info: DomainInfo) -> tuple[Device, ...]:
    """Host devices the guest holds (SR-IOV VFs, PCI passthrough): each pins it to its host.

    Pure, on the facts the poller already has. The migration pre-check refuses when this is not
    empty and names `device.source` (the PCI address) of each.
    """
    return tuple(d for d in info.devices if d.dev_class is DeviceClass.PASSTHROUGH)


def passthrough_refusal(info: DomainInfo) -> str | None:
    """Why `info` cannot live-migrate because of passthrough devices, naming them; None when it can."""
    held = passthrough_devices(info)
    if not held:
        return None
    names = ", ".join(
        f"{'SR-IOV VF' if d.kind == 'nic' else 'PCI device'} {d.source or d.name}"
        + (f" (MAC {d.mac})" if d.mac else "")
        for d in held
    )
    return f"{info.name} holds {names}: detach it first (vmtui sriov detach {info.name} --vf ADDRESS)"


def _advice(d: Device, *, running: bool, paused: bool) -> DeviceAdvice:
    if d.dev_class is DeviceClass.PARAVIRTUAL:
        return DeviceAdvice(d, "done", "", "already paravirtual")
    if d.dev_class is DeviceClass.PASSTHROUGH:
        return DeviceAdvice(
            d, "no", "the device's own driver", "passthrough (VFIO): no emulation; blocks live migration"
        )
    if d.dev_class is not DeviceClass.EMULATED:
        return DeviceAdvice(d, "n/a", "", "")
    if d.kind == "nic":
        if running:
            note = "detach + attach with the same MAC and PCI slot; the guest must release the NIC (a few seconds)"
            return DeviceAdvice(d, "live", NIC_DRIVER, note)
        why = "paused: cannot release the NIC now" if paused else "not running"
        return DeviceAdvice(d, "next-boot", NIC_DRIVER, f"persistent config only ({why})")
    if d.kind == "disk" and d.flavor == "disk":
        note = "persistent config only: the bus cannot change under a running guest; it becomes /dev/vdX"
        return DeviceAdvice(d, "next-boot", DISK_DRIVER, note)
    if d.kind == "disk":
        return DeviceAdvice(d, "no", "", f"a {d.flavor} stays on its bus (virtio-blk carries disks only)")
    if d.kind == "controller":
        return DeviceAdvice(d, "no", "virtio-scsi", "edit the controller model to virtio-scsi (not done by vmtui)")
    if d.kind == "video":
        return DeviceAdvice(d, "no", "virtio-gpu", "virtio video, or none on a headless server (not done by vmtui)")
    return DeviceAdvice(d, "no", "", "")


def _key(d: Device) -> tuple[str, str]:
    """How a device is matched between live and config: a NIC by MAC, a disk by its source, else by name."""
    if d.kind == "nic" and d.mac:
        return d.kind, d.mac.lower()
    if d.kind == "disk" and d.source:
        return d.kind, d.source
    return d.kind, d.name


def advise(docs: DomainDocs) -> tuple[DeviceAdvice, ...]:
    """Advice for each device of the running guest (or of the config when it does not run)."""
    live = devices_of(parse_xml(docs.live)) if docs.live else ()
    config = devices_of(parse_xml(docs.config)) if docs.config else ()
    shown = live or config
    pending = {_key(d): d for d in config} if live else {}
    running, paused = docs.state_code == RUNNING and bool(live), docs.state_code == PAUSED
    out = []
    for d in shown:
        advice = _advice(d, running=running, paused=paused)
        later = pending.pop(_key(d), None)
        # A NIC's name is its live target (vnet3), which a persistent definition does not have.
        renamed = d.kind == "disk" and later is not None and later.name != d.name
        if later is not None and (later.model != d.model or renamed):
            name = f" as {later.name}" if renamed else ""
            advice = DeviceAdvice(d, advice.switch, advice.guest_driver, advice.note, f"{later.model}{name}")
        elif later is None and live and docs.config is not None and d.kind in ("disk", "nic", "hostdev"):
            advice = DeviceAdvice(d, advice.switch, advice.guest_driver, advice.note, "gone (not in the config)")
        out.append(advice)
    for d in pending.values():  # in the persistent config only: added for the next boot
        if d.kind in ("disk", "nic", "hostdev"):
            base = _advice(d, running=False, paused=False)
            out.append(DeviceAdvice(d, base.switch, base.guest_driver, "only in the persistent config", d.model))
    return tuple(out)


def report(conn: Hypervisor, ident: str) -> DevicesReport:
    """Every device of a domain with its class and what switching it to virtio needs (read-only)."""
    docs = device_host(conn).domain_docs(ident)
    return DevicesReport(
        conn.uri, docs.name, docs.uuid, state_name(docs.state_code), docs.config is not None, advise(docs)
    )


def _volume_name(domain: str, target: str, fmt: str) -> str:
    """`<domain>-<target>.<fmt>`, the domain's name reduced to characters safe in a file name."""
    stem = re.sub(r"[^A-Za-z0-9_.+-]", "_", domain).lstrip("._+-")[:40] or "disk"
    return f"{stem}-{target}.{fmt}"


def disk_capacity(size: str | int) -> int:
    """A new disk's size in bytes from `size` (bytes, or text such as "10G" read by `parse_size`)."""
    capacity = parse_size(size) if isinstance(size, str) else size
    if capacity < MIN_DISK_BYTES:
        raise UsageError(f"{size!r} is {capacity} bytes: too small for a disk", hint="at least 1M")
    if capacity > MAX_DISK_BYTES:
        raise UsageError(f"{size!r} is larger than 64 TiB: refused")
    return capacity


def add_disk(
    conn: Hypervisor,
    ident: str,
    size: str | int,
    *,
    pool: str = "default",
    name: str | None = None,
    live: bool = False,
    config: bool = False,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> DeviceChange:
    """A new sparse qcow2 volume in `pool`, attached as a virtio disk (live and config in one call).

    Refused before any change: read-only, bad size or names, a pool that is not there, a volume name
    taken. If the attach fails, the volume is deleted again: nothing is left half made.
    """
    host = device_host(conn)
    conn.require_writable("add disk")
    refuse_if_migrating(conn, ident, "add disk")
    capacity = disk_capacity(size)
    check_ref_name("pool", pool)
    if name is not None:
        check_new_name("volume", name)
    docs = host.domain_docs(ident)
    plan = scopes(docs, live=live, config=config)
    target = free_target([d for d in (docs.live, docs.config) if d])
    vol_name = name or _volume_name(docs.name, target, "qcow2")
    if pool not in host.disk_pool_names():
        raise UsageError(f"no active storage pool {pool!r} on {conn.uri}", hint="name one with --pool")
    if vol_name in host.volume_names(pool):
        raise UsageError(f"pool {pool!r} already has a volume {vol_name!r}", hint="name another with --name")
    cancel = cancel or never_cancelled()
    check_cancel(cancel, f"add disk to {docs.name}")
    progress(Step(f"creating {vol_name} ({capacity} bytes) in pool {pool}"))
    vol = host.create_disk_volume(pool, text(VolumeSpec(vol_name, capacity).element()))
    disk = DiskSpec(vol.path, target, "qcow2", block=vol.kind == "block")
    progress(Step(f"attaching {target} to {docs.name}"))
    try:
        attach(host, docs.uuid, text(disk.element()), live=plan.live, config=plan.config)
    except Exception as exc:
        try:
            host.delete_disk_volume(pool, vol.name)
        except Exception as undo:
            raise OperationError(f"{exc}; and deleting the new volume {vol.path} failed too: {undo}") from exc
        raise
    return DeviceChange(
        conn.uri,
        docs.name,
        docs.uuid,
        "add-disk",
        target,
        "none",
        "virtio-blk",
        done() if plan.live else plan.live_skip(),
        done() if plan.config else plan.config_skip(),
        (f"the guest sees a new empty disk /dev/{target}: partition and format it there",),
        {"pool": pool, "volume": vol.name, "path": vol.path, "capacity": vol.capacity, "target": target},
    )


def add_nic(
    conn: Hypervisor,
    ident: str,
    *,
    network: str | None = None,
    bridge: str | None = None,
    user: bool = False,
    mac: str | None = None,
    live: bool = False,
    config: bool = False,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> DeviceChange:
    """A virtio NIC on a libvirt network (`default` unless named), a host bridge, or user-mode networking."""
    host = device_host(conn)
    conn.require_writable("add NIC")
    refuse_if_migrating(conn, ident, "add NIC")
    if sum((network is not None, bridge is not None, user)) > 1:
        raise UsageError("a NIC goes on one of --network, --bridge, --user")
    if mac is not None:
        mac = check_mac(mac)
    spec = (
        NicSpec("user", None, mac)
        if user
        else NicSpec("bridge", bridge, mac)
        if bridge is not None
        else NicSpec("network", network or "default", mac)
    )
    xml = text(spec.element())
    docs = host.domain_docs(ident)
    plan = scopes(docs, live=live, config=config)
    known = {m.lower() for doc in (docs.live, docs.config) if doc for m in _macs(doc)}
    if mac is not None and mac in known:
        raise UsageError(f"{docs.name} already has a NIC with MAC {mac}")
    if spec.kind == "network":
        net = spec.source or "default"
        if net not in host.network_names():
            raise UsageError(f"no network {net!r} on {conn.uri}", hint="name one with --network, or use --user")
        active, _pool = host.network_state(net)
        if plan.live and not active:
            raise UsageError(f"network {net!r} is not active: a live NIC cannot join it", hint="start it, or --config")
    if spec.kind == "bridge":
        # libvirt takes any name into the definition; the guest would fail at its next start instead
        # ("Cannot get interface MTU" for a missing one, "Cannot set interface MTU" for one that is no
        # bridge, as `lo` or a physical NIC). vmtui writes a plain Linux-bridge NIC (no Open vSwitch
        # virtualport), so only libvirt's type `bridge` can carry it.
        kind = host.host_interface_type(bridge or "")
        if kind == "absent":
            raise UsageError(
                f"no bridge {bridge!r} on {conn.uri}",
                hint="name one the host has (`ip link show type bridge`), or --network",
            )
        if kind is not None and kind != "bridge":
            raise UsageError(
                f"{bridge!r} on {conn.uri} is an interface of type {kind}, not a bridge",
                hint="name a Linux bridge (`ip link show type bridge`), or --network",
            )
    check_cancel(cancel or never_cancelled(), f"add NIC to {docs.name}")
    progress(Step(f"attaching a virtio NIC to {docs.name}"))
    attach(host, docs.uuid, xml, live=plan.live, config=plan.config)
    after = host.domain_docs(docs.uuid)
    new_macs = [m for doc in (after.live, after.config) if doc for m in _macs(doc) if m.lower() not in known]
    where = f"{spec.kind} {spec.source}" if spec.source else "user-mode networking"
    return DeviceChange(
        conn.uri,
        docs.name,
        docs.uuid,
        "add-nic",
        new_macs[0] if new_macs else (mac or "nic"),
        "none",
        "virtio",
        done() if plan.live else plan.live_skip(),
        done() if plan.config else plan.config_skip(),
        (f"on {where}; the guest needs {NIC_DRIVER}",),
        {"mac": new_macs[0] if new_macs else mac, "kind": spec.kind, "source": spec.source},
    )


def _macs(doc: str) -> list[str]:
    return [m.get("address", "") for iface in interfaces(doc) for m in iface.findall("mac")]
