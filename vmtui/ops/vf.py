"""Giving a guest an SR-IOV VF (from a pool, or one VF by PCI address) with a MAC and a VLAN, and taking it back.

The VF reaches the guest as `<interface type='hostdev'>`: libvirt detaches it from the host driver,
binds it to VFIO, and sets the MAC and VLAN on the PF for it. A guest holding a VF cannot live-migrate
(see `vmtui.ops.devices.passthrough_devices`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lxml import etree

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.deviceapi import DeviceHost, DomainDocs, device_host
from vmtui.drivers.pci import PciAddress
from vmtui.drivers.xml.devices import (
    PoolNicSpec,
    VfNicSpec,
    check_mac,
    check_ref_name,
    check_vlan,
    text,
    without_runtime,
)
from vmtui.drivers.xml.read import parse_xml
from vmtui.drivers.xml.sriov import passthrough_uses
from vmtui.errors import NotFoundError, UsageError, VmtuiError
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.busy import refuse_if_migrating
from vmtui.ops.changes import (
    RELEASE_TIMEOUT,
    DeviceChange,
    Half,
    Outcome,
    Scopes,
    attach,
    done,
    failed,
    scopes,
    skipped,
    wait_released,
)
from vmtui.ops.sriov import inventory

VF_NOTES = (
    "the guest needs the VF's own driver (Intel iavf/igbvf/ixgbevf, Mellanox mlx5_core, ...)",
    "a guest holding a VF cannot live-migrate: detach it first",
)


def attach_vf(
    conn: Hypervisor,
    ident: str,
    *,
    pool: str | None = None,
    vf: str | None = None,
    mac: str | None = None,
    vlan: int | None = None,
    live: bool = False,
    config: bool = False,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> DeviceChange:
    """Give `ident` a VF from `pool` (libvirt picks a free one) or the VF at PCI address `vf`.

    Live and config in one call (both change or neither). Refused before any change: read-only, not
    exactly one of pool/vf, a bad MAC or VLAN, a network that is not a VF pool (or not active for a
    live attach), a VF that is not a VF of this host or that a domain already has, a MAC in use.
    """
    host = device_host(conn)
    conn.require_writable("attach VF")
    refuse_if_migrating(conn, ident, "attach VF")
    if (pool is None) == (vf is None):
        raise UsageError("name a VF pool (--pool NAME) or one VF (--vf ADDRESS)")
    mac = check_mac(mac) if mac is not None else None
    vlan = check_vlan(vlan) if vlan is not None else None
    docs = host.domain_docs(ident)
    plan = scopes(docs, live=live, config=config)
    if mac is not None and _has_mac(docs, mac):
        raise UsageError(f"{docs.name} already has a NIC with MAC {mac}")
    if vf is not None:
        address = PciAddress.parse(vf)
        view = next((v for pf in inventory(conn).pfs for v in pf.vfs if v.address == address), None)
        if view is None:
            raise NotFoundError(f"no VF {address} on {conn.uri}", hint="see `vmtui sriov`")
        if view.used_by:
            holders = ", ".join(u.domain for u in view.used_by)
            raise UsageError(f"VF {address} is already given to {holders}")
        xml = text(VfNicSpec(address, mac, vlan).element())
        what = str(address)
    else:
        assert pool is not None
        check_ref_name("network", pool)
        if pool not in host.network_names():
            raise NotFoundError(f"no network {pool!r} on {conn.uri}", hint="create one: vmtui sriov pool PF")
        active, hostdev = host.network_state(pool)
        if hostdev is None:
            raise UsageError(f"network {pool!r} is not a VF pool (forward mode hostdev)")
        if plan.live and not active:
            raise UsageError(f"VF pool {pool!r} is not active: a running guest cannot get a VF from it")
        xml = text(PoolNicSpec(pool, mac, vlan).element())
        what = f"pool {pool}"
    before = {(u.address, u.mac) for u in passthrough_uses(docs.live)} if docs.live else set()
    check_cancel(cancel or never_cancelled(), f"attach VF to {docs.name}")
    progress(Step(f"{docs.name}: attaching a VF ({what})"))
    attach(host, docs.uuid, xml, live=plan.live, config=plan.config)
    after = host.domain_docs(docs.uuid)
    got = [u for u in (passthrough_uses(after.live) if after.live else []) if (u.address, u.mac) not in before]
    assigned = str(got[0].address) if got else (str(PciAddress.parse(vf)) if vf else None)
    new_mac = got[0].mac if got else mac
    notes = VF_NOTES if assigned or not pool else (f"libvirt picks a VF of {pool} when the guest starts", *VF_NOTES)
    return DeviceChange(
        conn.uri,
        docs.name,
        docs.uuid,
        "attach-vf",
        assigned or what,
        "none",
        "SR-IOV VF",
        done() if plan.live else plan.live_skip(),
        done() if plan.config else plan.config_skip(),
        notes,
        {"vf": assigned, "pool": pool, "mac": new_mac, "vlan": vlan},
    )


def _has_mac(docs: DomainDocs, mac: str) -> bool:
    return any(
        (m.get("address") or "").lower() == mac
        for doc in (docs.live, docs.config)
        if doc
        for m in parse_xml(doc).iterfind("devices/interface/mac")
    )


def _vf_device(doc: str | None, address: PciAddress | None, mac: str | None) -> etree._Element | None:
    """The VF NIC (by PCI address or MAC) or `<hostdev>` (by PCI address) in one definition."""
    if doc is None:
        return None
    root = parse_xml(doc)
    for el in root.iterfind("devices/interface"):
        mac_el = el.find("mac")
        el_mac = (mac_el.get("address") or "").lower() if mac_el is not None else ""
        addr_el = el.find("source/address")
        el_addr = PciAddress.from_element(addr_el) if addr_el is not None and el.get("type") == "hostdev" else None
        if (address is not None and el_addr == address) or (mac is not None and el_mac == mac):
            if el.get("type") in ("hostdev", "network"):
                return el
    for el in root.iterfind("devices/hostdev[@type='pci']"):
        addr_el = el.find("source/address")
        if address is not None and addr_el is not None and PciAddress.from_element(addr_el) == address:
            return el
    return None


@dataclass(frozen=True, slots=True)
class DetachPlan:
    """What `detach_vf` would do, decided (and refused) before any change: for the question asked first."""

    docs: DomainDocs
    address: PciAddress | None
    mac: str | None
    scopes: Scopes
    in_live: bool
    in_config: bool

    @property
    def name(self) -> str:
        return str(self.address) if self.address else str(self.mac)

    def describe(self) -> str:
        where = [w for w, on in (("the running guest", self.scopes.live and self.in_live),
                                 ("the persistent config", self.scopes.config and self.in_config)) if on]  # fmt: skip
        return f"take VF {self.name} from {self.docs.name}: " + (" and ".join(where) or "nothing applies")


def plan_detach_vf(
    conn: Hypervisor,
    ident: str,
    *,
    vf: str | None = None,
    mac: str | None = None,
    live: bool = False,
    config: bool = False,
) -> DetachPlan:
    """Refused here: read-only, not exactly one of vf/mac, a bad address or MAC, a domain without that VF."""
    host = device_host(conn)
    conn.require_writable("detach VF")
    refuse_if_migrating(conn, ident, "detach VF")
    if (vf is None) == (mac is None):
        raise UsageError("name the VF to detach: --vf ADDRESS or --mac MAC")
    address = PciAddress.parse(vf) if vf is not None else None
    mac = check_mac(mac) if mac is not None else None
    docs = host.domain_docs(ident)
    plan = scopes(docs, live=live, config=config)
    in_live = _vf_device(docs.live, address, mac) is not None
    in_config = _vf_device(docs.config, address, mac) is not None
    if not (in_live or in_config):
        raise NotFoundError(f"{docs.name} has no VF {vf or mac}")
    return DetachPlan(docs, address, mac, plan, in_live, in_config)


def detach_vf(
    conn: Hypervisor,
    ident: str,
    *,
    vf: str | None = None,
    mac: str | None = None,
    live: bool = False,
    config: bool = False,
    release_timeout: float = RELEASE_TIMEOUT,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> DeviceChange:
    """Take a VF (by PCI address, or its NIC's MAC) from a domain: the config first, then the running guest.

    The live half waits for the guest to let go (a detach is asynchronous) and says so if it does not.
    Refusals: see `plan_detach_vf`.
    """
    plan = plan_detach_vf(conn, ident, vf=vf, mac=mac, live=live, config=config)
    host = device_host(conn)
    docs, sc = plan.docs, plan.scopes
    cancel = cancel or never_cancelled()
    check_cancel(cancel, f"detach VF from {docs.name}")
    config_half: Half = sc.config_skip()
    in_config = _vf_device(docs.config, plan.address, plan.mac)
    if sc.config:
        config_half = (
            skipped("not in the persistent config")
            if in_config is None
            else _detach_config(host, docs, in_config, progress)
        )
    live_half: Half = sc.live_skip()
    in_live = _vf_device(docs.live, plan.address, plan.mac)
    if sc.live:
        if config_half.outcome is Outcome.FAILED:
            live_half = skipped("not attempted: the config half failed")
        elif in_live is None:
            live_half = skipped("the running guest does not hold it")
        else:
            live_half = _detach_live(host, docs, in_live, plan.address, plan.mac, release_timeout, progress, cancel)
    return DeviceChange(
        conn.uri, docs.name, docs.uuid, "detach-vf", plan.name, "SR-IOV VF", "none", live_half, config_half,
        ("libvirt gives a managed VF back to its host driver once the guest has let go",),
    )  # fmt: skip


def _detach_config(host: DeviceHost, docs: DomainDocs, device: etree._Element, progress: Progress) -> Half:
    progress(Step(f"{docs.name}: removing the VF from the persistent config"))
    try:
        host.detach_device(docs.uuid, text(device), live=False, config=True)
    except VmtuiError as exc:
        return failed(exc.message)
    return done("gone from the next boot")


def _detach_live(
    host: DeviceHost,
    docs: DomainDocs,
    device: etree._Element,
    address: PciAddress | None,
    mac: str | None,
    timeout: float,
    progress: Progress,
    cancel: threading.Event,
) -> Half:
    alias_el = device.find("alias")
    alias = alias_el.get("name") if alias_el is not None else None
    progress(Step(f"{docs.name}: asking the guest to release the VF"))
    try:
        if alias:
            host.detach_alias(docs.uuid, alias, live=True, config=False)
        else:
            host.detach_device(docs.uuid, text(without_runtime(device)), live=True, config=False)
    except VmtuiError as exc:
        return failed(f"detach: {exc.message}")
    if not wait_released(
        host, docs.uuid, lambda live: _vf_device(live, address, mac) is not None, timeout=timeout, cancel=cancel
    ):
        return failed(f"the guest did not release the VF within {timeout:g} s (QEMU keeps the unplug request)")
    return done("released by the guest")
