"""The libvirt connection: one class made of the subject mixins, the only home of `import libvirt`.

Each subject lives in its own module (`connection`: opening, errors, events; `host`: facts and
sampling; `domains`: lookup, XML and lifecycle; `jobs`: migration, job stats, dirty rate; more as
vmtui grows). Upper layers see the `vmtui.drivers.base.Hypervisor` protocol (and `Migrator`) and
never libvirt itself.
"""

from __future__ import annotations

from vmtui.drivers.domains import DomainsMixin
from vmtui.drivers.host import HostMixin
from vmtui.drivers.jobs import JobsMixin


class Connection(HostMixin, DomainsMixin, JobsMixin):
    """An open libvirt connection with every call vmtui makes."""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def connect(uri: str | None, *, read_only: bool = False) -> Connection:
    """Open `uri` (None: libvirt's default, honouring LIBVIRT_DEFAULT_URI and aliases)."""
    return Connection(uri, read_only=read_only)
