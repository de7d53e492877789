"""SR-IOV on one host: which physical functions (PFs) there are, their virtual functions (VFs) and who
holds each; setting a PF's VF count; a VF pool (a hostdev network) over a PF.

The VF count is the kernel's `sriov_numvfs` in sysfs (libvirt has no call for it), written through
`vmtui.drivers.hostfiles`: locally, or over the host's own SSH for `qemu+ssh://` hosts. Attaching
and detaching VFs lives in `vmtui.ops.vf`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.deviceapi import DeviceHost, DomainDocs, device_host
from vmtui.drivers.hostfiles import HostFiles, host_files
from vmtui.drivers.pci import PciAddress
from vmtui.drivers.xml.devices import HostdevNetworkSpec, check_new_name, text
from vmtui.drivers.xml.sriov import HostdevNetwork, passthrough_uses, pool_nics
from vmtui.errors import NotFoundError, OperationError, UsageError, VmtuiError
from vmtui.models import state_name
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress


@dataclass(frozen=True, slots=True)
class VfUse:
    """A domain whose definition gives it a VF: `live` (the running guest holds it), `config` (next boot)."""

    domain: str
    uuid: str
    state: str
    live: bool
    config: bool
    via: str
    mac: str | None = None
    vlan: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "uuid": self.uuid,
            "state": self.state,
            "live": self.live,
            "config": self.config,
            "via": self.via,
            "mac": self.mac,
            "vlan": self.vlan,
        }


@dataclass(frozen=True, slots=True)
class VfView:
    address: PciAddress
    netdev: str | None
    """The host's interface name while a host driver holds the VF (none while VFIO does)."""
    driver: str | None
    mac: str | None
    """The guest's MAC when a domain holds it, else the host netdev's."""
    vlan: int | None
    used_by: tuple[VfUse, ...] = ()

    @property
    def running_user(self) -> VfUse | None:
        """The domain whose running guest holds this VF now, if any."""
        return next((u for u in self.used_by if u.live), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "nodedev": self.address.nodedev,
            "netdev": self.netdev,
            "driver": self.driver,
            "mac": self.mac,
            "vlan": self.vlan,
            "used_by": [u.to_json() for u in self.used_by],
        }


@dataclass(frozen=True, slots=True)
class PoolView:
    name: str
    active: bool
    pf_devs: tuple[str, ...]
    vfs: tuple[PciAddress, ...]
    connections: int
    users: tuple[tuple[str, str | None], ...] = ()
    """(domain, MAC) of NICs defined on this pool."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "active": self.active,
            "pf_devs": list(self.pf_devs),
            "vfs": [str(v) for v in self.vfs],
            "connections": self.connections,
            "users": [{"domain": d, "mac": m} for d, m in self.users],
        }


@dataclass(frozen=True, slots=True)
class PfView:
    address: PciAddress
    netdev: str | None
    mac: str | None
    product: str
    vendor: str
    driver: str | None
    total_vfs: int | None
    """sriov_totalvfs: the most VFs this PF can have."""
    vfs: tuple[VfView, ...]
    pools: tuple[PoolView, ...] = ()

    @property
    def current_vfs(self) -> int:
        return len(self.vfs)

    def to_json(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "nodedev": self.address.nodedev,
            "netdev": self.netdev,
            "mac": self.mac,
            "product": self.product,
            "vendor": self.vendor,
            "driver": self.driver,
            "total_vfs": self.total_vfs,
            "current_vfs": self.current_vfs,
            "vfs": [v.to_json() for v in self.vfs],
            "pools": [p.to_json() for p in self.pools],
        }


@dataclass(frozen=True, slots=True)
class SriovReport:
    host: str
    pfs: tuple[PfView, ...]
    other_pools: tuple[PoolView, ...] = field(default=())
    """Hostdev networks over no PF of this host (a PF that went away, or a pool of a removed card)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "pfs": [p.to_json() for p in self.pfs],
            "other_pools": [p.to_json() for p in self.other_pools],
        }


def _uses(docs: list[DomainDocs]) -> dict[PciAddress, list[VfUse]]:
    found: dict[tuple[PciAddress, str], VfUse] = {}
    for d in docs:
        for where, doc in (("live", d.live), ("config", d.config)):
            for use in passthrough_uses(doc) if doc else ():
                key = (use.address, d.uuid)
                old = found.get(key)
                live = where == "live" or (old is not None and old.live)
                config = where == "config" or (old is not None and old.config)
                mac = use.mac if old is None or where == "live" else old.mac
                vlan = use.vlan if old is None or where == "live" else old.vlan
                found[key] = VfUse(d.name, d.uuid, state_name(d.state_code), live, config, use.via, mac, vlan)
    out: dict[PciAddress, list[VfUse]] = {}
    for (address, _uuid), vf_use in sorted(found.items(), key=lambda kv: (kv[0][0], kv[1].domain)):
        out.setdefault(address, []).append(vf_use)
    return out


def _pool_view(pool: HostdevNetwork, docs: list[DomainDocs]) -> PoolView:
    # The persistent definition says who gets a VF from the pool at boot; a transient guest only has its live one.
    users = tuple(
        (d.name, mac) for d in docs if (doc := d.config or d.live) for _net, mac in pool_nics(doc, {pool.name})
    )
    return PoolView(pool.name, pool.active, pool.pf_devs, pool.vfs, pool.connections, users)


def inventory(conn: Hypervisor) -> SriovReport:
    """Every PF of the host with its VFs, who holds each VF, and the VF pools (read-only)."""
    host = device_host(conn)
    functions = host.pci_functions()
    netdevs = {n.parent: n for n in host.net_devices()}
    docs = host.all_domain_docs()
    uses = _uses(docs)
    pools = [_pool_view(p, docs) for p in host.hostdev_networks()]
    by_address = {f.address: f for f in functions}
    pfs = []
    claimed: set[str] = set()
    for pf in (f for f in functions if f.vf_max is not None or f.vfs):
        vfs = []
        for address in pf.vfs:
            fn = by_address.get(address)
            net = netdevs.get(address.nodedev)
            users = tuple(uses.get(address, ()))
            holder = next((u for u in users if u.live), users[0] if users else None)
            vfs.append(
                VfView(
                    address,
                    net.interface if net else None,
                    fn.driver if fn else None,
                    (holder.mac if holder and holder.mac else None) or (net.mac if net else None),
                    holder.vlan if holder else None,
                    users,
                )
            )
        pf_net = netdevs.get(pf.nodedev)
        mine = tuple(p for p in pools if (pf_net and pf_net.interface in p.pf_devs) or (set(p.vfs) & set(pf.vfs)))
        claimed.update(p.name for p in mine)
        pfs.append(
            PfView(
                pf.address,
                pf_net.interface if pf_net else None,
                pf_net.mac if pf_net else None,
                pf.product,
                pf.vendor,
                pf.driver,
                pf.vf_max,
                tuple(vfs),
                mine,
            )
        )
    others = tuple(p for p in pools if p.name not in claimed)
    return SriovReport(conn.uri, tuple(pfs), others)


def find_pf(report: SriovReport, name: str) -> PfView:
    """A PF by its netdev (eth3), PCI address (0000:03:00.0) or node device name (pci_0000_03_00_0)."""
    for pf in report.pfs:
        if name == pf.netdev:
            return pf
    try:
        address = PciAddress.parse(name)
    except UsageError:
        address = None
    for pf in report.pfs:
        if pf.address == address:
            return pf
    if address is not None and any(v.address == address for pf in report.pfs for v in pf.vfs):
        raise UsageError(f"{name} is a virtual function; name its physical function")
    have = ", ".join(pf.netdev or str(pf.address) for pf in report.pfs) or "none"
    raise NotFoundError(f"no SR-IOV physical function {name!r} on {report.host} (PFs: {have})")


@dataclass(frozen=True, slots=True)
class VfCountChange:
    host: str
    pf: str
    netdev: str | None
    before: int
    after: int
    total: int
    written: tuple[int, ...]
    """The values written to sriov_numvfs, in order (0 first when a non-zero count changes)."""
    path: str

    @property
    def changed(self) -> bool:
        return bool(self.written)

    def summary(self) -> str:
        if not self.written:
            return f"{self.pf}: already {self.after} VFs; nothing written"
        return f"{self.pf}: {self.before} -> {self.after} VFs (wrote {', then '.join(map(str, self.written))})"

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "pf": self.pf,
            "netdev": self.netdev,
            "before": self.before,
            "after": self.after,
            "total": self.total,
            "written": list(self.written),
            "changed": self.changed,
            "path": self.path,
        }


def _count(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None


@dataclass(frozen=True, slots=True)
class VfCountPlan:
    """What `set_vf_count` would write, decided (and refused) before any write: for the question asked first."""

    pf: PfView
    files: HostFiles
    path: str
    current: int
    total: int
    count: int

    @property
    def writes(self) -> tuple[int, ...]:
        if self.count == self.current:
            return ()
        # The kernel refuses a new non-zero count while VFs exist (EBUSY): it changes only from 0.
        return (0, self.count) if self.current and self.count else (self.count,)

    def describe(self) -> str:
        name = self.pf.netdev or str(self.pf.address)
        if not self.writes:
            return f"{name} on {self.files.label} has {self.current} VFs already; nothing to write"
        removed = f"; its {self.current} VFs are removed first" if self.current else ""
        return f"{name} on {self.files.label}: {self.current} -> {self.count} VFs{removed} ({self.path})"


def plan_vf_count(conn: Hypervisor, pf: str, count: int, *, files: HostFiles | None = None) -> VfCountPlan:
    """Refused here: read-only, a count out of 0..sriov_totalvfs, a PF that is not there, no sriov_numvfs,
    or (when existing VFs would go) a VF of this PF held by a running guest or a busy pool."""
    conn.require_writable("set VF count")
    if count < 0:
        raise UsageError(f"a VF count is 0 or more, not {count}")
    report = inventory(conn)
    target = find_pf(report, pf)
    files = files or host_files(conn.uri)
    base = f"/sys/bus/pci/devices/{target.address}"
    numvfs, totalvfs = f"{base}/sriov_numvfs", f"{base}/sriov_totalvfs"
    values = files.read_many([numvfs, totalvfs])
    current = _count(values[numvfs])
    if current is None:
        raise OperationError(
            f"{target.address} on {files.label}: no readable {numvfs}",
            hint="the PF's driver does not do SR-IOV, or the host's /sys is elsewhere (VMTUI_SYSFS_ROOT)",
        )
    total = _count(values[totalvfs])
    total = total if total is not None else target.total_vfs or 0
    if count > total:
        raise UsageError(f"{target.netdev or target.address} can have at most {total} VFs, not {count}")
    if count != current and current > 0:
        _refuse_if_held(target)
    return VfCountPlan(target, files, numvfs, current, total, count)


def set_vf_count(
    conn: Hypervisor,
    pf: str,
    count: int,
    *,
    files: HostFiles | None = None,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> VfCountChange:
    """Set a PF's VF count (sriov_numvfs): 0 <= count <= sriov_totalvfs; a non-zero count changes through 0.

    Refusals: see `plan_vf_count`. `files` reaches the host's sysfs (tests point it at a temporary
    tree); by default the host's own files, locally or over the URI's SSH.
    """
    plan = plan_vf_count(conn, pf, count, files=files)
    check_cancel(cancel or never_cancelled(), f"set VF count of {plan.pf.address}")
    written: list[int] = []
    for value in plan.writes:
        progress(Step(f"{plan.pf.address}: writing {value} to sriov_numvfs"))
        try:
            plan.files.write(plan.path, str(value))
        except VmtuiError as exc:
            now = "; the PF has 0 VFs now (0 was written first)" if written else ""
            raise OperationError(f"{exc.message}{now}", hint=exc.hint) from exc
        written.append(value)
    after = _count(plan.files.read(plan.path))
    if after != count:
        raise OperationError(f"{plan.path} on {plan.files.label} reads {after} after writing {count}")
    return VfCountChange(
        conn.uri, str(plan.pf.address), plan.pf.netdev, plan.current, after, plan.total, tuple(written), plan.path
    )


def _refuse_if_held(pf: PfView) -> None:
    for vf in pf.vfs:
        user = vf.running_user
        if user is not None:
            raise OperationError(
                f"VF {vf.address} of {pf.netdev or pf.address} is held by running domain {user.domain}; "
                "changing the VF count would pull it from under the guest",
                hint=f"detach it first: vmtui sriov detach {user.domain} --vf {vf.address}",
            )
    for pool in pf.pools:
        if pool.connections:
            raise OperationError(f"VF pool {pool.name} over {pf.netdev or pf.address} has {pool.connections} guests")


@dataclass(frozen=True, slots=True)
class PoolChange:
    host: str
    name: str
    pf: str
    pf_dev: str | None
    active: bool
    vfs: tuple[str, ...]

    def summary(self) -> str:
        over = f"PF {self.pf_dev}" if self.pf_dev else f"{len(self.vfs)} VFs of {self.pf}"
        return f"VF pool {self.name} over {over}: " + ("active, autostart" if self.active else "defined")

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "name": self.name,
            "pf": self.pf,
            "pf_dev": self.pf_dev,
            "active": self.active,
            "autostart": True,
            "vfs": list(self.vfs),
        }


def create_pool(
    conn: Hypervisor,
    pf: str,
    *,
    name: str | None = None,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> PoolChange:
    """A VF pool: a persistent, started, autostarted libvirt network in hostdev mode over the PF.

    Over the PF's netdev (`<pf dev=...>`, libvirt then follows VF count changes), or over its current
    VFs when the PF has no host netdev.
    """
    host: DeviceHost = device_host(conn)
    conn.require_writable("create VF pool")
    target = find_pf(inventory(conn), pf)
    pool_name = check_new_name("network", name or f"sriov-{target.netdev or target.address.nodedev}")
    if pool_name in host.network_names():
        raise UsageError(f"a network {pool_name!r} exists already on {conn.uri}", hint="name another with --name")
    vfs = tuple(v.address for v in target.vfs)
    if target.netdev is None and not vfs:
        raise UsageError(f"{target.address} has no netdev and no VFs to pool", hint="set a VF count first")
    spec = HostdevNetworkSpec(pool_name, target.netdev, () if target.netdev else vfs)
    check_cancel(cancel or never_cancelled(), f"create VF pool {pool_name}")
    progress(Step(f"defining VF pool {pool_name} over {target.netdev or target.address}"))
    made = host.define_network(text(spec.element()), start=True, autostart=True)
    return PoolChange(
        conn.uri, made.name, str(target.address), target.netdev, made.active, tuple(str(v) for v in made.vfs or vfs)
    )
