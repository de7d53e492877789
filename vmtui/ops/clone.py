"""Templates and clones: mark a shut-off domain as a template, clone a domain fully or linked.

A full clone copies each disk volume through libvirt (virStorageVolCreateXMLFrom, in the source's
pool); a linked clone gets qcow2 overlays whose backing file is the source's volume, so it takes no
room until the guest writes. An overlay reads every block it has not written from its base: if the
base changed under it (the source booted and wrote), every linked clone would read a disk that never
existed. So `--linked` is refused on a domain that is not a template, and a template is never started
(`lifecycle.refusal`): the mark is what keeps the base unchanged.

A clone is made in steps (volumes one by one, its seed, then the definition); a failure or a cancel
(Ctrl-C) at any step removes what the earlier steps made, so nothing is left behind.

The cloud-init seed: a source's CD-ROM whose pool volume is an ISO labelled `cidata` (read through
libvirt's download stream, so a seed made by any tool and named anything is found, and an installer
ISO never is) is not shared like other CD-ROMs: cloud-init in the clone would see the source's
instance-id and hostname and not run again. The clone gets a seed of its own instead, built by the
create command's builder and uploaded by its upload step: a new instance-id, the hostname NEW (or
`--hostname`), the source seed's user-data (its `hostname` key set to the clone's) unless the
cloud-init options give user-data, and its network-config unless `--network-config` is given. With
cloud-init options, a source without a seed gets a seed CD-ROM added.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.imagefile import PVD_OFFSET, PVD_SIZE, is_seed_label
from vmtui.drivers.provision import Provisioner, provisioner
from vmtui.drivers.resources import VolumeInfo
from vmtui.drivers.xml.edit import check_domain_name
from vmtui.drivers.xml.parts import read_disks
from vmtui.drivers.xml.provision import ClonedDisk, build_overlay_xml, clone_domain_xml
from vmtui.drivers.xml.resources import FILE_POOL_TYPES, build_volume_xml
from vmtui.errors import NotFoundError, OperationError, UsageError, VmtuiError
from vmtui.models import DiskFile, DomainInfo
from vmtui.ops import lifecycle
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.busy import refuse_if_migrating
from vmtui.ops.create import VolumeStep, seed_step, upload_seed
from vmtui.ops.seed import (
    SeedParts,
    SeedSpec,
    hostname_for,
    new_instance_id,
    read_seed,
    rehost_user_data,
    user_data_from_flags,
)
from vmtui.ops.storage import still_needed, validate_volume_name
from vmtui.present import size

log = logging.getLogger("vmtui.ops.clone")


# ----- the template mark ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TemplateMarked:
    host: str
    domain: DomainInfo
    changed: bool
    """False when the domain was already marked (or unmarked) as asked."""

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "domain": self.domain.name,
            "uuid": self.domain.uuid,
            "template": self.domain.template,
            "changed": self.changed,
        }


def mark_template(
    conn: Hypervisor,
    ident: str,
    *,
    on: bool = True,
    host: str = "",
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> TemplateMarked:
    """Mark a shut-off, defined domain as a template (`on`), or clear the mark; refused while it runs."""
    conn.require_writable("template")
    prov = provisioner(conn, "template")
    info = conn.domain(ident)
    refuse_if_migrating(conn, info.uuid, "template", name=info.name)
    if not info.persistent:
        raise OperationError(f"{info.name} is transient: it has no definition to mark as a template")
    if on and info.state != "shut-off":
        raise OperationError(
            f"{info.name} is {info.state}: only a shut-off domain becomes a template",
            hint=f"shut it down first (vmtui shutdown {info.name})",
        )
    if info.template == on:
        return TemplateMarked(host or conn.uri, info, changed=False)
    if not on:
        _refuse_unmark_under_clones(prov, info)
    check_cancel(cancel or never_cancelled(), f"template {info.name}")
    progress(Step(f"{'marking' if on else 'unmarking'} {info.name} as a template"))
    return TemplateMarked(host or conn.uri, prov.set_template(info.uuid, on), changed=True)


def _refuse_unmark_under_clones(prov: Provisioner, info: DomainInfo) -> None:
    """The mark is what keeps a base unchanged: it stays while linked clones read from its volumes."""
    paths = tuple(d.source or "" for d in prov.undefine_facts(info.uuid).volumes)
    clones = sorted({name for s in still_needed(prov, info.uuid, paths) for name in s.backing_of})
    if clones:
        raise OperationError(
            f"{info.name} is the base of linked clones {', '.join(clones)}: started, it would change their disks",
            hint="delete the linked clones first (vmtui delete NAME --storage)",
        )


# ----- clones --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiskCopy:
    """One disk of the source and the volume the clone gets for it."""

    target: str
    source: VolumeInfo
    volume: str
    """The new volume's name, in the source's pool ("NEW-vda.qcow2")."""
    linked: bool

    @property
    def format(self) -> str:
        return "qcow2" if self.linked else (self.source.format or "raw")


MAX_SEED = 64 * 1024 * 1024
"""A source seed larger than this is no seed vmtui reads back (user-data is at most 16 MiB)."""


@dataclass(frozen=True, slots=True)
class CloneSeed:
    """The clone's own cloud-init seed volume, built at planning (so bad options fail before anything)."""

    spec: SeedSpec
    step: VolumeStep
    """create's seed step: the ISO's bytes and the volume's name ("NEW-seed.iso")."""
    pool: str
    target: str | None
    """The source's seed CD-ROM the new seed replaces; None: the source had none, a CD-ROM is added."""
    replaces: str | None
    """The source seed's path (it stays the source's, unchanged)."""
    user_data_from: str
    """"source" (the source seed's, kept), "options" (the cloud-init options) or "hostname" (written)."""

    def to_json(self) -> dict[str, object]:
        return {
            "pool": self.pool,
            "volume": self.step.name,
            "instance_id": self.spec.instance_id,
            "hostname": self.spec.hostname,
            "replaces": self.replaces,
            "user_data": self.user_data_from,
        }


@dataclass(frozen=True, slots=True)
class ClonePlan:
    host: str
    source: DomainInfo
    name: str
    linked: bool
    copies: tuple[DiskCopy, ...]
    shared: tuple[DiskFile, ...]
    """Disks the clone uses as they are: CD-ROMs, floppies, read-only disks (an installer ISO); never
    the source's cloud-init seed (see `seed`)."""
    source_xml: str = field(repr=False, default="")
    seed: CloneSeed | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "source": self.source.name,
            "name": self.name,
            "linked": self.linked,
            "volumes": [
                {"target": c.target, "pool": c.source.pool, "volume": c.volume, "from": c.source.path}
                for c in self.copies
            ],
            "shared": [d.source for d in self.shared if d.source],
            "seed": self.seed.to_json() if self.seed is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Cloned:
    host: str
    source: str
    domain: DomainInfo
    linked: bool
    volumes: tuple[VolumeInfo, ...]
    shared: tuple[str, ...]
    started: bool
    seed: CloneSeed | None = None
    seed_volume: VolumeInfo | None = None

    @property
    def macs(self) -> tuple[str, ...]:
        return tuple(d.mac for d in self.domain.devices if d.kind == "nic" and d.mac)

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "source": self.source,
            "domain": self.domain.name,
            "uuid": self.domain.uuid,
            "linked": self.linked,
            "macs": list(self.macs),
            "volumes": [
                {"pool": v.pool, "name": v.name, "path": v.path, "format": v.format, "backing": v.backing or None}
                for v in self.volumes
            ],
            "shared": list(self.shared),
            "seed": None
            if self.seed is None
            else {**self.seed.to_json(), "path": self.seed_volume.path if self.seed_volume else None},
            "started": self.started,
            "state": self.domain.state,
        }


def volume_name(clone: str, target: str, fmt: str) -> str:
    """The clone's volume for disk `target`: "web1-vda.qcow2" (".img" for raw, as virt-manager names it)."""
    return validate_volume_name(f"{clone}-{target}.{'img' if fmt == 'raw' else fmt}")


def _volume_of(prov: Provisioner, disk: DiskFile) -> VolumeInfo | None:
    """The pool volume behind a disk, or None when no pool of the host holds it."""
    if disk.source_type == "volume":
        pool, _, vol = (disk.source or "").partition("/")
        try:
            return prov.volume(pool, vol)
        except NotFoundError:
            return None
    if disk.source_type == "file" and disk.source:
        return prov.volume_at(disk.source)
    return None


def _source_volume(prov: Provisioner, disk: DiskFile, name: str) -> VolumeInfo:
    found = _volume_of(prov, disk)
    if found is None:
        raise OperationError(
            f"clone {name}: disk {disk.target} ({disk.source}) is in no storage pool of this host",
            hint="vmtui clones disks through libvirt's pools: define a pool for its directory (virsh pool-define-as)",
        )
    return found


def _check_linked_base(prov: Provisioner, vol: VolumeInfo, name: str, target: str) -> None:
    if vol.format not in ("raw", "qcow2"):
        raise OperationError(
            f"clone {name}: disk {target} is {vol.format or 'of no known format'}; a base is raw or qcow2"
        )
    pool = prov.pool(vol.pool)
    if pool.pool_type not in FILE_POOL_TYPES:
        raise OperationError(
            f"clone {name}: pool {vol.pool} is of type {pool.pool_type}, where volumes hold no qcow2 overlay",
            hint="make a full clone (without --linked)",
        )


def _source_seed(prov: Provisioner, shared: list[DiskFile]) -> tuple[DiskFile, VolumeInfo] | None:
    """The source's NoCloud seed: a CD-ROM whose pool volume's ISO label is `cidata` (its first bytes
    read through libvirt's stream). A label, not a name: a seed made by cloud-localds or renamed is
    one, and an installer ISO that happens to be called "x-seed.iso" is not."""
    for disk in shared:
        if disk.device != "cdrom" or not disk.source:
            continue
        vol = _volume_of(prov, disk)
        if vol is None or vol.capacity < PVD_OFFSET + PVD_SIZE:
            continue
        if is_seed_label(prov.download_volume(vol.pool, vol.name, PVD_OFFSET, PVD_SIZE)):
            return disk, vol
    return None


def _plan_seed(
    prov: Provisioner, name: str, shared: list[DiskFile], copies: list[DiskCopy], options: SeedParts | None
) -> CloneSeed | None:
    """The clone's seed (see the module docstring); None when the source has none and no option asks."""
    found = _source_seed(prov, shared)
    if found is None and options is None:
        return None
    hostname = options.hostname if options is not None else hostname_for(name)
    network = options.network_config if options is not None else None
    user_data = options.user_data if options is not None else None
    source = "options" if user_data is not None else "hostname"
    if found is not None:
        disk, vol = found
        if vol.capacity > MAX_SEED:
            raise OperationError(
                f"clone {name}: the source's seed {vol.path} is {size(vol.capacity)}, too large for a seed to read back"
            )
        old = read_seed(prov.download_volume(vol.pool, vol.name, 0, vol.capacity), vol.path)
        if user_data is None and old.user_data is not None:
            user_data, source = rehost_user_data(old.user_data, hostname), "source"
        network = network if network is not None else old.network_config
    if user_data is None:
        user_data = user_data_from_flags(hostname=hostname)
    spec = SeedSpec(new_instance_id(), hostname, user_data, network)
    # The seed goes where the source's is, else beside the clone's first disk.
    pool = found[1].pool if found else (copies[0].source.pool if copies else "default")
    return CloneSeed(
        spec,
        seed_step(name, spec),
        pool,
        found[0].target if found else None,
        found[1].path if found else None,
        source,
    )


def _check_room(prov: Provisioner, copies: tuple[DiskCopy, ...], name: str, seed: CloneSeed | None) -> None:
    """A full clone needs the sources' allocation free in their pools, and a seed its bytes: asked
    before anything is made."""
    need: dict[str, int] = {}
    for c in copies:
        if not c.linked:
            need[c.source.pool] = need.get(c.source.pool, 0) + c.source.allocation
    if seed is not None:
        need[seed.pool] = need.get(seed.pool, 0) + seed.step.takes
    for pool, wanted in need.items():
        free = prov.pool(pool).available
        if wanted > free:
            raise OperationError(
                f"clone {name}: pool {pool} has {size(free)} free, and copying the disks needs {size(wanted)}",
                hint="free room in the pool, or make a linked clone of a template (--linked)",
            )


def linked_refusal(source: DomainInfo) -> OperationError | None:
    """Why `source` cannot be the base of linked clones (it is no template), or None: the TUI's clone
    form says it in place, before anything is asked of the host."""
    if source.template:
        return None
    return OperationError(
        f"clone {source.name} --linked: it is not a template; linked clones need a base that never changes",
        hint=f"mark it first (vmtui template {source.name}), or make a full clone",
    )


def plan_clone(
    conn: Hypervisor,
    source: str,
    name: str,
    *,
    linked: bool = False,
    host: str = "",
    cloud_init: SeedParts | None = None,
) -> ClonePlan:
    """Check everything a clone needs, before anything is made: refused with a one-line reason.

    `cloud_init`: the cloud-init options, read and checked already (`seed.read_cloud_init`).
    """
    conn.require_writable("clone")
    check_domain_name(name)
    prov = provisioner(conn, "clone")
    info = conn.domain(source)
    try:
        taken = conn.domain(name)
    except NotFoundError:
        taken = None
    if taken is not None:
        raise UsageError(f"clone {name}: a domain named {taken.name} exists on {host or conn.uri} already")
    refuse_if_migrating(conn, info.uuid, "clone", name=info.name)
    if info.state != "shut-off":
        raise OperationError(
            f"clone {info.name}: it is {info.state}; the source must be shut off (its disks change while it runs)",
            hint=f"shut it down first (vmtui shutdown {info.name})",
        )
    if linked:
        refused = linked_refusal(info)
        if refused is not None:
            raise refused
    xml = conn.domain_xml(info.uuid, inactive=True)
    copies: list[DiskCopy] = []
    shared: list[DiskFile] = []
    for disk in read_disks(xml):
        if disk.device not in ("disk", "lun") or disk.readonly or not disk.source:
            shared.append(disk)
            continue
        vol = _source_volume(prov, disk, name)
        if linked:
            _check_linked_base(prov, vol, name, disk.target)
        copy = DiskCopy(disk.target, vol, "", linked)
        copies.append(DiskCopy(disk.target, vol, volume_name(name, disk.target, copy.format), linked))
    seed = _plan_seed(prov, name, shared, copies, cloud_init)
    if seed is not None and seed.target is not None:
        shared = [d for d in shared if d.target != seed.target]
    new_volumes = [(c.source.pool, c.volume) for c in copies] + ([(seed.pool, seed.step.name)] if seed else [])
    for pool in {p for p, _ in new_volumes}:
        there = {v.name for v in prov.list_volumes(pool)}
        clash = sorted(v for p, v in new_volumes if p == pool and v in there)
        if clash:
            raise UsageError(
                f"clone {name}: pool {pool} has a volume {', '.join(clash)} already",
                hint="pick another name, or delete the old volume (vmtui vol-delete)",
            )
    _check_room(prov, tuple(copies), name, seed)
    return ClonePlan(host or conn.uri, info, name, linked, tuple(copies), tuple(shared), xml, seed)


def _make_volume(prov: Provisioner, copy: DiskCopy) -> VolumeInfo:
    src = copy.source
    if copy.linked:
        xml = build_overlay_xml(copy.volume, src.capacity, src.path, src.format or "raw")
        return prov.create_volume(src.pool, xml)
    return prov.copy_volume(src.pool, build_volume_xml(copy.volume, src.capacity, copy.format), src.path)


def _undo(conn: Hypervisor, prov: Provisioner, made: list[VolumeInfo], uuid: str | None) -> list[str]:
    """Remove what a clone made so far (its definition, its volumes); what could not be removed, said."""
    left: list[str] = []
    if uuid is not None:
        try:
            conn.undefine(uuid)
        except VmtuiError as exc:
            log.warning("clone rollback: undefine %s failed: %s", uuid, exc)
            left.append(f"domain {uuid}")
    for vol in reversed(made):
        try:
            prov.delete_volume(vol.pool, vol.name)
        except VmtuiError as exc:
            log.warning("clone rollback: delete %s failed: %s", vol.path, exc)
            left.append(vol.path)
    return left


def clone(
    conn: Hypervisor,
    plan: ClonePlan,
    *,
    start: bool = False,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> Cloned:
    """Make the clone `plan` describes (and start it); any failure or cancel before the end removes
    what was made. A start that fails after the clone was made leaves the clone, and says so."""
    conn.require_writable("clone")
    prov = provisioner(conn, "clone")
    stop = cancel or never_cancelled()
    made: list[VolumeInfo] = []
    uuid: str | None = None
    seed_volume: VolumeInfo | None = None
    before_define = len(plan.copies) + (1 if plan.seed else 0)
    steps = before_define + 1 + (1 if start else 0)
    try:
        for done, copy in enumerate(plan.copies):
            check_cancel(stop, f"clone {plan.name}")
            how = "overlay on" if copy.linked else "copying"
            progress(Step(f"{plan.name}: {copy.volume} ({how} {copy.source.name})", fraction=done / steps))
            made.append(_make_volume(prov, copy))
        disks = {
            v_copy.target: ClonedDisk(vol.path, vol.pool, vol.name, v_copy.format)
            for v_copy, vol in zip(plan.copies, made, strict=True)
        }
        added_cdrom: ClonedDisk | None = None
        if plan.seed is not None:
            check_cancel(stop, f"clone {plan.name}")
            seed = plan.seed
            says = f"{plan.name}: {seed.step.name} (cloud-init seed, hostname {seed.spec.hostname})"
            progress(Step(says, fraction=len(plan.copies) / steps))
            # The seed is a few KiB: its bytes need no bar of their own, but a cancel still stops it.
            seed_volume = upload_seed(
                prov, seed.pool, seed.step, progress=no_progress, cancel=stop, what=f"clone {plan.name}"
            )
            made.append(seed_volume)
            on_seed = ClonedDisk(seed_volume.path, seed_volume.pool, seed_volume.name, "raw")
            if seed.target is not None:
                disks[seed.target] = on_seed
            else:
                added_cdrom = on_seed
        check_cancel(stop, f"clone {plan.name}")
        progress(Step(f"defining {plan.name}", fraction=before_define / steps))
        info = conn.define_xml(clone_domain_xml(plan.source_xml, plan.name, disks, add_cdrom=added_cdrom))
        uuid = info.uuid
        check_cancel(stop, f"clone {plan.name}")
    except BaseException as exc:
        left = _undo(conn, prov, made, uuid)
        if left:
            what = "; left behind: " + ", ".join(left)
            if isinstance(exc, VmtuiError):
                raise type(exc)(exc.message + what, hint=exc.hint) from exc
        raise
    if start:
        progress(Step(f"starting {plan.name}", fraction=(steps - 1) / steps))
        try:
            info = lifecycle.run(conn, info.uuid, "start")
        except VmtuiError as exc:
            raise OperationError(
                f"{plan.name} is cloned, but it did not start: {exc.message}", hint=f"vmtui start {plan.name}"
            ) from exc
    return Cloned(
        plan.host,
        plan.source.name,
        info,
        plan.linked,
        tuple(v for v in made if v is not seed_volume),
        tuple(d.source for d in plan.shared if d.source),
        started=start,
        seed=plan.seed,
        seed_volume=seed_volume,
    )
