"""What the device and SR-IOV operations may call: the `DeviceHost` protocol and its values.

A live libvirt connection satisfies it; a recording played back does not (it has nothing to
change), and `device_host` says so in one line instead of failing on a missing method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, cast

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.xml.sriov import HostdevNetwork, NetDevice, PciFunction
from vmtui.errors import UsageError


@dataclass(frozen=True, slots=True)
class DomainDocs:
    """A domain's definitions as text: live (when it runs) and persistent (when it has one)."""

    name: str
    uuid: str
    state_code: int
    """libvirt's virDomainState (1 running, 3 paused, 5 shut off, ...)."""
    live: str | None
    config: str | None


@dataclass(frozen=True, slots=True)
class VolumeFacts:
    """A storage volume vmtui created for a disk."""

    pool: str
    name: str
    path: str
    kind: str
    """file or block (what decides the disk's `type`)."""
    capacity: int


class DeviceHost(Hypervisor, Protocol):
    """Calls on a domain's devices and the host's PCI functions (see `vmtui.drivers.libvirt.devices`, `nodedev`)."""

    def domain_docs(self, ident: str) -> DomainDocs: ...

    def all_domain_docs(self) -> list[DomainDocs]: ...

    def attach_device(self, ident: str, xml: str, *, live: bool, config: bool) -> None: ...

    def detach_device(self, ident: str, xml: str, *, live: bool, config: bool) -> None: ...

    def detach_alias(self, ident: str, alias: str, *, live: bool, config: bool) -> None: ...

    def update_device(self, ident: str, xml: str, *, live: bool, config: bool) -> None: ...

    def redefine(self, ident: str, xml: str) -> None: ...

    def disk_pool_names(self) -> list[str]: ...

    def create_disk_volume(self, pool: str, xml: str) -> VolumeFacts: ...

    def delete_disk_volume(self, pool: str, name: str) -> None: ...

    def volume_names(self, pool: str) -> set[str]: ...

    def network_names(self) -> set[str]: ...

    def network_state(self, name: str) -> tuple[bool, HostdevNetwork | None]: ...

    def host_interface_type(self, name: str) -> str | None: ...

    def pci_functions(self) -> list[PciFunction]: ...

    def net_devices(self) -> list[NetDevice]: ...

    def hostdev_networks(self) -> list[HostdevNetwork]: ...

    def define_network(self, xml: str, *, start: bool = True, autostart: bool = True) -> HostdevNetwork: ...

    def remove_network(self, name: str) -> None: ...


def device_host(conn: Hypervisor) -> DeviceHost:
    """`conn` as a DeviceHost, or a one-line refusal for a source without devices (a recording)."""
    if not hasattr(conn, "attach_device"):
        raise UsageError(f"{conn.uri}: a recording has no devices to read or change", hint="use a live host")
    return cast(DeviceHost, conn)
