"""Snapshots of a domain: list, create (internal or external, with or without memory), revert, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.drivers.libvirt.connection import mapped
from vmtui.drivers.libvirt.domains import DomainsMixin
from vmtui.errors import NotFoundError
from vmtui.models import DomainInfo

if TYPE_CHECKING:  # built in _snapshot: `vmtui list` opens a Connection too (see vmtui.models)
    from vmtui.models import Snapshot


class SnapshotsMixin(DomainsMixin):
    def _snapshot(self, dom: Any, snap: Any) -> Snapshot:
        # Imported here: every command opens a Connection, and `vmtui list` must not pay for them.
        from vmtui.drivers.xml.parts import read_snapshot_xml
        from vmtui.models import Snapshot

        facts = read_snapshot_xml(snap.getXMLDesc(0))
        return Snapshot(
            name=snap.getName(),
            domain_uuid=dom.UUIDString(),
            description=facts.description,
            created=facts.created,
            state=facts.state,
            parent=facts.parent,
            current=bool(snap.isCurrent(0)),
            location=facts.location,
            memory=facts.memory,
        )

    def _lookup_snapshot(self, dom: Any, name: str) -> Any:
        try:
            return dom.snapshotLookupByName(name, 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
                raise NotFoundError(f"{dom.name()} has no snapshot {name!r}", hint="see `vmtui snapshot list`") from exc
            raise

    def list_snapshots(self, ident: str) -> list[Snapshot]:
        """Every snapshot of the domain, oldest first."""
        dom = self.lookup(ident)
        with mapped(self.uri, f"list snapshots of {dom.name()}"):
            snaps = [self._snapshot(dom, s) for s in dom.listAllSnapshots(0)]
        return sorted(snaps, key=lambda s: (s.created, s.name))

    def snapshot(self, ident: str, name: str) -> Snapshot:
        dom = self.lookup(ident)
        with mapped(self.uri, f"read snapshot {name} of {dom.name()}"):
            return self._snapshot(dom, self._lookup_snapshot(dom, name))

    def current_snapshot(self, ident: str) -> Snapshot | None:
        dom = self.lookup(ident)
        with mapped(self.uri, f"read the current snapshot of {dom.name()}"):
            if not dom.hasCurrentSnapshot(0):
                return None
            return self._snapshot(dom, dom.snapshotCurrent(0))

    def create_snapshot(self, ident: str, xml: str, *, disk_only: bool = False) -> Snapshot:
        """Create a snapshot from a `<domainsnapshot>` document (`xmlparts.build_snapshot_xml`).

        `disk_only`: external overlays without memory, which libvirt wants said as a flag too.
        Atomic, so that a failure on one disk leaves no half-made snapshot behind.
        """
        self.require_writable("create snapshot")
        flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
        if disk_only:
            flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
        dom = self.lookup(ident)
        with mapped(self.uri, f"create snapshot of {dom.name()}"):
            return self._snapshot(dom, dom.snapshotCreateXML(xml, flags))

    def revert_snapshot(self, ident: str, name: str) -> DomainInfo:
        """Bring the domain back to the snapshot: its disks, and its memory when it has it."""
        self.require_writable("revert to snapshot")
        dom = self.lookup(ident)
        with mapped(self.uri, f"revert {dom.name()} to snapshot {name}"):
            dom.revertToSnapshot(self._lookup_snapshot(dom, name), 0)
            return self.domain_info(dom)

    def delete_snapshot(self, ident: str, name: str, *, children: bool = False) -> None:
        """Delete one snapshot (its data merged into what depends on it), or it and its descendants."""
        self.require_writable("delete snapshot")
        flags = libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN if children else 0
        dom = self.lookup(ident)
        with mapped(self.uri, f"delete snapshot {name} of {dom.name()}"):
            self._lookup_snapshot(dom, name).delete(flags)
