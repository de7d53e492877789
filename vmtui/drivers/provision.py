"""What `vmtui create` (and `clone`) asks of a live host beyond pools and volumes: a volume filled
from a stream of this machine's bytes, a volume copied by the host, and a definition removed again.

Pure: the protocol only; `drivers/libvirt/provision.py` implements it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO, Protocol, runtime_checkable

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.resources import ResourceHost, VolumeInfo
from vmtui.errors import UsageError


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

    def copy_volume(self, pool: str, xml: str, source_pool: str, source_name: str) -> VolumeInfo:
        """A new volume from `xml` holding a copy of another volume's data, made by the host."""

    def remove_domain(self, ident: str) -> None:
        """Force off and undefine; a missing domain is no error (a rollback's step)."""


def provisioner(conn: Hypervisor, what: str) -> Provisioner:
    """`conn` as a host that can be given new VMs, or a UsageError for a recording."""
    if isinstance(conn, Provisioner):
        return conn
    raise UsageError(f"{what}: a recording cannot be changed; use a live host (-c URI or --host NAME)")
