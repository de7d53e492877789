"""Node devices and VF pools: the host's PCI functions (SR-IOV PFs and VFs), their netdevs, and libvirt
networks in hostdev forward mode.

libvirt has no call to change a PF's VF count (that is sysfs: see `vmtui.drivers.hostfiles`); it
lists what exists and hands VFs out from a pool network.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.drivers.libvirt.connection import ConnectionCore, convert_error, mapped
from vmtui.errors import NotFoundError, OperationError

# The SR-IOV readers are imported in the methods that use them: every command opens a Connection,
# and `vmtui list` must not pay for them.
if TYPE_CHECKING:
    from vmtui.drivers.xml.sriov import HostdevNetwork, NetDevice, PciFunction

log = logging.getLogger("vmtui.drivers.libvirt.nodedev")

_GONE = (libvirt.VIR_ERR_NO_NODE_DEVICE, libvirt.VIR_ERR_NO_NETWORK)
_NO_DRIVER = (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_OPERATION_UNSUPPORTED)
"""What libvirt says when a daemon has no driver for a kind of object (built without it)."""


class NodeDevMixin(ConnectionCore):
    def _devices(self, cap_flag: int) -> list[str]:
        """XML of every node device with capability `cap_flag`; devices that vanish meanwhile are skipped."""
        with mapped(self.uri, "list node devices"):
            return self._devices_raw(cap_flag)

    def _devices_raw(self, cap_flag: int) -> list[str]:
        """`_devices`, with libvirt's errors as they are (for callers that tell "no driver" apart)."""
        docs = []
        for dev in self._conn.listAllDevices(cap_flag):
            try:
                docs.append(str(dev.XMLDesc(0)))
            except libvirt.libvirtError as exc:
                if exc.get_error_code() not in _GONE:
                    raise
        return docs

    def pci_functions(self) -> list[PciFunction]:
        """Every PCI function of the host (PFs, VFs and the rest), sorted by address."""
        from vmtui.drivers.xml.sriov import read_pci_device

        found = (read_pci_device(xml) for xml in self._devices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV))
        return sorted((f for f in found if f is not None), key=lambda f: f.address)

    def net_devices(self) -> list[NetDevice]:
        from vmtui.drivers.xml.sriov import read_net_device

        found = (read_net_device(xml) for xml in self._devices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_NET))
        return sorted((n for n in found if n is not None), key=lambda n: n.interface)

    def host_interface_type(self, name: str) -> str | None:
        """libvirt's type of host interface `name` (`bridge`, `ethernet`, `bond`, `vlan`), `absent` when
        the host has none, None when libvirt can tell neither way (or knows it exists but not its type).

        Asked of libvirt, so it works over qemu+ssh without a shell: its interface driver first (udev
        reads the host's interfaces at each call and says `bridge` for a Linux bridge; netcf knows only
        configured ones), then the node devices of capability net (udev's view, as events last left it,
        which knows an interface exists but not whether it is a bridge).
        """
        from vmtui.drivers.xml.read import parse_xml

        known: str | None = "absent"
        try:
            iface = self._conn.interfaceLookupByName(name)
            return str(parse_xml(iface.XMLDesc(0)).get("type") or "") or None
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in _NO_DRIVER:
                log.info("no interface driver on %s: %s", self.uri, exc)
                known = None
            elif exc.get_error_code() != libvirt.VIR_ERR_NO_INTERFACE:
                raise convert_error(exc, uri=self.uri, action=f"look up host interface {name!r}") from exc
        from vmtui.drivers.xml.sriov import read_net_device

        try:
            docs = self._devices_raw(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_NET)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() not in _NO_DRIVER:
                raise convert_error(exc, uri=self.uri, action="list node devices") from exc
            log.info("no node device driver on %s: %s", self.uri, exc)
            return known
        found = (read_net_device(xml) for xml in docs)
        return None if any(n is not None and n.interface == name for n in found) else known

    def hostdev_networks(self) -> list[HostdevNetwork]:
        """Every libvirt network in hostdev forward mode (a VF pool), active or only defined."""
        from vmtui.drivers.xml.sriov import read_hostdev_network

        out = []
        with mapped(self.uri, "list networks"):
            for net in self._conn.listAllNetworks(0):
                try:
                    pool = read_hostdev_network(str(net.XMLDesc(0)), active=bool(net.isActive()))
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() not in _GONE:
                        raise
                    continue
                if pool is not None:
                    out.append(pool)
        return sorted(out, key=lambda p: p.name)

    def _network(self, name: str) -> Any:
        try:
            return self._conn.networkLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_NETWORK:
                raise NotFoundError(f"no network {name!r} on {self.uri}") from exc
            raise convert_error(exc, uri=self.uri, action=f"look up network {name!r}") from exc

    def network_state(self, name: str) -> tuple[bool, HostdevNetwork | None]:
        """(active, the VF pool it is or None for any other kind of network); NotFoundError if none."""
        from vmtui.drivers.xml.sriov import read_hostdev_network

        net = self._network(name)
        with mapped(self.uri, f"read network {name!r}"):
            active = bool(net.isActive())
            return active, read_hostdev_network(str(net.XMLDesc(0)), active=active)

    def network_names(self) -> set[str]:
        with mapped(self.uri, "list networks"):
            return {n.name() for n in self._conn.listAllNetworks(0)}

    def define_network(self, xml: str, *, start: bool = True, autostart: bool = True) -> HostdevNetwork:
        """Define a persistent network, then start it and mark it autostart; a start that fails undefines it."""
        from vmtui.drivers.xml.sriov import read_hostdev_network

        self.require_writable("define network")
        with mapped(self.uri, "define network"):
            net = self._conn.networkDefineXML(xml)
            try:
                if start:
                    net.create()
                if autostart:
                    net.setAutostart(1)
            except libvirt.libvirtError:
                try:
                    if net.isActive():
                        net.destroy()
                    net.undefine()  # nothing half-made is left behind
                except libvirt.libvirtError:
                    log.exception("undoing the network define failed")
                raise
            pool = read_hostdev_network(str(net.XMLDesc(0)), active=bool(net.isActive()))
        if pool is None:
            raise OperationError("the network defined is not in hostdev mode")
        return pool

    def remove_network(self, name: str) -> None:
        """Stop (if running) and undefine a network; a missing one is not an error."""
        self.require_writable("remove network")
        try:
            net = self._network(name)
        except NotFoundError:
            return
        with mapped(self.uri, f"remove network {name!r}"):
            if net.isActive():
                net.destroy()
            if net.isPersistent():
                net.undefine()
