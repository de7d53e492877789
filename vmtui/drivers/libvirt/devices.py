"""Devices of a domain: attach, detach, update (live, persistent config, or both), redefine with an edited
device, and the storage volume a new disk lives on.

Each call says which definition it touches: `live` (the running guest) and `config` (the persistent
definition, what the next boot uses). One libvirt call with both flags either changes both or
nothing; callers that need two calls report each half themselves (`vmtui.ops.devices`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.drivers.libvirt.connection import convert_error, mapped
from vmtui.drivers.libvirt.domains import DomainsMixin
from vmtui.drivers.xml.read import parse_xml
from vmtui.errors import NotFoundError, OperationError, UsageError

# deviceapi (and the SR-IOV readers under it) is imported in the methods that build its types:
# every command opens a Connection, and `vmtui list` must not pay for device plumbing.
if TYPE_CHECKING:
    from vmtui.drivers.deviceapi import DomainDocs, VolumeFacts

VOLUME_KINDS = {0: "file", 1: "block", 2: "dir", 3: "network", 4: "netdir", 5: "ploop"}


def _flags(live: bool, config: bool) -> int:
    if not (live or config):
        raise UsageError("a device change needs the live domain, the persistent config, or both")
    return (libvirt.VIR_DOMAIN_AFFECT_LIVE if live else 0) | (libvirt.VIR_DOMAIN_AFFECT_CONFIG if config else 0)


class DevicesMixin(DomainsMixin):
    """Device calls; built on DomainsMixin for its virsh-style `lookup`."""

    def domain_docs(self, ident: str) -> DomainDocs:
        """Live and persistent XML of one domain; the persistent one with secrets (it may be redefined)."""
        from vmtui.drivers.deviceapi import DomainDocs

        with mapped(self.uri, f"read XML of {ident!r}"):
            dom = self.lookup(ident)
            state = int(dom.state()[0])
            active, persistent = bool(dom.isActive()), bool(dom.isPersistent())
            flags = libvirt.VIR_DOMAIN_XML_INACTIVE | (0 if self.read_only else libvirt.VIR_DOMAIN_XML_SECURE)
            return DomainDocs(
                dom.name(),
                dom.UUIDString(),
                state,
                str(dom.XMLDesc(0)) if active else None,
                str(dom.XMLDesc(flags)) if persistent else None,
            )

    def all_domain_docs(self) -> list[DomainDocs]:
        """Every domain's definitions (who uses which device), skipping those that vanish meanwhile."""
        from vmtui.drivers.deviceapi import DomainDocs

        out = []
        with mapped(self.uri, "read domain definitions"):
            for dom in self._conn.listAllDomains(0):
                try:
                    active, persistent = bool(dom.isActive()), bool(dom.isPersistent())
                    out.append(
                        DomainDocs(
                            dom.name(),
                            dom.UUIDString(),
                            int(dom.state()[0]),
                            str(dom.XMLDesc(0)) if active else None,
                            str(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)) if persistent else None,
                        )
                    )
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                        raise
        return sorted(out, key=lambda d: d.name)

    def attach_device(self, ident: str, xml: str, *, live: bool, config: bool) -> None:
        flags = _flags(live, config)
        self.require_writable("attach device")
        with mapped(self.uri, f"attach device to {ident!r}"):
            self.lookup(ident).attachDeviceFlags(xml, flags)

    def detach_device(self, ident: str, xml: str, *, live: bool, config: bool) -> None:
        """Ask for the device to go; a live detach may return before the guest has let go of it."""
        flags = _flags(live, config)
        self.require_writable("detach device")
        with mapped(self.uri, f"detach device from {ident!r}"):
            self.lookup(ident).detachDeviceFlags(xml, flags)

    def detach_alias(self, ident: str, alias: str, *, live: bool, config: bool) -> None:
        """Ask for the device named `alias` to go and return at once (the guest releases it later, or never)."""
        flags = _flags(live, config)
        self.require_writable("detach device")
        with mapped(self.uri, f"detach {alias!r} from {ident!r}"):
            self.lookup(ident).detachDeviceAlias(alias, flags)

    def update_device(self, ident: str, xml: str, *, live: bool, config: bool) -> None:
        flags = _flags(live, config)
        self.require_writable("update device")
        with mapped(self.uri, f"update device of {ident!r}"):
            self.lookup(ident).updateDeviceFlags(xml, flags)

    def redefine(self, ident: str, xml: str) -> None:
        """Replace the persistent definition of `ident` (validated against libvirt's schema).

        Refused when the XML names another domain: a redefine must never create or overwrite one.
        """
        self.require_writable("redefine")
        root = parse_xml(xml)
        with mapped(self.uri, f"redefine {ident!r}"):
            dom = self.lookup(ident)
            if root.findtext("uuid") != dom.UUIDString() or root.findtext("name") != dom.name():
                raise OperationError(f"redefine {ident!r}: the edited XML names another domain; nothing done")
            self._conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)

    # ----- the volume a new disk lives on --------------------------------------------------------

    def _pool(self, name: str) -> Any:
        try:
            pool = self._conn.storagePoolLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
                raise NotFoundError(f"no storage pool {name!r} on {self.uri}") from exc
            raise convert_error(exc, uri=self.uri, action=f"look up pool {name!r}") from exc
        with mapped(self.uri, f"read pool {name!r}"):
            if not pool.isActive():
                raise OperationError(f"storage pool {name!r} on {self.uri} is not active", hint="start it first")
        return pool

    def disk_pool_names(self) -> list[str]:
        """Active storage pools, by name (where a new disk's volume can go)."""
        with mapped(self.uri, "list storage pools"):
            return sorted(
                p.name() for p in self._conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE)
            )

    def create_disk_volume(self, pool: str, xml: str) -> VolumeFacts:
        from vmtui.drivers.deviceapi import VolumeFacts

        self.require_writable("create volume")
        handle = self._pool(pool)
        with mapped(self.uri, f"create volume in pool {pool!r}"):
            vol = handle.createXML(xml, 0)
            kind, capacity, _allocation = vol.info()
            return VolumeFacts(pool, vol.name(), vol.path(), VOLUME_KINDS.get(kind, str(kind)), int(capacity))

    def delete_disk_volume(self, pool: str, name: str) -> None:
        """Delete a volume vmtui just created (undoing an add-disk whose attach failed)."""
        self.require_writable("delete volume")
        handle = self._pool(pool)
        with mapped(self.uri, f"delete volume {name!r}"):
            handle.storageVolLookupByName(name).delete(0)

    def volume_names(self, pool: str) -> set[str]:
        handle = self._pool(pool)
        with mapped(self.uri, f"list volumes of {pool!r}"):
            handle.refresh(0)
            return {v.name() for v in handle.listAllVolumes(0)}
