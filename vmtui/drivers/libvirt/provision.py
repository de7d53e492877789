"""New VMs' storage: a volume uploaded through libvirt's stream, a volume copied by the host.

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

from vmtui.drivers.libvirt.definitions import DefinitionsMixin
from vmtui.drivers.libvirt.storage import StorageMixin
from vmtui.errors import OperationError, VmtuiError

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
            with self._mapped_upload(pool):
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
                        view = memoryview(chunk)
                        while view:
                            n = stream.send(bytes(view))
                            view = view[n:]
                        left -= len(chunk)
                        done += len(chunk)
                        sent(done)
                stream.finish()
                finished = True
                return self._volume_info(pool, vol)
        finally:
            if not finished:
                self._undo_upload(stream, vol)

    def _mapped_upload(self, pool: str) -> Any:
        from vmtui.drivers.libvirt.connection import mapped

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

    def copy_volume(self, pool: str, xml: str, source_pool: str, source_name: str) -> VolumeInfo:
        self.require_writable("copy volume")
        from vmtui.drivers.libvirt.connection import mapped

        target = self._active_pool(pool)
        source = self._lookup_volume(self._active_pool(source_pool), source_name)
        with mapped(self.uri, f"copy volume {source_name!r} into pool {pool!r}"):
            vol = target.createXMLFrom(xml, source, 0)
            return self._volume_info(pool, vol)

    def remove_domain(self, ident: str) -> None:
        try:
            self.destroy_and_undefine(ident)
        except VmtuiError as exc:
            raise OperationError(f"could not remove domain {ident} again: {exc.message}") from exc
