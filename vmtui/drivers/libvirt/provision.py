"""New VMs and their storage: a volume uploaded through libvirt's stream, a volume copied by the host, the
template mark, and disks grown (block resize live, volume resize offline).

The upload is virStorageVolUpload over the connection itself (qemu+ssh:// included): no scp and no
shell on the host. It is sparse (holes are sent as holes, as `virsh vol-upload --sparse` does), so a
raw image's unwritten gigabytes cost neither the wire nor the pool.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

import libvirt

from vmtui.drivers.libvirt.connection import mapped, quiet_event_loop
from vmtui.drivers.libvirt.definitions import DefinitionsMixin, read_volume
from vmtui.drivers.libvirt.storage import StorageMixin
from vmtui.drivers.xml.edit import VMTUI_NS
from vmtui.errors import OperationError, VmtuiError
from vmtui.models import DomainInfo

if TYPE_CHECKING:
    from vmtui.drivers.resources import VolumeInfo

log = logging.getLogger("vmtui.drivers.libvirt.provision")

CHUNK = 256 * 1024
"""Bytes per send: libvirt's stream messages carry at most 256 KiB; a larger send is split and copied
in the client library (4 MiB sends took 3-4x as long as 256 KiB ones for a 1 GiB upload)."""


def _segments(fd: int, length: int) -> list[tuple[bool, int, int]]:
    """(is_data, offset, size) runs covering [0, length): data where SEEK_DATA finds it, holes between.

    A file system without SEEK_DATA gives one data run: the whole file is sent.
    """
    out: list[tuple[bool, int, int]] = []
    pos = 0
    try:
        while pos < length:
            try:
                data = min(os.lseek(fd, pos, os.SEEK_DATA), length)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                data = length  # ENXIO: nothing but a hole from `pos` to the end
            if data > pos:
                out.append((False, pos, data - pos))
            if data >= length:
                break
            hole = min(os.lseek(fd, data, os.SEEK_HOLE), length)
            out.append((True, data, hole - data))
            pos = hole
    except OSError:  # EINVAL: this file system cannot tell holes
        return [(True, 0, length)]
    return out


def _runs(source: BinaryIO, length: int) -> list[tuple[bool, int, int]]:
    """`_segments` of a file; an in-memory source (a seed) is one data run."""
    try:
        fd = source.fileno()
    except (OSError, AttributeError):  # io.UnsupportedOperation is an OSError
        return [(True, 0, length)]
    return _segments(fd, length)


class ProvisionMixin(StorageMixin, DefinitionsMixin):
    def upload_volume(
        self,
        pool: str,
        xml: str,
        source: BinaryIO,
        length: int,
        *,
        sent: Callable[[int], None],
    ) -> VolumeInfo:
        """Create a volume from `xml` (a fresh, sparse, zero-filled one: holes are skipped, not written)
        and fill it with `length` bytes of `source` through libvirt's stream. `sent(bytes so far)` after
        each chunk may raise to stop (a cancel); then, or when anything fails, the volume is deleted."""
        self.require_writable("upload volume")
        handle = self._active_pool(pool)
        with self._mapped_upload(pool):
            vol = handle.createXML(xml, 0)
        finished = False
        stream: Any = None
        try:
            with self._mapped_upload(pool), quiet_event_loop():
                stream = self._conn.newStream(0)
                vol.upload(stream, 0, length, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
                done = 0
                for is_data, offset, size in _runs(source, length):
                    if not is_data:
                        stream.sendHole(size, 0)
                        done += size
                        sent(done)
                        continue
                    source.seek(offset)
                    left = size
                    while left:
                        chunk = source.read(min(CHUNK, left))
                        if not chunk:
                            raise OperationError(f"upload to {pool}: the file ended early (changed while read?)")
                        size_read = len(chunk)
                        while chunk:  # send takes bytes: sent whole, no copy; the rest of a short send
                            chunk = chunk[stream.send(chunk) :]
                        left -= size_read
                        done += size_read
                        sent(done)
                stream.finish()
                finished = True
                return self._volume_info(pool, vol)
        finally:
            if not finished:
                self._undo_upload(stream, vol)

    def download_volume(self, pool: str, name: str, offset: int, length: int) -> bytes:
        """Bytes of a volume through libvirt's download stream (a seed to read back)."""
        handle = self._active_pool(pool)
        with mapped(self.uri, f"read volume {name!r} of pool {pool!r}"):
            return read_volume(self._conn, handle.storageVolLookupByName(name), offset, length)

    def _mapped_upload(self, pool: str) -> Any:
        return mapped(self.uri, f"upload a volume to pool {pool!r}")

    def _undo_upload(self, stream: Any, vol: Any) -> None:
        """Abort the stream and delete the half-filled volume; what fails here is logged, not raised
        (the error that brought us here is the one the user must see)."""
        if stream is not None:
            try:
                stream.abort()
            except libvirt.libvirtError as exc:
                log.info("stream abort after a failed upload: %s", exc)
        try:
            vol.delete(0)
        except libvirt.libvirtError as exc:
            log.warning("could not delete the half-uploaded volume %s: %s", vol.name(), exc)

    def remove_domain(self, ident: str) -> None:
        try:
            self.destroy_and_undefine(ident)
        except VmtuiError as exc:
            raise OperationError(f"could not remove domain {ident} again: {exc.message}") from exc

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
