"""Templates, clones and disk sizes: the template mark, volumes copied or overlaid, block resize."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.drivers.libvirt.connection import mapped
from vmtui.drivers.libvirt.domains import DomainsMixin
from vmtui.drivers.libvirt.storage import StorageMixin
from vmtui.drivers.xml.edit import VMTUI_NS
from vmtui.models import DomainInfo

if TYPE_CHECKING:
    from vmtui.drivers.resources import VolumeInfo


class ProvisionMixin(StorageMixin, DomainsMixin):
    def set_template(self, ident: str, on: bool) -> DomainInfo:
        """Set or clear the template mark in the persistent definition's vmtui metadata (only there:
        the caller refuses a running domain, whose live XML would not have it)."""
        from vmtui.drivers.xml.provision import template_mark

        self.require_writable("mark a template")
        dom = self.lookup(ident)
        config = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        with mapped(self.uri, f"mark {dom.name()} as a template"):
            try:
                current = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, VMTUI_NS, config)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN_METADATA:
                    raise
                current = None
            new = template_mark(current, on)
            if new is None:
                dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, None, None, VMTUI_NS, config)
            else:
                dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, new, "vmtui", VMTUI_NS, config)
            return self.domain_info(dom)

    def _volume_at(self, path: str) -> Any | None:
        try:
            return self._conn.storageVolLookupByPath(path)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in (libvirt.VIR_ERR_NO_STORAGE_VOL, libvirt.VIR_ERR_NO_STORAGE_POOL):
                return None
            raise

    def volume_at(self, path: str) -> VolumeInfo | None:
        """The volume whose file is `path` on the host, or None when no active pool holds it."""
        with mapped(self.uri, f"look up volume {path}"):
            vol = self._volume_at(path)
            return None if vol is None else self._volume_info(vol.storagePoolLookupByVolume().name(), vol)

    def copy_volume(self, pool: str, xml: str, source_path: str) -> VolumeInfo:
        """A new volume of `pool` (from `xml`) filled with the data of the volume at `source_path`.

        Blocks until libvirt has copied it; a copy that fails leaves no volume (libvirt removes it)."""
        self.require_writable("copy volume")
        handle = self._active_pool(pool)
        with mapped(self.uri, f"copy volume {source_path}"):
            source = self._conn.storageVolLookupByPath(source_path)
            return self._volume_info(pool, handle.createXMLFrom(xml, source, 0))

    def block_capacity(self, ident: str, target: str) -> int:
        """The size in bytes a running domain's disk `target` has now (QEMU's view)."""
        dom = self.lookup(ident)
        with mapped(self.uri, f"read {target} of {dom.name()}"):
            return int(dom.blockInfo(target, 0)[0])

    def block_resize(self, ident: str, target: str, capacity: int) -> None:
        """Grow a running domain's disk to `capacity` bytes (QEMU grows the image; the guest sees it)."""
        self.require_writable("resize disk")
        dom = self.lookup(ident)
        with mapped(self.uri, f"resize {target} of {dom.name()}"):
            dom.blockResize(target, capacity, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)

    def resize_volume(self, pool: str, name: str, capacity: int) -> VolumeInfo:
        """Grow a volume no running domain has open to `capacity` bytes (qemu-img resize for qcow2)."""
        self.require_writable("resize volume")
        vol = self._lookup_volume(self._active_pool(pool), name)
        with mapped(self.uri, f"resize volume {name}"):
            vol.resize(capacity, 0)
            return self._volume_info(pool, vol)
