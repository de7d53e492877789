"""Backups: full and incremental through libvirt's push backup, listed from their manifests.

The model (docs/backups.md): a backup is a directory ROOT/DOMAIN/ID/ on the domain's host with one qcow2
file per disk and a `manifest.json` written last. A full backup copies every block in use; each backup
also makes a libvirt checkpoint (a qcow2 bitmap per disk) from which the next incremental copies only the
blocks written since. An incremental's files read through to their parent's (a relative qcow2 backing
link), so the newest file of a chain is a whole disk to qemu-img. Only the newest checkpoint is kept:
the next incremental needs no other, and every bitmap costs the guest's writes a little.

A backup is written into ID.partial/ and renamed to ID/ when its manifest is in it: nothing that
looks complete is ever left by a failure, a full disk or Ctrl-C, which also aborts the job and
deletes the checkpoint it made (its bitmaps with it).
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from vmtui import present
from vmtui.drivers.backupstore import BackupStore
from vmtui.drivers.base import Hypervisor
from vmtui.drivers.resources import GuestFacts, PoolInfo, VolumeInfo
from vmtui.drivers.xml.backup import build_backup_xml, build_checkpoint_xml
from vmtui.drivers.xml.parts import read_disks, writable_disks
from vmtui.drivers.xml.resources import FILE_POOL_TYPES, build_volume_xml
from vmtui.errors import NotFoundError, OperationError, UsageError, VmtuiError
from vmtui.models import DiskFile, DomainInfo, JobStats
from vmtui.ops.base import Progress, Step, UserCancelledError, never_cancelled, no_progress
from vmtui.ops.busy import refuse_if_migrating

log = logging.getLogger("vmtui.ops.backup")

DEFAULT_ROOT = "/var/lib/vmtui/backups"
"""Where backups go on the host when `--to` is not given (and `VMTUI_BACKUP_DIR` is not set)."""
ROOT_ENV = "VMTUI_BACKUP_DIR"


def default_root() -> str:
    """The backup folder when none is given: `VMTUI_BACKUP_DIR`, else DEFAULT_ROOT (the TUI always uses it)."""
    return os.environ.get(ROOT_ENV) or DEFAULT_ROOT


MANIFEST_FORMAT = 1
CHECKPOINT_PREFIX = "vmtui-"
"""vmtui's checkpoints: the ones it deletes when a newer backup supersedes them (never anyone else's)."""
SAFE_DIR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
POLL_S = 0.05
"""How often a running job's figures are read (virsh domjobinfo takes ~1 ms here): the job's end is
seen within 50 ms, not the 100 ms on average a 0.2 s poll cost every backup."""
SHOW_EVERY_S = 1.0
"""At most one progress line a second: a progress line per poll would bury the output."""
ROOM_MARGIN_BYTES = 16 * 1024 * 1024
"""qcow2 metadata and the manifest on top of the data itself."""


@runtime_checkable
class BackupHost(Protocol):
    """What a backup and a restore ask of a live libvirt connection (`drivers.libvirt.backups`, `jobs`,
    `definitions`); a recording has none of it."""

    uri: str

    def require_writable(self, action: str) -> None: ...
    def domain(self, ident: str) -> DomainInfo: ...
    def domain_xml(self, ident: str, *, inactive: bool = False) -> str: ...
    def job_stats(self, ident: str, *, completed: bool = False) -> JobStats: ...
    def abort_job(self, ident: str) -> None: ...
    def begin_backup(self, ident: str, backup_xml: str, checkpoint_xml: str) -> None: ...
    def checkpoint_names(self, ident: str) -> list[str]: ...
    def checkpoint_changed_bytes(self, ident: str, name: str) -> dict[str, int]: ...
    def delete_checkpoint(self, ident: str, name: str, *, metadata_only: bool = False) -> None: ...
    def disk_allocation(self, ident: str, target: str) -> int: ...
    def freeze_filesystems(self, ident: str) -> tuple[int, str | None]: ...
    def thaw_filesystems(self, ident: str) -> None: ...
    def find_by_name(self, name: str) -> tuple[str, bool] | None: ...
    def define_xml(self, xml: str) -> DomainInfo: ...
    def list_pools(self) -> list[PoolInfo]: ...
    def create_volume(self, pool: str, xml: str) -> VolumeInfo: ...
    def delete_volume(self, pool: str, name: str) -> None: ...
    def refresh_pool(self, name: str) -> None: ...


def live_host(conn: object) -> BackupHost:
    """`conn` as a live host; refused (before any change) for a recording."""
    if not isinstance(conn, BackupHost):
        raise UsageError(f"{getattr(conn, 'uri', 'this host')} is a recording: it has no backups")
    return conn


# ----- what a backup is ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupDisk:
    target: str
    """vda, sda: the guest's name of the disk."""
    source: str
    """The disk's file on the host when it was backed up."""
    file: str
    """The backup's qcow2 file, in the backup's directory."""
    size: int
    """Bytes the file takes on the host."""
    sha256: str

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "source": self.source,
            "file": self.file,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True, slots=True)
class Backup:
    id: str
    domain: str
    uuid: str
    kind: str
    """full or incremental."""
    parent: str | None
    """The backup an incremental builds on; None for a full one."""
    checkpoint: str
    """The libvirt checkpoint made with it: the next incremental starts there."""
    started: float
    finished: float
    consistency: str
    """frozen (the guest agent froze the filesystems for the start) or why not."""
    disks: tuple[BackupDisk, ...]
    path: str
    """Its directory on the host."""
    domain_xml: str

    @property
    def size(self) -> int:
        return sum(d.size for d in self.disks)

    def to_json(self, *, with_xml: bool = False) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "domain": self.domain,
            "uuid": self.uuid,
            "kind": self.kind,
            "parent": self.parent,
            "checkpoint": self.checkpoint,
            "started": self.started,
            "finished": self.finished,
            "consistency": self.consistency,
            "size": self.size,
            "path": self.path,
            "disks": [d.to_json() for d in self.disks],
        }
        if with_xml:
            out["domain_xml"] = self.domain_xml
        return out


def manifest_text(backup: Backup) -> str:
    body = {"format": MANIFEST_FORMAT, **backup.to_json(with_xml=True)}
    body.pop("path")
    body.pop("size")
    return json.dumps(body, indent=2) + "\n"


def read_manifest(path: str, text: str) -> Backup | None:
    """A manifest as a Backup; None (logged) for one vmtui cannot read: never guessed at."""
    try:
        raw = json.loads(text)
        if raw.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {raw.get('format')!r}")
        return Backup(
            id=str(raw["id"]),
            domain=str(raw["domain"]),
            uuid=str(raw["uuid"]),
            kind=str(raw["kind"]),
            parent=str(raw["parent"]) if raw.get("parent") else None,
            checkpoint=str(raw["checkpoint"]),
            started=float(raw["started"]),
            finished=float(raw["finished"]),
            consistency=str(raw["consistency"]),
            disks=tuple(
                BackupDisk(str(d["target"]), str(d["source"]), str(d["file"]), int(d["size"]), str(d["sha256"]))
                for d in raw["disks"]
            ),
            path=path,
            domain_xml=str(raw["domain_xml"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("unreadable backup manifest in %s: %s", path, exc)
        return None


def domain_dir_name(info: DomainInfo) -> str:
    """The domain's folder under the root: its name when that is a plain file name, else its UUID."""
    return info.name if SAFE_DIR_NAME.match(info.name) else info.uuid


def all_backups(store: BackupStore, root: str) -> list[Backup]:
    """Every finished backup under root, oldest first."""
    found = [read_manifest(path, text) for path, text in store.manifests(root)]
    return sorted((b for b in found if b is not None), key=lambda b: (b.started, b.id))


def backups_of(store: BackupStore, root: str, domain: str) -> list[Backup]:
    """The backups of the domain named (or with the UUID) `domain`, oldest first."""
    return [b for b in all_backups(store, root) if domain in (b.domain, b.uuid)]


def chain_of(backups: Sequence[Backup], backup: Backup) -> list[Backup]:
    """`backup` and the backups it builds on, full first; refused, naming it, when a link is missing."""
    by_id = {b.id: b for b in backups}
    chain = [backup]
    while chain[-1].parent is not None:
        parent = by_id.get(chain[-1].parent)
        if parent is None:
            raise OperationError(
                f"backup {backup.id} of {backup.domain} cannot be used: its chain is missing {chain[-1].parent}"
                f" (the parent of {chain[-1].id})",
                hint="restore an older point, or take a new full backup (`vmtui backup DOMAIN`)",
            )
        chain.append(parent)
    return chain[::-1]


@dataclass(frozen=True, slots=True)
class BackupList:
    host: str
    root: str
    backups: tuple[Backup, ...]

    def to_json(self) -> dict[str, object]:
        return {"host": self.host, "root": self.root, "backups": [b.to_json() for b in self.backups]}


def list_backups(store: BackupStore, root: str, domain: str | None = None, *, host: str = "") -> BackupList:
    found = all_backups(store, root) if domain is None else backups_of(store, root, domain)
    return BackupList(host or store.label, root, tuple(found))


# ----- taking one ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupDone:
    host: str
    backup: Backup
    removed: tuple[str, ...] = ()
    """Backups --keep removed (merged into the next one, or whole full chains past the limit)."""
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "backup": self.backup.to_json(),
            "removed": list(self.removed),
            "elapsed_s": round(self.elapsed_s, 3),
        }


def backup_disks(info: DomainInfo, xml: str) -> tuple[DiskFile, ...]:
    """The disks a backup covers; refused unless every writable disk is a qcow2 file."""
    disks = writable_disks(read_disks(xml))
    if not disks:
        raise OperationError(f"{info.name} has no writable disk to back up")
    not_qcow2 = [f"{d.target} ({d.driver_type or 'unknown'} {d.source_type})" for d in disks if not _is_qcow2_file(d)]
    if not_qcow2:
        raise OperationError(
            f"backup of {info.name} refused: {', '.join(not_qcow2)} not a qcow2 file",
            hint="incremental backups keep their checkpoints as qcow2 bitmaps: convert the disk to qcow2 first",
        )
    return disks


def _is_qcow2_file(disk: DiskFile) -> bool:
    return disk.driver_type == "qcow2" and disk.source_type == "file"


def new_backup_id(kind: str, now: float, taken: set[str]) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    base = f"{stamp}-{'full' if kind == 'full' else 'inc'}"
    backup_id, n = base, 1
    while backup_id in taken:
        n += 1
        backup_id = f"{base}-{n}"
    return backup_id


def _refuse_if_busy(conn: BackupHost, info: DomainInfo) -> None:
    stats = conn.job_stats(info.uuid)
    if stats.active and stats.operation == "backup":
        raise OperationError(
            f"backup of {info.name} refused: a backup of it is running",
            hint=f"wait for it, or stop it (Ctrl-C where it runs, or `virsh domjobabort {info.name}`)",
        )
    if stats.active:
        raise OperationError(f"backup of {info.name} refused: a {stats.operation} job holds it; wait for it")


def _check_room(store: BackupStore, where: str, needed: int, info: DomainInfo) -> None:
    free = store.free_bytes(where)
    if needed + ROOM_MARGIN_BYTES > free:
        raise OperationError(
            f"backup of {info.name} refused: {where} on {store.label} has {present.size(free)} free,"
            f" the backup needs about {present.size(needed + ROOM_MARGIN_BYTES)}",
            hint="free space there or give another place (--to DIR)",
        )


@dataclass(frozen=True, slots=True)
class _Plan:
    kind: str
    parent: Backup | None
    needed: int


def _plan(
    conn: BackupHost,
    store: BackupStore,
    root: str,
    info: DomainInfo,
    disks: Sequence[DiskFile],
    incremental: bool | None,
) -> _Plan:
    """Full or incremental; `incremental` None: incremental when the last backup allows one, else full."""
    if incremental is None:
        try:
            return _plan(conn, store, root, info, disks, True)
        except OperationError as exc:
            log.info("full backup of %s: %s", info.name, exc.message)
            return _plan(conn, store, root, info, disks, False)
    if not incremental:
        return _Plan("full", None, sum(conn.disk_allocation(info.uuid, d.target) for d in disks))
    mine = backups_of(store, root, info.uuid)
    if not mine:
        raise OperationError(
            f"incremental backup of {info.name} refused: no backup of it in {root} to build on",
            hint="take a full one first (without --incremental)",
        )
    last = mine[-1]
    chain_of(mine, last)  # a chain with a missing link is named here, before any change
    if last.checkpoint not in conn.checkpoint_names(info.uuid):
        raise OperationError(
            f"incremental backup of {info.name} refused: its checkpoint {last.checkpoint} (of backup {last.id})"
            " is gone from the domain",
            hint="take a full backup (without --incremental); the next incrementals build on it",
        )
    if {d.target for d in disks} != {d.target for d in last.disks}:
        raise OperationError(
            f"incremental backup of {info.name} refused: its disks changed since backup {last.id}",
            hint="take a full backup (without --incremental)",
        )
    changed = conn.checkpoint_changed_bytes(info.uuid, last.checkpoint)
    return _Plan("incremental", last, sum(changed.values()))


def _freeze(conn: BackupHost, info: DomainInfo, progress: Progress) -> tuple[bool, str]:
    try:
        frozen, why = conn.freeze_filesystems(info.uuid)
    except VmtuiError as exc:
        frozen, why = 0, exc.message
    if frozen:
        progress(Step(f"froze {present.counted(frozen, 'filesystem', 'filesystems')} of {info.name} (guest agent)"))
        return True, "frozen"
    said = f"not frozen: no guest agent answered ({why})" if why else "not frozen: the guest agent froze nothing"
    progress(Step(f"{info.name}: {said}; the backup is crash-consistent"))
    return False, said


def _thaw(conn: BackupHost, info: DomainInfo, progress: Progress) -> None:
    """Thaw at once; a thaw that fails is said loudly (a frozen guest hangs on its next write) but does
    not stop the backup, whose point in time is already fixed."""
    try:
        conn.thaw_filesystems(info.uuid)
    except VmtuiError as exc:
        log.error("thaw of %s failed: %s", info.name, exc)
        progress(Step(f"THAW FAILED for {info.name}: {exc.message}; run `virsh domfsthaw {info.name}` now"))
        return
    progress(Step(f"thawed {info.name}'s filesystems"))


def _job_step(stats: JobStats, started: float) -> Step:
    """The job's own figures as a step: bytes copied of the total, speed and time left."""
    total = stats.disk_total or 0
    remaining = stats.disk_remaining if stats.disk_remaining is not None else total
    done = max(0, total - remaining)
    # QEMU's elapsed time when libvirt gives it: ours also counts the start of the job.
    elapsed = stats.elapsed_ms / 1000 if stats.elapsed_ms else time.monotonic() - started
    speed = done / elapsed if done and elapsed > 0 else None
    eta = remaining / speed if speed else None
    fraction = done / total if total else None
    text = f"copied {present.size(done)} of {present.size(total)}"
    if fraction is not None:
        text += f" ({fraction * 100:.0f} %)"
    if speed:
        text += f", {present.rate(speed)}, about {present.seconds(eta)} left"
    return Step(
        text,
        fraction,
        {"processed": done, "total": total, "remaining": remaining, "bytes_per_s": speed, "eta_s": eta},
    )


def _wait_for_job(conn: BackupHost, info: DomainInfo, progress: Progress, cancel: threading.Event) -> JobStats:
    """Follow the backup job to its end, a progress step a second; the job's completed stats."""
    started = time.monotonic()
    shown = 0.0
    while True:
        stats = conn.job_stats(info.uuid)
        if not stats.active:
            break
        now = time.monotonic()
        if stats.operation == "backup" and now - shown >= SHOW_EVERY_S:
            progress(_job_step(stats, started))
            shown = now
        if cancel.wait(POLL_S):
            raise UserCancelledError(f"backup of {info.name}: cancelled")
    return conn.job_stats(info.uuid, completed=True)


def _abort_and_wait(conn: BackupHost, info: DomainInfo) -> None:
    try:
        conn.abort_job(info.uuid)
    except VmtuiError as exc:
        log.info("abort backup of %s: %s", info.name, exc)  # it may have ended on its own meanwhile
    deadline = time.monotonic() + 60
    while conn.job_stats(info.uuid).active and time.monotonic() < deadline:
        time.sleep(POLL_S)


def _undo(conn: BackupHost, store: BackupStore, info: DomainInfo, checkpoint: str, partial: str) -> list[str]:
    """Remove what a backup that did not finish made: its checkpoint (and bitmaps) and its files."""
    problems = []
    if checkpoint in conn.checkpoint_names(info.uuid):
        try:
            conn.delete_checkpoint(info.uuid, checkpoint)
        except VmtuiError as exc:
            problems.append(f"checkpoint {checkpoint} left: {exc.message}")
    store.remove_tree(partial)
    return problems


def take_backup(
    conn: BackupHost,
    store: BackupStore,
    ident: str,
    *,
    root: str = DEFAULT_ROOT,
    incremental: bool | None = False,
    keep: int | None = None,
    host: str = "",
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> BackupDone:
    """Back up every disk of a running domain into root/DOMAIN/ID/: full, incremental on the last backup,
    or (`incremental` None, the TUI's key) incremental when the last backup allows one, else full."""
    cancel = cancel or never_cancelled()
    conn.require_writable("back up")
    if keep is not None and keep < 1:
        raise UsageError(f"--keep {keep}: keep at least one backup")
    if not root.startswith("/"):
        raise UsageError(f"--to {root!r} must be an absolute path on the host")
    refuse_if_migrating(conn, ident, "back up")
    info = conn.domain(ident)
    if info.state not in ("running", "paused", "blocked"):
        raise OperationError(
            f"backup of {info.name} refused: it is {info.state}",
            hint="libvirt's backup runs in QEMU: start the domain (its disks are consistent while it is off)",
        )
    disks = backup_disks(info, conn.domain_xml(info.uuid))
    _refuse_if_busy(conn, info)
    plan = _plan(conn, store, root, info, disks, incremental)
    folder = posixpath.join(root, domain_dir_name(info))
    _check_room(store, folder, plan.needed, info)
    started = time.time()
    backup_id = new_backup_id(plan.kind, started, {b.id for b in backups_of(store, root, info.uuid)})
    final = posixpath.join(folder, backup_id)
    partial = final + ".partial"
    checkpoint = CHECKPOINT_PREFIX + backup_id
    targets = {d.target: posixpath.join(partial, f"{d.target}.qcow2") for d in disks}
    definition = conn.domain_xml(info.uuid, inactive=info.persistent)
    if not store.make_dir(partial):
        raise OperationError(f"backup of {info.name} refused: {partial} exists: another backup is being written there")
    began = False
    try:
        what = f"incremental on {plan.parent.id}" if plan.parent else "full"
        progress(Step(f"backing up {info.name} ({what}, about {present.size(plan.needed)}) into {final}"))
        frozen, consistency = _freeze(conn, info, progress)
        try:
            conn.begin_backup(
                info.uuid,
                build_backup_xml(targets, incremental=plan.parent.checkpoint if plan.parent else None),
                build_checkpoint_xml(checkpoint, list(targets), description=f"vmtui backup {backup_id}"),
            )
            began = True
        finally:
            if frozen:
                _thaw(conn, info, progress)
        outcome = _wait_for_job(conn, info, progress, cancel)
        if outcome.type != "completed":
            raise OperationError(
                f"backup of {info.name} {outcome.type}: {outcome.error or 'libvirt gave no reason'}",
                hint="nothing was kept; see the host's libvirt log",
            )
        progress(Step("checking the files"))
        backup = _finish(
            store, info, disks, targets, plan, backup_id, checkpoint, started, consistency, definition, final
        )
        store.write_text(posixpath.join(partial, "manifest.json"), manifest_text(backup))
        store.rename(partial, final)
    except BaseException as exc:
        if began and conn.job_stats(info.uuid).active:
            _abort_and_wait(conn, info)
        problems = _undo(conn, store, info, checkpoint, partial)
        if isinstance(exc, OSError):
            # The local store's own files (the checksums read, the manifest written) after QEMU's job: a disk
            # that fills up at that moment is the user's one-line reason, like one that fills during the job.
            raise OperationError(
                f"backup of {info.name} failed: {exc.strerror or exc}", hint="; ".join(problems) or "nothing was kept"
            ) from exc
        if problems and isinstance(exc, VmtuiError):
            raise type(exc)(exc.message, hint="; ".join(problems)) from exc
        raise
    backup = replace(backup, path=final)
    _forget_older_checkpoints(conn, info, checkpoint)
    removed = apply_keep(store, root, info.uuid, keep, progress=progress) if keep is not None else ()
    return BackupDone(host or conn.uri, backup, removed, time.time() - started)


def _finish(
    store: BackupStore,
    info: DomainInfo,
    disks: Sequence[DiskFile],
    targets: dict[str, str],
    plan: _Plan,
    backup_id: str,
    checkpoint: str,
    started: float,
    consistency: str,
    definition: str,
    folder: str,
) -> Backup:
    """Link an incremental's files to its parent's, and describe the files for the manifest."""
    if plan.parent is not None:
        for disk in disks:  # before the checksums: the link is part of the file
            link = posixpath.join("..", plan.parent.id, f"{disk.target}.qcow2")
            store.link_to_parent(targets[disk.target], link)
    sums = store.sha256_many([targets[d.target] for d in disks])
    out = [
        BackupDisk(
            disk.target,
            disk.source or "",
            posixpath.basename(targets[disk.target]),
            store.allocated_bytes(targets[disk.target]),
            sums[targets[disk.target]],
        )
        for disk in disks
    ]
    return Backup(
        id=backup_id,
        domain=info.name,
        uuid=info.uuid,
        kind=plan.kind,
        parent=plan.parent.id if plan.parent else None,
        checkpoint=checkpoint,
        started=started,
        finished=time.time(),
        consistency=consistency,
        disks=tuple(out),
        path=folder,
        domain_xml=definition,
    )


def _forget_older_checkpoints(conn: BackupHost, info: DomainInfo, keep: str) -> None:
    """vmtui's checkpoints before the newest: no backup starts from them again, and each bitmap costs writes."""
    for name in conn.checkpoint_names(info.uuid):
        if name.startswith(CHECKPOINT_PREFIX) and name != keep:
            try:
                conn.delete_checkpoint(info.uuid, name)
            except VmtuiError as exc:
                log.warning("old checkpoint %s of %s left: %s", name, info.name, exc)


# ----- retention ----------------------------------------------------------------------------------


def apply_keep(
    store: BackupStore, root: str, domain: str, keep: int, *, progress: Progress = no_progress
) -> tuple[str, ...]:
    """Keep the newest `keep` restore points of the domain; older ones are merged away, oldest first.

    The oldest point is always a full backup. When the next point is an incremental on it, that
    incremental becomes a full backup: its chain is rebuilt into one file beside it and renamed over
    it, so the files that read through to it (same path) see the same disk; then the old full goes.
    Every point kept restores to exactly what it did before, at every moment of the merge.
    """
    removed: list[str] = []
    while True:
        mine = backups_of(store, root, domain)
        if len(mine) <= keep:
            return tuple(removed)
        oldest, after = mine[0], mine[1]
        if oldest.parent is not None:
            raise OperationError(
                f"--keep refused: the oldest backup of {oldest.domain}, {oldest.id}, is missing its parent"
                f" {oldest.parent}",
                hint="remove the broken chain by hand; nothing was changed",
            )
        if after.parent == oldest.id:
            progress(Step(f"merging {oldest.id} into {after.id} (keeping {keep})"))
            _merge_into(store, after)
        else:
            progress(Step(f"removing {oldest.id} (keeping {keep})"))
        store.remove_tree(oldest.path)
        removed.append(oldest.id)


def _merge_into(store: BackupStore, child: Backup) -> None:
    disks = []
    for disk in child.disks:
        path = posixpath.join(child.path, disk.file)
        store.rebuild(path, path)
        disks.append(replace(disk, size=store.allocated_bytes(path), sha256=store.sha256(path)))
    merged = replace(child, kind="full", parent=None, disks=tuple(disks))
    store.write_text(posixpath.join(child.path, "manifest.json"), manifest_text(merged))


# ----- restoring ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RestorePlan:
    backup: Backup
    chain: tuple[Backup, ...]
    name: str
    replaces: DomainInfo | None
    """The shut-off domain a same-name restore overwrites; None for a new domain."""
    disk_files: dict[str, str]
    """Guest target -> the file the restored disk is written to."""
    volumes: dict[str, tuple[str, str]]
    """Guest target -> (pool, volume) a new domain's disk is created as; empty for the same domain."""

    def question(self, host: str) -> str:
        if self.replaces is None:
            return f"Restore {self.backup.domain} from {self.backup.id} on {host} as a new domain {self.name}?"
        return (
            f"Restore {self.name} on {host} from backup {self.backup.id}? Its disks are overwritten with the"
            " backup's: what it wrote since is lost."
        )


@dataclass(frozen=True, slots=True)
class RestoreDone:
    host: str
    backup: Backup
    chain: tuple[str, ...]
    domain: DomainInfo
    disks: dict[str, str]

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "backup": self.backup.id,
            "chain": list(self.chain),
            "domain": self.domain.name,
            "uuid": self.domain.uuid,
            "state": self.domain.state,
            "disks": self.disks,
        }


def find_backup(store: BackupStore, root: str, domain: str, backup_id: str) -> tuple[Backup, list[Backup]]:
    mine = backups_of(store, root, domain)
    for b in mine:
        if b.id == backup_id:
            return b, mine
    if not mine:
        raise NotFoundError(f"no backups of {domain} in {root}", hint="see `vmtui backup list`")
    raise NotFoundError(
        f"{domain} has no backup {backup_id} in {root}", hint=f"its backups: {', '.join(b.id for b in mine)}"
    )


def plan_restore(
    conn: BackupHost,
    store: BackupStore,
    root: str,
    domain: str,
    backup_id: str,
    *,
    as_name: str | None,
    pool: str | None = None,
) -> RestorePlan:
    """What a restore would do, refused before any change when it cannot be done safely.

    A new domain's disks become qcow2 volumes of `pool`, or of the pool each backed-up disk was in."""
    from vmtui.drivers.xml.edit import check_domain_name

    backup, mine = find_backup(store, root, domain, backup_id)
    chain = chain_of(mine, backup)
    name = check_domain_name(as_name) if as_name is not None else backup.domain
    existing = conn.find_by_name(name)
    replaces = None
    if existing is not None:
        info = conn.domain(existing[0])
        if as_name is not None:
            raise OperationError(f"restore as {name} refused: a domain {name} exists", hint="choose another --as NAME")
        if info.state != "shut-off":
            raise OperationError(
                f"restore of {name} refused: it is {info.state}",
                hint="shut it off first, or restore beside it with --as NEW",
            )
        if pool is not None:
            raise UsageError(
                f"--pool {pool}: restoring {name} itself overwrites its disks where they are",
                hint="restore beside it with --as NEW to put the disks into a pool",
            )
        replaces = info
    disk_files = {}
    volumes = {}
    if replaces is not None:
        disk_files = {disk.target: disk.source for disk in backup.disks}
    else:
        pools = conn.list_pools()
        for disk in backup.disks:
            into = _restore_pool(pools, pool, disk, name)
            volume = f"{name}-{disk.target}.qcow2"
            path = posixpath.join(into.path, volume)
            if store.exists(path):
                raise OperationError(
                    f"restore as {name} refused: {path} exists (pool {into.name})", hint="choose another --as NAME"
                )
            disk_files[disk.target] = path
            volumes[disk.target] = (into.name, volume)
    return RestorePlan(backup, tuple(chain), name, replaces, disk_files, volumes)


def _pool_holding(pools: Sequence[PoolInfo], path: str) -> PoolInfo | None:
    """The active file pool whose directory holds `path` (libvirt lists only a directory's own files)."""
    folder = posixpath.normpath(posixpath.dirname(path)) if path else ""
    for each in pools:
        if each.active and each.pool_type in FILE_POOL_TYPES and each.path and posixpath.normpath(each.path) == folder:
            return each
    return None


def _restore_pool(pools: Sequence[PoolInfo], wanted: str | None, disk: BackupDisk, name: str) -> PoolInfo:
    """The pool a new domain's disk is restored into: `wanted` (--pool), else the backed-up disk's own."""
    if wanted is None:
        found = _pool_holding(pools, disk.source)
        if found is None:
            raise OperationError(
                f"restore as {name} refused: the disk {disk.target} was {disk.source}, in no active storage pool",
                hint="choose the pool for the restored disks with --pool NAME (see `vmtui pools`)",
            )
        return found
    chosen = next((p for p in pools if p.name == wanted), None)
    if chosen is None:
        raise NotFoundError(f"restore as {name} refused: no storage pool {wanted!r}", hint="see `vmtui pools`")
    if not chosen.active:
        raise OperationError(f"restore as {name} refused: pool {wanted} is {chosen.state}", hint="start it first")
    if chosen.pool_type not in FILE_POOL_TYPES or not chosen.path:
        raise OperationError(
            f"restore as {name} refused: pool {wanted} is a {chosen.pool_type} pool; restored disks are qcow2 files",
            hint="choose a directory pool with --pool NAME",
        )
    return chosen


def restore(
    conn: BackupHost,
    store: BackupStore,
    plan: RestorePlan,
    *,
    host: str = "",
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> RestoreDone:
    """Check the chain's files against their manifests, rebuild each disk into one qcow2, define the domain."""
    cancel = cancel or never_cancelled()
    conn.require_writable("restore")
    from vmtui.drivers.xml.backup import restored_domain_xml

    expected = {posixpath.join(link.path, disk.file): disk.sha256 for link in plan.chain for disk in link.disks}
    progress(Step(f"checking {present.counted(len(expected), 'file', 'files')} of {len(plan.chain)} backup(s)"))
    missing = [path for path in expected if not store.exists(path)]
    found = store.sha256_many([path for path in expected if path not in missing])
    damaged = missing + [path for path, digest in found.items() if digest != expected[path]]
    if damaged:
        raise OperationError(
            f"restore of {plan.name} refused: {damaged[0]} is missing or does not match its manifest's checksum",
            hint="the backup is damaged; restore an older point",
        )
    if cancel.is_set():
        raise UserCancelledError(f"restore of {plan.name}: cancelled")
    made: list[tuple[str, str]] = []
    try:
        for disk in plan.backup.disks:
            dest = plan.disk_files[disk.target]
            top = posixpath.join(plan.backup.path, disk.file)
            progress(Step(f"rebuilding {disk.target} from {len(plan.chain)} backup(s) into {dest}"))
            if plan.replaces is None:
                pool, volume = plan.volumes[disk.target]
                conn.create_volume(pool, build_volume_xml(volume, store.virtual_size(top), "qcow2"))
                made.append((pool, volume))
                store.rebuild(top, dest, into_volume=True)
            else:
                store.rebuild(top, dest)
            if cancel.is_set():
                raise UserCancelledError(f"restore of {plan.name}: cancelled")
        if plan.replaces is not None:
            # The restored disks carry no bitmaps: libvirt's checkpoints of the old ones would lie.
            for name in conn.checkpoint_names(plan.replaces.uuid):
                conn.delete_checkpoint(plan.replaces.uuid, name, metadata_only=True)
        xml = restored_domain_xml(
            plan.backup.domain_xml, plan.disk_files, new_name=None if plan.replaces else plan.name
        )
        info = conn.define_xml(xml)
    except BaseException:
        for pool, volume in made:
            try:
                conn.delete_volume(pool, volume)
            except VmtuiError as exc:
                log.warning("restored volume %s of pool %s left: %s", volume, pool, exc)
        raise
    _refresh_pools(conn, plan)
    progress(Step(f"defined {info.name}"))
    return RestoreDone(host or conn.uri, plan.backup, tuple(b.id for b in plan.chain), info, plan.disk_files)


def _refresh_pools(conn: BackupHost, plan: RestorePlan) -> None:
    """Refresh the pools the restored disks are in: their sizes (and a replaced disk's) as written now."""
    pools = conn.list_pools()
    names = {held.name for path in plan.disk_files.values() if (held := _pool_holding(pools, path)) is not None}
    for name in sorted(names):
        try:
            conn.refresh_pool(name)
        except VmtuiError as exc:
            log.warning("refresh of pool %s after a restore: %s", name, exc)


# ----- for the TUI's domain screen ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GuestAndBackups:
    """What the domain screen reads off the loop every few seconds: the guest's facts and its backups."""

    facts: GuestFacts
    backups: tuple[Backup, ...]
    backups_note: str
    """Why no backups can be listed ("" when they could)."""


def guest_and_backups(conn: Hypervisor, uuid: str) -> GuestAndBackups:
    """The guest's facts (a failure is the answer's), and its backups in `default_root()` (a failure said)."""
    from vmtui.drivers.backupstore import backup_store
    from vmtui.drivers.resources import live

    facts = live(conn, "guest facts").guest_facts(uuid)
    try:
        found = tuple(backups_of(backup_store(conn.uri), default_root(), uuid))
    except VmtuiError as exc:
        return GuestAndBackups(facts, (), exc.message)
    return GuestAndBackups(facts, found, "")


def restore_as_new(
    conn: Hypervisor,
    backup: Backup,
    name: str,
    *,
    pool: str | None = None,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> RestoreDone:
    """Restore `backup` (from the folder it was listed in) as a new domain `name`, its disks in `pool`
    (None: the pool each backed-up disk was in), refused as the CLI's."""
    from vmtui.drivers.backupstore import backup_store

    host = live_host(conn)
    store = backup_store(host.uri)
    root = posixpath.dirname(posixpath.dirname(backup.path))
    plan = plan_restore(host, store, root, backup.uuid, backup.id, as_name=name, pool=pool)
    return restore(host, store, plan, progress=progress, cancel=cancel)
