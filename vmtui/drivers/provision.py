"""The protocol of a host that templates, clones and resizes (a live libvirt host; a recording cannot)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.resources import ResourceHost, VolumeInfo
from vmtui.errors import UsageError
from vmtui.models import DomainInfo


@runtime_checkable
class Provisioner(ResourceHost, Protocol):
    def set_template(self, ident: str, on: bool) -> DomainInfo: ...

    def volume_at(self, path: str) -> VolumeInfo | None:
        """The volume whose file is `path` on the host, or None when no active pool holds it."""

    def copy_volume(self, pool: str, xml: str, source_path: str) -> VolumeInfo: ...

    def block_capacity(self, ident: str, target: str) -> int: ...

    def block_resize(self, ident: str, target: str, capacity: int) -> None: ...

    def resize_volume(self, pool: str, name: str, capacity: int) -> VolumeInfo: ...


def provisioner(conn: Hypervisor, what: str) -> Provisioner:
    """`conn` as a host that can make and resize storage, or a UsageError when it is a recording."""
    if isinstance(conn, Provisioner):
        return conn
    raise UsageError(f"{what}: a recording cannot; use a live host (-c URI or --host NAME)")
