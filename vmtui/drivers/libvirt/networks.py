"""Virtual networks: listing with their DHCP leases, autostart, and the NICs of every domain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.drivers.libvirt.connection import ConnectionCore, convert_error, mapped
from vmtui.errors import NotFoundError

# The resource types and their XML readers are imported in the methods that build them: every
# command opens a Connection, and `vmtui list` must not pay for them.
if TYPE_CHECKING:
    from vmtui.drivers.resources import InterfaceMac, Lease, NetworkInfo

FAMILIES = {0: "ipv4", 1: "ipv6"}


def _lease(network: str, raw: dict[str, Any]) -> Lease:
    from vmtui.drivers.resources import Lease

    return Lease(
        network=network,
        mac=str(raw.get("mac") or "").lower(),
        ip=str(raw.get("ipaddr") or ""),
        prefix=int(raw.get("prefix") or 0),
        family=FAMILIES.get(int(raw.get("type") or 0), "ipv4"),
        hostname=str(raw.get("hostname") or ""),
        client_id=str(raw.get("clientid") or ""),
        expiry=int(raw.get("expirytime") or 0),
    )


class NetworksMixin(ConnectionCore):
    def _lookup_network(self, name: str) -> Any:
        try:
            return self._conn.networkLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_NETWORK:
                raise NotFoundError(f"no network {name!r} on {self.uri}", hint="see `vmtui nets`") from exc
            raise convert_error(exc, uri=self.uri, action=f"look up network {name!r}") from exc

    def _network_info(self, net: Any) -> NetworkInfo:
        from vmtui.drivers.resources import NetworkInfo
        from vmtui.drivers.xml.resources import read_network_xml

        name = net.name()
        active = bool(net.isActive())
        xml = read_network_xml(net.XMLDesc(0))
        leases: tuple[Lease, ...] = ()
        if active:
            # Without DHCP (no dnsmasq) libvirt has no lease file and answers with an empty list.
            leases = tuple(_lease(name, raw) for raw in net.DHCPLeases(None, 0))
        return NetworkInfo(
            name=name,
            uuid=net.UUIDString(),
            active=active,
            autostart=bool(net.autostart()),
            persistent=bool(net.isPersistent()),
            forward=xml.forward,
            bridge=xml.bridge,
            addresses=xml.addresses,
            dhcp=xml.dhcp,
            leases=leases,
        )

    def list_networks(self) -> list[NetworkInfo]:
        """Every virtual network, active or defined, with the DHCP leases of active ones; sorted by name."""
        out = []
        with mapped(self.uri, "list networks"):
            for net in self._conn.listAllNetworks(0):
                try:
                    out.append(self._network_info(net))
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() != libvirt.VIR_ERR_NO_NETWORK:
                        raise
        return sorted(out, key=lambda n: n.name)

    def network(self, name: str) -> NetworkInfo:
        net = self._lookup_network(name)
        with mapped(self.uri, f"read network {name!r}"):
            return self._network_info(net)

    def set_network_autostart(self, name: str, on: bool) -> NetworkInfo:
        self.require_writable("network autostart")
        net = self._lookup_network(name)
        with mapped(self.uri, f"autostart of network {name!r}"):
            net.setAutostart(1 if on else 0)
            return self._network_info(net)

    def interface_macs(self) -> list[InterfaceMac]:
        """Every NIC of every domain (live XML when running, else the definition)."""
        from vmtui.drivers.resources import InterfaceMac
        from vmtui.drivers.xml.resources import nics

        out: set[InterfaceMac] = set()
        with mapped(self.uri, "read domain interfaces"):
            for dom in self._conn.listAllDomains(0):
                try:
                    name, uuid, doc = dom.name(), dom.UUIDString(), dom.XMLDesc(0)
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                        continue
                    raise
                out.update(InterfaceMac(name, uuid, n.mac, n.iface_type, n.network) for n in nics(doc) if n.mac)
        return sorted(out, key=lambda m: (m.domain, m.mac))
