"""What `vmtui create`, `template`, `clone` and `disk resize` ask of a live host beyond pools and volumes:
a volume filled from a stream of this machine's bytes, a volume copied by the host, the template mark,
disks grown, and a definition removed again.

Pure: the protocol only; `drivers/libvirt/provision.py` implements it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO, Protocol, runtime_checkable

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.resources import ResourceHost, VolumeInfo
from vmtui.errors import UsageError
from vmtui.models import DomainInfo


@runtime_checkable
class Provisioner(ResourceHost, Hypervisor, Protocol):
    def upload_volume(
        self,
        pool: str,
        xml: str,
        source: BinaryIO,
        length: int,
        *,
        sent: Callable[[int], None],
    ) -> VolumeInfo:
        """Create a volume from `xml` and fill it with `length` bytes of `source` through libvirt's
        stream (no other channel to the host is needed). `sent(bytes so far)` after each chunk may
        raise to stop it (a cancel); then, or when anything fails, the volume is deleted again."""

    def copy_volume(self, pool: str, xml: str, source_path: str) -> VolumeInfo:
        """A new volume of `pool` (from `xml`) holding a copy of the volume at `source_path`, made by the
        host; a copy that fails leaves no volume."""

    def download_volume(self, pool: str, name: str, offset: int, length: int) -> bytes:
        """`length` bytes of volume `name` from `offset` (fewer at its end), read through libvirt's
        stream: a clone's source seed is read back this way, locally or over qemu+ssh://."""

    def remove_domain(self, ident: str) -> None:
        """Force off and undefine; a missing domain is no error (a rollback's step)."""

    def set_template(self, ident: str, on: bool) -> DomainInfo: ...

    def volume_at(self, path: str) -> VolumeInfo | None:
        """The volume whose file is `path` on the host, or None when no active pool holds it."""

    def block_capacity(self, ident: str, target: str) -> int: ...

    def block_resize(self, ident: str, target: str, capacity: int) -> None: ...

    def resize_volume(self, pool: str, name: str, capacity: int) -> VolumeInfo: ...


def provisioner(conn: Hypervisor, what: str) -> Provisioner:
    """`conn` as a host that can be given new VMs and storage, or a UsageError for a recording."""
    if isinstance(conn, Provisioner):
        return conn
    raise UsageError(f"{what}: a recording cannot be changed; use a live host (-c URI or --host NAME)")
