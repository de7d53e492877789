"""Storage pools and volumes, virtual networks and their leases, guest facts: frozen values, and the
protocol of the hosts that have them.

A recording played back (`replay.ReplayHost`) has none of these, so they are not part of
`base.Hypervisor`: `live(conn)` hands back the richer protocol, or says why there is none. Pure: no
libvirt here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from vmtui.drivers.base import Hypervisor
from vmtui.errors import UsageError


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """A storage pool; sizes in bytes, as libvirt counts them (0 while the pool is not active)."""

    name: str
    uuid: str
    state: str
    """inactive, building, running, degraded, inaccessible."""
    autostart: bool
    persistent: bool
    pool_type: str
    """dir, fs, netfs, logical, disk, iscsi, rbd, ... (the pool XML's type)."""
    path: str
    """The target path (a directory for dir pools); "" when the type has none."""
    capacity: int
    allocation: int
    available: int
    volumes: int | None
    """How many volumes; None while the pool is not active (libvirt cannot count them then)."""

    @property
    def active(self) -> bool:
        return self.state in ("running", "degraded")

    @property
    def used_fraction(self) -> float | None:
        return self.allocation / self.capacity if self.capacity > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "active": self.active}


@dataclass(frozen=True, slots=True)
class VolumeInfo:
    """A storage volume; `used_by` names the domains whose disks use it (filled in by `ops.storage`)."""

    pool: str
    name: str
    path: str
    key: str
    vol_type: str
    """file, block, dir, network, netdir, ploop."""
    format: str
    """raw, qcow2, ... ("" when the pool does not say)."""
    capacity: int
    """The size the guest sees, in bytes."""
    allocation: int
    """What it takes on the host now, in bytes."""
    backing: str = ""
    """The backing file of a qcow2 overlay, or ""."""
    used_by: tuple[str, ...] = ()

    @property
    def allocated_fraction(self) -> float | None:
        return self.allocation / self.capacity if self.capacity > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "used_by": list(self.used_by)}


@dataclass(frozen=True, slots=True)
class DiskUse:
    """One disk of one domain, with where its data lives (a path, or a pool and volume name)."""

    domain: str
    uuid: str
    target: str
    """The guest's device name (vda, sdb)."""
    path: str
    pool: str = ""
    volume: str = ""
    chain: tuple[str, ...] = ()
    """The files under `path` (its backing chain, nearest first) where the domain's XML names them."""
    snapshot: str = ""
    """The snapshot whose kept definition has this disk; "" for the domain's own definitions."""


@dataclass(frozen=True, slots=True)
class InterfaceMac:
    """One NIC of one domain: its MAC and what it is plugged into."""

    domain: str
    uuid: str
    mac: str
    iface_type: str
    """network, bridge, user, direct, hostdev, ..."""
    network: str = ""
    """The libvirt network's name for type='network', else ""."""


@dataclass(frozen=True, slots=True)
class Lease:
    """A DHCP lease of a virtual network; `domain` is the guest whose NIC has the MAC, when one does."""

    network: str
    mac: str
    ip: str
    prefix: int
    family: str
    """ipv4 or ipv6."""
    hostname: str
    client_id: str
    expiry: int
    """Unix time the lease ends; 0 means it never does."""
    domain: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    name: str
    uuid: str
    active: bool
    autostart: bool
    persistent: bool
    forward: str
    """nat, route, open, bridge, private, vepa, passthrough, hostdev, or "isolated" (no <forward>)."""
    bridge: str
    addresses: tuple[str, ...]
    """The host's addresses on the network (CIDR), from its <ip> elements."""
    dhcp: bool
    """Some <ip> has a <dhcp> range (libvirt runs dnsmasq for it)."""
    leases: tuple[Lease, ...] = ()

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["addresses"] = list(self.addresses)
        body["leases"] = [lease.to_json() for lease in self.leases]
        return body


@dataclass(frozen=True, slots=True)
class GuestAddress:
    interface: str
    mac: str
    family: str
    """ipv4 or ipv6."""
    address: str
    prefix: int
    """0 when the source does not know it (ARP)."""

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.prefix}" if self.prefix else self.address


@dataclass(frozen=True, slots=True)
class GuestFacts:
    """What a domain's guest says about itself (through its agent) or what the host saw of it.

    Every missing fact says why in `notes`: "no agent" is an answer, not an empty field.
    """

    state: str
    agent: str
    """connected; disconnected (a channel, but nothing answers in the guest); absent (no channel);
    off (the domain is not running); unusable (the channel is there but the call failed); not asked
    (a read-only connection, which libvirt does not let talk to an agent)."""
    address_source: str | None
    """agent, lease or arp: where `addresses` came from; None when no source had any."""
    addresses: tuple[GuestAddress, ...] = ()
    tried: tuple[str, ...] = ()
    """Each source asked, in order, with what it gave ("agent: absent", "lease: none", "arp: 1")."""
    os_name: str | None = None
    """The agent's pretty name ("Debian GNU/Linux 12 (bookworm)")."""
    os_id: str | None = None
    kernel: str | None = None
    hostname: str | None = None
    autostart: bool | None = None
    """None for a transient domain (it has no autostart)."""
    managed_save: bool = False
    """A saved state exists on the host: the next start restores it."""
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["addresses"] = [{**asdict(a), "cidr": a.cidr} for a in self.addresses]
        body["tried"] = list(self.tried)
        body["notes"] = list(self.notes)
        return body


@runtime_checkable
class ResourceHost(Hypervisor, Protocol):
    """A live host: pools, volumes, networks, autostart, managed save and guest facts."""

    def list_pools(self) -> list[PoolInfo]: ...

    def pool(self, name: str) -> PoolInfo: ...

    def list_volumes(self, pool: str) -> list[VolumeInfo]: ...

    def refresh_pool(self, name: str) -> None:
        """Have libvirt rescan an active pool: files made behind its back (an external snapshot's
        overlay) are volumes only after that."""

    def volume(self, pool: str, name: str) -> VolumeInfo: ...

    def create_volume(self, pool: str, xml: str) -> VolumeInfo: ...

    def delete_volume(self, pool: str, name: str) -> None: ...

    def disk_uses(self) -> list[DiskUse]:
        """Every disk of every domain, from the live XML of running ones, every persistent definition,
        and the definitions its snapshots keep."""

    def list_networks(self) -> list[NetworkInfo]: ...

    def network(self, name: str) -> NetworkInfo: ...

    def set_network_autostart(self, name: str, on: bool) -> NetworkInfo: ...

    def interface_macs(self) -> list[InterfaceMac]: ...

    def domain_autostart(self, ident: str) -> bool | None: ...

    def set_domain_autostart(self, ident: str, on: bool) -> bool: ...

    def has_managed_save(self, ident: str) -> bool: ...

    def guest_facts(self, ident: str) -> GuestFacts: ...


def live(conn: Hypervisor, what: str) -> ResourceHost:
    """`conn` as a live host, or a UsageError when it is a recording (which holds no `what`)."""
    if isinstance(conn, ResourceHost):
        return conn
    raise UsageError(f"{what}: a recording has none; use a live host (-c URI or --host NAME)")
