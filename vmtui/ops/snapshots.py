"""Snapshots: list, create, revert, delete. The CLI's `vmtui snapshot ...` and the domain screen share them.

Where a snapshot lives is chosen from the disks: inside the qcow2 files (internal) when every disk is
qcow2, else as overlay files beside them (external). A running guest's memory is part of it unless
`disk_only`. libvirt 9.0 can neither revert to nor (under an internal parent) delete an external
snapshot; its refusal is shown as it is, with that said.
"""

from __future__ import annotations

import posixpath
import re
import threading
from dataclasses import dataclass
from enum import StrEnum

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.xml.parts import build_snapshot_xml, read_disks, writable_disks
from vmtui.errors import OperationError, UsageError, VmtuiError
from vmtui.models import DiskFile, DomainInfo, Snapshot
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.busy import refuse_if_migrating

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+:@-]{0,63}$")
"""Snapshot names vmtui accepts: they become file names on the host (metadata, overlays, memory)."""

EXTERNAL_LIMIT_HINT = "libvirt before 9.9 cannot revert to external snapshots, nor delete one whose parent is internal"
EXTERNAL_DELETE_HINT = (
    "libvirt 9.0 merges an external snapshot that has a newer one only while the guest runs (a block commit):"
    " start the guest and delete it again"
)
"""A shut-off guest's definition names only its top overlay, so libvirt finds no chain to merge along."""


class Location(StrEnum):
    AUTO = "auto"
    """internal when every disk is qcow2, else external."""
    INTERNAL = "internal"
    EXTERNAL = "external"


def check_name(name: str) -> str:
    """Refuse, before any call, a snapshot name that could not safely be a file name."""
    if not NAME_RE.match(name):
        raise UsageError(
            f"snapshot name {name!r} refused",
            hint="1-64 characters: letters, digits and . _ + : @ -, starting with a letter or digit",
        )
    return name


@dataclass(frozen=True, slots=True)
class SnapshotList:
    host: str
    domain: DomainInfo
    snapshots: tuple[Snapshot, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "domain": self.domain.name,
            "uuid": self.domain.uuid,
            "snapshots": [s.to_json() for s in self.snapshots],
        }


@dataclass(frozen=True, slots=True)
class SnapshotDone:
    """What a create, revert or delete did."""

    action: str
    host: str
    domain: DomainInfo
    """The domain's facts after the action."""
    snapshot: Snapshot

    def to_json(self) -> dict[str, object]:
        return {
            "action": self.action,
            "host": self.host,
            "domain": self.domain.name,
            "uuid": self.domain.uuid,
            "state": self.domain.state,
            "snapshot": self.snapshot.to_json(),
        }


def list_snapshots(conn: Hypervisor, ident: str, *, host: str = "") -> SnapshotList:
    info = conn.domain(ident)
    return SnapshotList(host or conn.uri, info, tuple(conn.list_snapshots(info.uuid)))


@dataclass(frozen=True, slots=True)
class SnapshotPlan:
    """How a snapshot would be made: told to the user, then handed to libvirt."""

    location: Location
    memory: bool
    disks: tuple[DiskFile, ...]
    memory_file: str | None
    xml: str


def plan_snapshot(
    info: DomainInfo,
    xml: str,
    name: str | None,
    *,
    description: str = "",
    location: Location = Location.AUTO,
    disk_only: bool = False,
    memory_file: str | None = None,
) -> SnapshotPlan:
    """Decide internal or external, with or without memory, from the domain's (inactive) XML. Pure."""
    disks = writable_disks(read_disks(xml))
    running = info.state in ("running", "paused", "blocked")
    if not disks:
        raise OperationError(
            f"{info.name} has no writable disk to snapshot", hint="snapshots cover disks (and memory with them)"
        )
    if location is Location.AUTO:
        all_qcow2 = all(d.driver_type == "qcow2" for d in disks)
        location = Location.INTERNAL if all_qcow2 and not memory_file else Location.EXTERNAL
    if location is Location.INTERNAL:
        if memory_file:
            raise UsageError("--memory-file is for external snapshots; an internal one keeps memory in the disk")
        not_qcow2 = [d.target for d in disks if d.driver_type != "qcow2"]
        if not_qcow2:
            raise OperationError(
                f"internal snapshot of {info.name} refused: {', '.join(not_qcow2)} not qcow2",
                hint="use --location external (overlay files beside the disks)",
            )
        # libvirt keeps a running guest's memory in an internal snapshot unless told otherwise.
        return SnapshotPlan(
            location, running and not disk_only, disks, None, build_snapshot_xml(name, description, no_memory=disk_only)
        )
    memory = running and not disk_only
    if memory and memory_file is None:
        first = next((d for d in disks if d.source_type == "file" and d.source), None)
        if first is None or first.source is None:
            raise UsageError(
                f"no file disk of {info.name} to put the memory file beside",
                hint="give --memory-file PATH (on the host), or --disk-only",
            )
        stem = posixpath.splitext(posixpath.basename(first.source))[0]
        memory_file = posixpath.join(posixpath.dirname(first.source), f"{stem}.{name or 'snapshot'}.mem")
    if memory_file is not None and not memory_file.startswith("/"):
        raise UsageError(f"--memory-file {memory_file!r} must be an absolute path on the host")
    snap_xml = build_snapshot_xml(
        name,
        description,
        external_disks=tuple(d.target for d in disks),
        memory_file=memory_file if memory else None,
        no_memory=not memory,
    )
    return SnapshotPlan(location, memory, disks, memory_file if memory else None, snap_xml)


def create(
    conn: Hypervisor,
    ident: str,
    name: str | None = None,
    *,
    host: str = "",
    description: str = "",
    location: Location = Location.AUTO,
    disk_only: bool = False,
    memory_file: str | None = None,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> SnapshotDone:
    """Take a snapshot (atomic: a failure leaves none behind). A running guest pauses while its memory
    is written, from milliseconds for a small guest to seconds for a large one."""
    conn.require_writable("create snapshot")
    refuse_if_migrating(conn, ident, "create snapshot")
    if name is not None:
        check_name(name)
    if "\x00" in description:
        raise UsageError("a snapshot description cannot hold NUL characters")
    info = conn.domain(ident)
    xml = conn.domain_xml(info.uuid, inactive=info.persistent)
    plan = plan_snapshot(
        info, xml, name, description=description, location=location, disk_only=disk_only, memory_file=memory_file
    )
    check_cancel(cancel or never_cancelled(), f"snapshot {info.name}")
    what = "disks and memory" if plan.memory else "disks"
    progress(Step(f"snapshotting {info.name} ({plan.location}, {what})"))
    snap = conn.create_snapshot(info.uuid, plan.xml, disk_only=plan.location is Location.EXTERNAL and not plan.memory)
    return SnapshotDone("create", host or conn.uri, conn.domain(info.uuid), snap)


def resolve(conn: Hypervisor, ident: str, name: str | None) -> tuple[DomainInfo, Snapshot]:
    """The domain and the snapshot a revert or delete means: `name`, or the current one when None."""
    info = conn.domain(ident)
    if name is None:
        snap = conn.current_snapshot(info.uuid)
        if snap is None:
            raise OperationError(f"{info.name} has no current snapshot", hint="name one; see `vmtui snapshot list`")
        return info, snap
    return info, conn.snapshot(info.uuid, check_name(name))


def revert_question(info: DomainInfo, snap: Snapshot, host: str) -> str:
    after = "running" if snap.memory and snap.state in ("running", "paused") else snap.state
    return (
        f"Revert {info.name} on {host} to snapshot {snap.name}? What the guest did since is lost; it will be {after}."
    )


def delete_question(info: DomainInfo, snap: Snapshot, host: str, *, children: bool) -> str:
    also = " and every snapshot taken after it" if children else ""
    return f"Delete snapshot {snap.name}{also} of {info.name} on {host}?"


def _explained(exc: VmtuiError, snap: Snapshot) -> VmtuiError:
    """libvirt's refusal of what it cannot yet do with an external snapshot, as the host's failure (exit 1,
    not a usage error: nothing the user typed was wrong), with what it means."""
    if snap.location == "internal" or exc.hint is not None:
        return exc
    if "external snapshot" in exc.message:
        return OperationError(exc.message, hint=EXTERNAL_LIMIT_HINT)
    if "base disk source" in exc.message:
        return OperationError(exc.message, hint=EXTERNAL_DELETE_HINT)
    return exc


def revert(
    conn: Hypervisor,
    ident: str,
    name: str | None,
    *,
    host: str = "",
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> SnapshotDone:
    """Revert the domain to a snapshot: disks, and memory when the snapshot has it."""
    conn.require_writable("revert to snapshot")
    refuse_if_migrating(conn, ident, "revert to snapshot")
    info, snap = resolve(conn, ident, name)
    check_cancel(cancel or never_cancelled(), f"revert {info.name}")
    progress(Step(f"reverting {info.name} to {snap.name}"))
    try:
        after = conn.revert_snapshot(info.uuid, snap.name)
    except VmtuiError as exc:
        raise _explained(exc, snap) from exc
    return SnapshotDone("revert", host or conn.uri, after, conn.snapshot(info.uuid, snap.name))


def delete(
    conn: Hypervisor,
    ident: str,
    name: str | None,
    *,
    host: str = "",
    children: bool = False,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> SnapshotDone:
    """Delete a snapshot (its data merged into what depends on it), or with `children` its subtree too."""
    conn.require_writable("delete snapshot")
    refuse_if_migrating(conn, ident, "delete snapshot")
    info, snap = resolve(conn, ident, name)
    check_cancel(cancel or never_cancelled(), f"delete snapshot of {info.name}")
    progress(Step(f"deleting snapshot {snap.name} of {info.name}"))
    try:
        conn.delete_snapshot(info.uuid, snap.name, children=children)
    except VmtuiError as exc:
        raise _explained(exc, snap) from exc
    return SnapshotDone("delete", host or conn.uri, conn.domain(info.uuid), snap)
