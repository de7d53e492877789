"""The libvirt connection: one class made of the subject mixins, the only home of `import libvirt`.

Each subject lives in its own module (`connection`: opening, errors, events; `host`: facts and
sampling; `domains`: lookup, XML and lifecycle; `devices`: attach, detach, update, disk volumes;
`nodedev`: PCI functions, SR-IOV and VF pools; `memory`: balloon and KSM; `definitions`: define and
undefine; `snapshots`; `backups`: backup jobs and checkpoints; `guest`: agent facts, autostart,
managed save; `storage`: pools and volumes; `networks`: networks and leases; `jobs`: migration, job
stats, dirty rate; more as vmtui grows). Upper layers see the `vmtui.drivers.base.Hypervisor`
protocol (and `Migrator`) and never libvirt itself.

Every command opens a Connection, so importing this module must stay cheap: the subject modules
import their XML readers and result types inside the methods that use them (`vmtui list` needs
only the domain reader).
"""

from __future__ import annotations

from vmtui.drivers.libvirt.backups import BackupsMixin
from vmtui.drivers.libvirt.definitions import DefinitionsMixin
from vmtui.drivers.libvirt.devices import DevicesMixin
from vmtui.drivers.libvirt.domains import DomainsMixin
from vmtui.drivers.libvirt.guest import GuestMixin
from vmtui.drivers.libvirt.host import HostMixin
from vmtui.drivers.libvirt.jobs import JobsMixin
from vmtui.drivers.libvirt.memory import MemoryMixin
from vmtui.drivers.libvirt.networks import NetworksMixin
from vmtui.drivers.libvirt.nodedev import NodeDevMixin
from vmtui.drivers.libvirt.provision import ProvisionMixin
from vmtui.drivers.libvirt.snapshots import SnapshotsMixin
from vmtui.drivers.libvirt.storage import StorageMixin


# Subject mixins that build on domain lookup subclass DomainsMixin; it comes last so the order is consistent.
class Connection(
    HostMixin,
    ProvisionMixin,
    DevicesMixin,
    GuestMixin,
    StorageMixin,
    NetworksMixin,
    MemoryMixin,
    JobsMixin,
    NodeDevMixin,
    SnapshotsMixin,
    BackupsMixin,
    DefinitionsMixin,
    DomainsMixin,
):
    """An open libvirt connection with every call vmtui makes."""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def connect(uri: str | None, *, read_only: bool = False) -> Connection:
    """Open `uri` (None: libvirt's default, honouring LIBVIRT_DEFAULT_URI and aliases)."""
    return Connection(uri, read_only=read_only)
