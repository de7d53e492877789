"""Storage: pools, their volumes, creating and deleting a volume, and which disks use what."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.drivers.libvirt.connection import ConnectionCore, convert_error, mapped
from vmtui.errors import NotFoundError, OperationError

# The resource types and their XML readers are imported in the methods that build them: every
# command opens a Connection, and `vmtui list` must not pay for them.
if TYPE_CHECKING:
    from vmtui.drivers.resources import DiskUse, PoolInfo, VolumeInfo

log = logging.getLogger("vmtui.drivers.libvirt.storage")

POOL_STATES = {0: "inactive", 1: "building", 2: "running", 3: "degraded", 4: "inaccessible"}
VOLUME_TYPES = {0: "file", 1: "block", 2: "dir", 3: "network", 4: "netdir", 5: "ploop"}


class StorageMixin(ConnectionCore):
    def _lookup_pool(self, name: str) -> Any:
        try:
            return self._conn.storagePoolLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
                raise NotFoundError(f"no storage pool {name!r} on {self.uri}", hint="see `vmtui pools`") from exc
            raise convert_error(exc, uri=self.uri, action=f"look up pool {name!r}") from exc

    def _active_pool(self, name: str) -> Any:
        pool = self._lookup_pool(name)
        with mapped(self.uri, f"read pool {name!r}"):
            if not pool.isActive():
                raise OperationError(f"storage pool {name!r} on {self.uri} is not active", hint="start it first")
        return pool

    def _lookup_volume(self, pool: Any, name: str) -> Any:
        try:
            return pool.storageVolLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
                raise NotFoundError(
                    f"no volume {name!r} in pool {pool.name()!r} on {self.uri}", hint="see `vmtui volumes POOL`"
                ) from exc
            raise convert_error(exc, uri=self.uri, action=f"look up volume {name!r}") from exc

    def _pool_info(self, pool: Any) -> PoolInfo:
        from vmtui.drivers.resources import PoolInfo
        from vmtui.drivers.xml.resources import read_pool_xml

        state, capacity, allocation, available = pool.info()
        active = bool(pool.isActive())
        xml = read_pool_xml(pool.XMLDesc(0))
        return PoolInfo(
            name=pool.name(),
            uuid=pool.UUIDString(),
            state=POOL_STATES.get(state, str(state)),
            autostart=bool(pool.autostart()),
            persistent=bool(pool.isPersistent()),
            pool_type=xml.pool_type,
            path=xml.path,
            capacity=int(capacity),
            allocation=int(allocation),
            available=int(available),
            volumes=int(pool.numOfVolumes()) if active else None,
        )

    def list_pools(self) -> list[PoolInfo]:
        """Every storage pool, active or defined, sorted by name."""
        out = []
        with mapped(self.uri, "list storage pools"):
            for pool in self._conn.listAllStoragePools(0):
                try:
                    out.append(self._pool_info(pool))
                except libvirt.libvirtError as exc:
                    # Undefined between listing and reading: skip it, as `list` skips a vanished domain.
                    if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
                        raise
        return sorted(out, key=lambda p: p.name)

    def pool(self, name: str) -> PoolInfo:
        pool = self._lookup_pool(name)
        with mapped(self.uri, f"read pool {name!r}"):
            return self._pool_info(pool)

    def _volume_info(self, pool_name: str, vol: Any) -> VolumeInfo:
        from vmtui.drivers.resources import VolumeInfo
        from vmtui.drivers.xml.resources import read_volume_xml

        vol_type, capacity, allocation = vol.info()
        xml = read_volume_xml(vol.XMLDesc(0))
        return VolumeInfo(
            pool=pool_name,
            name=vol.name(),
            path=vol.path(),
            key=vol.key(),
            vol_type=VOLUME_TYPES.get(vol_type, str(vol_type)),
            format=xml.format,
            capacity=int(capacity),
            allocation=int(allocation),
            backing=xml.backing,
        )

    def list_volumes(self, pool: str) -> list[VolumeInfo]:
        """The volumes of an active pool, sorted by name (as libvirt last scanned it)."""
        handle = self._active_pool(pool)
        out = []
        with mapped(self.uri, f"list volumes of {pool!r}"):
            for vol in handle.listAllVolumes(0):
                try:
                    out.append(self._volume_info(pool, vol))
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
                        raise
        return sorted(out, key=lambda v: v.name)

    def volume(self, pool: str, name: str) -> VolumeInfo:
        vol = self._lookup_volume(self._active_pool(pool), name)
        with mapped(self.uri, f"read volume {name!r}"):
            return self._volume_info(pool, vol)

    def define_pool(self, xml: str) -> PoolInfo:
        """Define a persistent pool from XML built by `xmlres.build_dir_pool_xml`, start it and mark it
        autostarted (libvirtd starts it whenever it starts). A pool that cannot start is undefined again."""
        self.require_writable("define pool")
        with mapped(self.uri, "define pool"):
            pool = self._conn.storagePoolDefineXML(xml, 0)
        try:
            with mapped(self.uri, f"start pool {pool.name()!r}"):
                pool.create(0)
                pool.setAutostart(1)
        except BaseException:
            try:
                pool.undefine()
            except libvirt.libvirtError as exc:
                log.warning("pool %s left defined after it failed to start: %s", pool.name(), exc)
            raise
        with mapped(self.uri, f"read pool {pool.name()!r}"):
            return self._pool_info(pool)

    def autostart_pool(self, name: str) -> PoolInfo:
        """Start a defined pool if it is inactive, and have libvirtd start it whenever it starts."""
        self.require_writable("start pool")
        pool = self._lookup_pool(name)
        with mapped(self.uri, f"start pool {name!r}"):
            if not pool.isActive():
                pool.create(0)
            pool.setAutostart(1)
            return self._pool_info(pool)

    def refresh_pool(self, name: str) -> None:
        handle = self._active_pool(name)
        with mapped(self.uri, f"refresh pool {name!r}"):
            handle.refresh(0)

    def create_volume(self, pool: str, xml: str) -> VolumeInfo:
        """Create a volume from XML built by `xmlres.build_volume_xml` (validated by the caller)."""
        self.require_writable("create volume")
        handle = self._active_pool(pool)
        with mapped(self.uri, f"create volume in {pool!r}"):
            vol = handle.createXML(xml, 0)
            return self._volume_info(pool, vol)

    def delete_volume(self, pool: str, name: str) -> None:
        """Delete a volume and its data. The caller checks first that no domain uses it."""
        self.require_writable("delete volume")
        vol = self._lookup_volume(self._active_pool(pool), name)
        with mapped(self.uri, f"delete volume {name!r}"):
            vol.delete(0)

    def disk_uses(self) -> list[DiskUse]:
        """Every disk of every domain: running ones by their live XML (with its backing chain), every
        persistent definition (a shut-off guest still owns its disks, and a running one's next boot may
        use others), and the definition each snapshot keeps (reverting to it needs those files)."""
        from vmtui.drivers.resources import DiskUse
        from vmtui.drivers.xml.resources import disk_sources, snapshot_disk_sources

        seen: set[DiskUse] = set()
        with mapped(self.uri, "read domain disks"):
            for dom in self._conn.listAllDomains(0):
                try:
                    name, uuid = dom.name(), dom.UUIDString()
                    found = []
                    if dom.isActive():
                        found += [("", s) for s in disk_sources(dom.XMLDesc(0))]
                    if dom.isPersistent():
                        found += [("", s) for s in disk_sources(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))]
                    snaps = dom.listAllSnapshots(0)
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                        continue  # gone between listing and reading
                    raise
                for snap in snaps:
                    try:
                        found += [(snap.getName(), s) for s in snapshot_disk_sources(snap.getXMLDesc(0))]
                    except libvirt.libvirtError as exc:
                        if exc.get_error_code() not in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT):
                            raise
                for snapshot, src in found:
                    seen.add(DiskUse(name, uuid, src.target, src.path, src.pool, src.volume, src.chain, snapshot))
        return sorted(seen, key=lambda u: (u.domain, u.snapshot, u.target, u.path))
