"""Virtual networks: listing, with each DHCP lease matched to the domain whose NIC has its MAC."""

from __future__ import annotations

from dataclasses import replace

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.resources import InterfaceMac, Lease, NetworkInfo, live


def _owner(lease: Lease, macs: list[InterfaceMac]) -> str | None:
    # A MAC on this network first; a NIC moved to another network keeps its MAC, so fall back to any.
    on_net = [m.domain for m in macs if m.mac == lease.mac and m.network == lease.network]
    anywhere = [m.domain for m in macs if m.mac == lease.mac]
    found = on_net or anywhere
    return ", ".join(sorted(set(found))) if found else None


def networks(conn: Hypervisor) -> list[NetworkInfo]:
    """Every network with its leases, each lease naming its domain when one has the MAC."""
    host = live(conn, "networks")
    nets = host.list_networks()
    if not any(n.leases for n in nets):
        return nets  # no leases to match: spare reading every domain's XML
    macs = host.interface_macs()
    return [replace(n, leases=tuple(replace(le, domain=_owner(le, macs)) for le in n.leases)) for n in nets]
