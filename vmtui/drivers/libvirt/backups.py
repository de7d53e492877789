"""Backups: libvirt's push-mode backup job, checkpoints (qcow2 bitmaps), and the guest agent's freeze.

`begin_backup` returns once QEMU has fixed the point in time and started copying; the job then runs
in QEMU, read with `JobsMixin.job_stats` (operation "backup") and stopped with `abort_job`. The
checkpoint made with it stays when the job fails or is aborted: the caller deletes it.
"""

from __future__ import annotations

from typing import Any

import libvirt

from vmtui.drivers.libvirt.connection import convert_error, mapped
from vmtui.drivers.libvirt.domains import DomainsMixin
from vmtui.errors import NotFoundError

AGENT_SILENT = frozenset(
    {
        libvirt.VIR_ERR_AGENT_UNRESPONSIVE,
        libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,
        libvirt.VIR_ERR_OPERATION_UNSUPPORTED,
        libvirt.VIR_ERR_NO_SUPPORT,
        libvirt.VIR_ERR_OPERATION_INVALID,
        libvirt.VIR_ERR_INTERNAL_ERROR,
    }
)
"""What libvirt says when no guest agent can freeze: not configured, not connected, not answering, or
the agent's own failure (a guest without the freeze command): the backup goes on crash-consistent."""


def _said(exc: libvirt.libvirtError) -> str:
    return " ".join((exc.get_error_message() or str(exc)).split())


class BackupsMixin(DomainsMixin):
    def begin_backup(self, ident: str, backup_xml: str, checkpoint_xml: str) -> None:
        """Start a push backup (`xml.backup.build_backup_xml`) and make the checkpoint beside it, atomically."""
        self.require_writable("back up")
        dom = self.lookup(ident)
        with mapped(self.uri, f"back up {dom.name()}"):
            dom.backupBegin(backup_xml, checkpoint_xml, 0)

    def checkpoint_names(self, ident: str) -> list[str]:
        """The domain's checkpoints, oldest first (libvirt's topological order: parents before children)."""
        dom = self.lookup(ident)
        with mapped(self.uri, f"list checkpoints of {dom.name()}"):
            return [c.getName() for c in dom.listAllCheckpoints(libvirt.VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL)]

    def _checkpoint(self, dom: Any, name: str) -> Any:
        try:
            return dom.checkpointLookupByName(name, 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_CHECKPOINT:
                raise NotFoundError(f"{dom.name()} has no checkpoint {name!r}") from exc
            raise

    def checkpoint_changed_bytes(self, ident: str, name: str) -> dict[str, int]:
        """Bytes written since checkpoint `name`, per disk (a running domain only)."""
        from vmtui.drivers.xml.backup import checkpoint_sizes

        dom = self.lookup(ident)
        with mapped(self.uri, f"read checkpoint {name} of {dom.name()}"):
            flags = libvirt.VIR_DOMAIN_CHECKPOINT_XML_SIZE | libvirt.VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN
            return checkpoint_sizes(self._checkpoint(dom, name).getXMLDesc(flags))

    def delete_checkpoint(self, ident: str, name: str, *, metadata_only: bool = False) -> None:
        """Delete a checkpoint and its bitmaps (or, `metadata_only`, libvirt's record of it alone)."""
        self.require_writable("delete checkpoint")
        dom = self.lookup(ident)
        flags = libvirt.VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY if metadata_only else 0
        with mapped(self.uri, f"delete checkpoint {name} of {dom.name()}"):
            self._checkpoint(dom, name).delete(flags)

    def disk_allocation(self, ident: str, target: str) -> int:
        """Bytes the disk's image holds on the host (what a full backup copies, at most)."""
        dom = self.lookup(ident)
        with mapped(self.uri, f"read disk {target} of {dom.name()}"):
            _capacity, allocation, _physical = dom.blockInfo(target, 0)
            return int(allocation)

    def freeze_filesystems(self, ident: str) -> tuple[int, str | None]:
        """Ask the guest agent to freeze the guest's filesystems: (how many froze, None), or (0, why not)."""
        self.require_writable("freeze filesystems")
        dom = self.lookup(ident)
        try:
            return int(dom.fsFreeze(None, 0)), None
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in AGENT_SILENT:
                return 0, _said(exc)
            raise convert_error(exc, uri=self.uri, action=f"freeze filesystems of {dom.name()}") from exc

    def thaw_filesystems(self, ident: str) -> None:
        dom = self.lookup(ident)
        with mapped(self.uri, f"thaw filesystems of {dom.name()}"):
            dom.fsThaw(None, 0)
