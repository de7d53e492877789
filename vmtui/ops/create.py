"""`vmtui create NAME`: a new VM from a disk image, an installer ISO or a kernel, with a cloud-init seed.

Two halves. `plan_create` checks everything and decides everything without changing anything (what
`--dry-run` prints): the name is free on the target, the files are readable disk images (or ISOs),
the pool exists and has room for what will be uploaded or copied, the user-data is valid YAML, the
sizes have units. `create` then carries the plan out, one step at a time: each volume (uploaded
through libvirt's stream, copied by the host, an overlay, an empty disk, the seed), the definition,
the start. A failure or a cancel at any step undoes every step before it, newest first: no volume,
no seed and no domain is left behind.

A source is a file on this machine (uploaded, so a remote host needs nothing but libvirt) or a pool
volume written POOL/VOLUME (copied by the host, or with `linked` a qcow2 overlay on it). A path that
exists here is a file; a text of the form NAME/NAME that is no file here is a volume.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.imagefile import ImageFacts, inspect_boot_file, inspect_image, inspect_iso
from vmtui.drivers.provision import Provisioner, provisioner
from vmtui.drivers.resources import PoolInfo, VolumeInfo
from vmtui.drivers.xml.create import DiskPlan, DomainPlan, NicPlan, build_domain_xml
from vmtui.drivers.xml.edit import check_domain_name
from vmtui.drivers.xml.resources import FILE_POOL_TYPES, build_volume_xml
from vmtui.errors import NotFoundError, OperationError, UsageError, VmtuiError
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.seed import CloudInit as CloudInit  # re-exported: the faces fill in `ops.create.CloudInit`
from vmtui.ops.seed import (
    SeedSpec,
    build_seed,
    new_instance_id,
    read_cloud_init,
    user_data_from_flags,
)
from vmtui.ops.sizes import parse_size_kib
from vmtui.ops.storage import volume_capacity

log = logging.getLogger("vmtui.ops.create")

DEFAULT_MEMORY_KIB = 1024 * 1024
DEFAULT_VCPUS = 1
DEFAULT_INSTALL_DISK = 20 * 1024**3
"""An installer's empty disk without --disk or an osinfo figure (sparse: it takes space as it fills)."""
MAX_VCPUS = 4096
PROGRESS_EVERY_S = 0.2
"""At most this often an upload reports its bytes (a bar needs no more)."""


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """What the user asked for, as typed (sizes as text with units): the CLI's and a form's fields."""

    name: str
    image: str | None = None
    iso: str | None = None
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str = ""
    linked: bool = False
    memory: str | None = None
    vcpus: int | None = None
    disk: str | None = None
    pool: str = "default"
    network: str | None = None
    """NAME (a libvirt network), bridge=BR, user; None: the network `default` when it is active, else user."""
    os_variant: str | None = None
    accel: str | None = None
    """kvm or tcg; None: KVM where the host can use it, else TCG (said in the plan's notes)."""
    cloud_init: CloudInit = field(default_factory=CloudInit)
    start: bool = False


@dataclass(frozen=True, slots=True)
class VolumeStep:
    """One volume `create` makes, in order; `role` says what the domain uses it for."""

    action: str
    """upload (a file of this machine), copy (of a pool volume, by the host), overlay (qcow2 on a base
    volume), empty (a new sparse disk), seed (the cloud-init ISO, uploaded)."""
    role: str
    """disk, cdrom, kernel, initrd, seed."""
    name: str
    fmt: str
    capacity: int
    takes: int
    """Bytes of the pool it needs now (uploaded or copied); 0 for sparse new volumes and overlays."""
    source: str = ""
    """The local file, or POOL/VOLUME, it comes from."""
    local: Path | None = None
    data: bytes | None = None
    source_path: str = ""
    """A copy's source volume, by its path on the host."""
    backing: tuple[str, str] | None = None

    def xml(self) -> str:
        # Uploads land in a fresh raw file (zeros; a sparse stream's holes stay zero) and are read by
        # their real format: libvirt reads the format from the header when it rescans the volume.
        fmt = "raw" if self.action in ("upload", "seed") else self.fmt
        return build_volume_xml(self.name, self.capacity, fmt, backing=self.backing)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "role": self.role,
            "volume": self.name,
            "format": self.fmt,
            "capacity": self.capacity,
            "bytes": self.takes,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class CreatePlan:
    """Everything `create` will do, decided and checked; nothing made yet."""

    uri: str
    name: str
    pool: str
    volumes: tuple[VolumeStep, ...]
    domain: DomainPlan
    start: bool
    notes: tuple[str, ...] = ()
    """What was chosen for the user and why ("KVM is not usable on this host: TCG")."""
    seed: SeedSpec | None = None
    os_name: str | None = None

    @property
    def xml(self) -> str:
        return build_domain_xml(self.domain)

    @property
    def upload_bytes(self) -> int:
        return sum(v.takes for v in self.volumes if v.action in ("upload", "seed"))

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.uri,
            "name": self.name,
            "pool": self.pool,
            "accelerator": "kvm" if self.domain.domain_type == "kvm" else "tcg",
            "memory_kib": self.domain.memory_kib,
            "vcpus": self.domain.vcpus,
            "os": self.os_name,
            "volumes": [v.to_json() for v in self.volumes],
            "seed": None
            if self.seed is None
            else {"instance_id": self.seed.instance_id, "hostname": self.seed.hostname},
            "start": self.start,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class CreateResult:
    uri: str
    name: str
    uuid: str
    state: str
    volumes: tuple[VolumeInfo, ...]
    plan: CreatePlan

    def to_json(self) -> dict[str, Any]:
        return {
            **self.plan.to_json(),
            "uuid": self.uuid,
            "state": self.state,
            "volumes": [
                {**step.to_json(), "capacity": vol.capacity or step.capacity, "path": vol.path}
                for step, vol in zip(self.plan.volumes, self.volumes, strict=True)
            ],
        }


def plan_lines(plan: CreatePlan) -> list[tuple[str, str]]:
    """What `--dry-run` prints before the XML, one (line, kind) each: kind is "title", "note" or "".

    Both faces show these lines as they are (the TUI's confirmation, the CLI's dry run), each in its
    own style; names and paths in them are the user's and the host's, never markup.
    """
    from vmtui.present import size

    lines = [(f"plan for {plan.name} on {plan.uri} (dry run: nothing is made)", "title")]
    lines += [(f"  note: {note}", "note") for note in plan.notes]
    for v in plan.volumes:
        what = f"  {v.action} {v.role}: {v.name} ({v.fmt}, {size(v.capacity)})"
        lines.append((what + (f" from {v.source}" if v.source else "") + f" in pool {plan.pool}", ""))
    if plan.seed is not None:
        lines.append((f"  cloud-init: hostname {plan.seed.hostname}, instance-id {plan.seed.instance_id}", ""))
    lines.append(("  then start it" if plan.start else "  not started (add --start)", ""))
    return lines


# ----- the request, checked on this machine (no host needed) -----------------------------------------


def _local_or_volume(text: str) -> tuple[Path | None, tuple[str, str] | None]:
    """A source as a local file or a (pool, volume): see the module docstring."""
    path = Path(text)
    if path.exists() or text.startswith(("/", ".")) or text.count("/") != 1:
        return path, None
    pool, volume = text.split("/")
    if not pool or not volume:
        return path, None
    return None, (pool, volume)


@dataclass(frozen=True, slots=True)
class LocalFacts:
    """What `check_request` found on this machine."""

    image: ImageFacts | None
    iso: ImageFacts | None
    kernel: ImageFacts | None
    initrd: ImageFacts | None
    memory_kib: int | None
    disk_bytes: int | None
    seed: SeedSpec | None


def _seed_of(req: CreateRequest) -> SeedSpec | None:
    if not req.cloud_init.given:
        return None
    parts = read_cloud_init(req.cloud_init, req.name)
    user_data = parts.user_data or user_data_from_flags(hostname=parts.hostname)
    return SeedSpec(new_instance_id(), parts.hostname, user_data, parts.network_config)


def check_request(req: CreateRequest) -> LocalFacts:
    """Every check that needs no host: name, sizes, files, user-data. Raises the first problem."""
    check_domain_name(req.name)
    if req.image and req.iso:
        raise UsageError("--image and --iso both given", hint="an installer ISO makes an empty disk; give one")
    if not (req.image or req.iso or req.kernel):
        raise UsageError("nothing to create the VM from", hint="give --image FILE|POOL/VOLUME, --iso or --kernel")
    if req.initrd and not req.kernel:
        raise UsageError("--initrd needs --kernel")
    if req.cmdline and not req.kernel:
        raise UsageError("--cmdline needs --kernel")
    if req.linked and not req.image:
        raise UsageError("--linked needs --image POOL/VOLUME (the base of the overlay)")
    if req.accel not in (None, "kvm", "tcg"):
        raise UsageError(f"--accel {req.accel!r}: kvm or tcg")
    if req.vcpus is not None and not 1 <= req.vcpus <= MAX_VCPUS:
        raise UsageError(f"--vcpus {req.vcpus}: from 1 to {MAX_VCPUS}")
    memory_kib = parse_size_kib(req.memory) if req.memory is not None else None
    if memory_kib is not None and memory_kib < 1024:
        raise UsageError(f"--memory {req.memory}: at least 1 MiB")
    disk_bytes = volume_capacity(req.disk) if req.disk is not None else None
    if disk_bytes is not None and req.image and not req.linked:
        raise UsageError("--disk with --image only sizes a --linked overlay", hint="vmtui disk resize grows it after")
    if req.network is not None:
        _nic_of(req.network)  # the form is checked here; the network itself on the host
    image = iso = None
    if req.image:
        path, _ = _local_or_volume(req.image)
        if path is not None:
            if req.linked:
                raise UsageError("--linked needs a base volume in a pool (POOL/VOLUME), not a file")
            image = inspect_image(path)
            if image.backing:
                raise UsageError(
                    f"--image {path} has a backing file ({image.backing}) that the host would not have",
                    hint="make it whole first: qemu-img convert -O qcow2 IN OUT",
                )
    if req.iso:
        path, _ = _local_or_volume(req.iso)
        iso = inspect_iso(path) if path is not None else None
    kernel = initrd = None
    if req.kernel:
        path, _ = _local_or_volume(req.kernel)
        kernel = inspect_boot_file(path, "--kernel") if path is not None else None
    if req.initrd:
        path, _ = _local_or_volume(req.initrd)
        initrd = inspect_boot_file(path, "--initrd") if path is not None else None
    if not req.cmdline.isprintable():
        raise UsageError("--cmdline must not hold control characters")
    return LocalFacts(image, iso, kernel, initrd, memory_kib, disk_bytes, _seed_of(req))


def _nic_of(text: str) -> NicPlan:
    if text == "user":
        return NicPlan("user")
    if text.startswith("bridge="):
        bridge = text.removeprefix("bridge=")
        if not bridge or not bridge.isprintable() or "/" in bridge:
            raise UsageError(f"--network {text!r}: bridge=NAME")
        return NicPlan("bridge", bridge)
    if not text or "=" in text or not text.isprintable():
        raise UsageError(f"--network {text!r}: a network NAME, bridge=BRIDGE or user")
    return NicPlan("network", text)


# ----- the plan, checked against the host (nothing changed) --------------------------------------------


def _upload_step(role: str, name: str, facts: ImageFacts) -> VolumeStep:
    return VolumeStep(
        "upload", role, name, facts.format, max(facts.file_size, 512), facts.file_size, str(facts.path), facts.path
    )


def _pool_volume(host: Provisioner, text: str, option: str) -> VolumeInfo:
    _, ref = _local_or_volume(text)
    assert ref is not None
    pool, name = ref
    try:
        return host.volume(pool, name)
    except NotFoundError as exc:
        raise NotFoundError(f"{option} {text}: {exc.message}", hint=exc.hint) from None


def _volume_steps(host: Provisioner, req: CreateRequest, local: LocalFacts, disk_bytes: int | None) -> list[VolumeStep]:
    name = req.name
    steps: list[VolumeStep] = []
    if req.image:
        if local.image is not None:
            steps.append(_upload_step("disk", f"{name}.{local.image.format}", local.image))
        else:
            base = _pool_volume(host, req.image, "--image")
            fmt = base.format if base.format in ("qcow2", "raw") else "raw"
            ref = f"{base.pool}/{base.name}"
            if req.linked:
                capacity = max(base.capacity, disk_bytes or 0)
                steps.append(
                    VolumeStep("overlay", "disk", f"{name}.qcow2", "qcow2", capacity, 0, ref, backing=(base.path, fmt))
                )
            else:
                steps.append(
                    VolumeStep(
                        "copy", "disk", f"{name}.{fmt}", fmt, base.capacity, base.allocation, ref,
                        source_path=base.path,
                    )
                )  # fmt: skip
    if req.iso:
        if local.iso is not None:
            steps.append(_upload_step("cdrom", f"{name}-install.iso", local.iso))
        else:
            iso = _pool_volume(host, req.iso, "--iso")
            steps.append(VolumeStep("existing", "cdrom", iso.name, "raw", iso.capacity, 0, f"{iso.pool}/{iso.name}"))
        if disk_bytes is not None:
            steps.append(VolumeStep("empty", "disk", f"{name}.qcow2", "qcow2", disk_bytes, 0))
    for role, text, facts in (("kernel", req.kernel, local.kernel), ("initrd", req.initrd, local.initrd)):
        if text is None:
            continue
        if facts is not None:
            steps.append(_upload_step(role, f"{name}-{role}", facts))
        else:
            vol = _pool_volume(host, text, f"--{role}")
            steps.append(VolumeStep("existing", role, vol.name, "raw", vol.capacity, 0, vol.path))
    if req.kernel and not req.image and disk_bytes is not None:
        steps.append(VolumeStep("empty", "disk", f"{name}.qcow2", "qcow2", disk_bytes, 0))
    if local.seed is not None:
        steps.append(seed_step(name, local.seed))
    return steps


def seed_step(vm: str, spec: SeedSpec) -> VolumeStep:
    """The seed volume of VM `vm` ("NAME-seed.iso"), built now: `vmtui create`'s and `vmtui clone`'s."""
    data = build_seed(spec)
    return VolumeStep("seed", "seed", f"{vm}-seed.iso", "raw", len(data), len(data), "cloud-init", data=data)


def _network(host: Provisioner, req: CreateRequest, notes: list[str]) -> NicPlan:
    if req.network is not None:
        nic = _nic_of(req.network)
        if nic.kind == "network":
            info = host.network(nic.source)  # NotFoundError names the network and the host
            if not info.active:
                raise OperationError(f"network {nic.source} on {host.uri} is not active", hint="start it first")
        return nic
    try:
        if host.network("default").active:
            return NicPlan("network", "default")
    except NotFoundError:
        pass
    notes.append("no active network 'default' on the host: user-mode networking (outbound only)")
    return NicPlan("user")


def plan_create(
    conn: Hypervisor, req: CreateRequest, *, dry_run: bool = False, checked: LocalFacts | None = None
) -> CreatePlan:
    """Check `req` on this machine and against the host, and decide every step; changes nothing.

    `dry_run` plans over a read-only connection too (the CLI opens one for it: nothing can change).
    `checked`: what `check_request(req)` returned, when the caller asked it before connecting.
    """
    local = checked or check_request(req)
    if not dry_run:
        conn.require_writable("create")
    host = provisioner(conn, "create")
    try:
        conn.domain(req.name)
    except NotFoundError:
        pass
    else:
        raise OperationError(f"domain {req.name} exists on {host.uri}", hint="pick another name")
    pool = host.pool(req.pool)  # NotFoundError: "no storage pool 'x' on URI"
    if not pool.active:
        raise OperationError(f"storage pool {req.pool} on {host.uri} is {pool.state}", hint="start it first")
    notes: list[str] = []
    os_variant = None
    if req.os_variant:
        from vmtui.drivers.xml.osinfo import OsDatabase

        os_variant = OsDatabase().variant(req.os_variant)
    info = conn.host_info(probe=False)
    domain_type = _domain_type(req.accel, info.kvm_usable, notes)
    memory_kib = local.memory_kib or (
        os_variant.memory_bytes // 1024 if os_variant and os_variant.memory_bytes else None
    )
    memory_kib = memory_kib or DEFAULT_MEMORY_KIB
    if memory_kib > info.memory_kib:
        raise OperationError(f"{memory_kib // 1024} MiB of memory asked; {host.uri} has {info.memory_kib // 1024} MiB")
    vcpus = req.vcpus or (os_variant.vcpus if os_variant and os_variant.vcpus else DEFAULT_VCPUS)
    disk_bytes = local.disk_bytes
    if req.iso and disk_bytes is None:
        disk_bytes = os_variant.disk_bytes if os_variant and os_variant.disk_bytes else DEFAULT_INSTALL_DISK
    steps = _volume_steps(host, req, local, disk_bytes)
    _check_room(host, pool, steps)
    nic = _network(host, req, notes)
    if os_variant is not None and not os_variant.virtio:
        notes.append(f"{os_variant.name} has no virtio drivers: SATA disks and an e1000e NIC")
    plan = CreatePlan(
        uri=host.uri,
        name=req.name,
        pool=req.pool,
        volumes=tuple(steps),
        domain=DomainPlan(
            name=req.name,
            memory_kib=memory_kib,
            vcpus=vcpus,
            domain_type=domain_type,
            disks=_disks(req.pool, steps),
            nic=nic,
            virtio=os_variant.virtio if os_variant is not None else True,
            boot=("cdrom", "hd") if req.iso else ("hd",),
            kernel=_boot_path(pool, steps, "kernel"),
            initrd=_boot_path(pool, steps, "initrd"),
            cmdline=req.cmdline,
            os_id=os_variant.os_id if os_variant is not None else None,
        ),
        start=req.start,
        notes=tuple(notes),
        seed=local.seed,
        os_name=os_variant.name if os_variant is not None else None,
    )
    build_domain_xml(plan.domain)  # refused here, before any change, if it cannot be built
    return plan


def _domain_type(accel: str | None, kvm_usable: bool, notes: list[str]) -> str:
    """libvirt's domain type: kvm, or qemu (TCG), from --accel and what the host can do."""
    if accel == "tcg":
        return "qemu"
    if accel == "kvm" and not kvm_usable:
        raise OperationError("--accel kvm: KVM is not usable on this host", hint="--accel tcg, or no --accel")
    if accel is None and not kvm_usable:
        notes.append("KVM is not usable on this host: TCG (emulated, several times slower)")
        return "qemu"
    return "kvm"


def _check_room(host: Provisioner, pool: PoolInfo, steps: list[VolumeStep]) -> None:
    taken = {v.name for v in host.list_volumes(pool.name)}
    for step in steps:
        if step.action != "existing" and step.name in taken:
            raise OperationError(
                f"volume {step.name} exists in pool {pool.name} on {host.uri}", hint="pick another name, or delete it"
            )
    need = sum(s.takes for s in steps if s.action != "existing")
    if need > pool.available:
        from vmtui.present import size

        raise OperationError(
            f"pool {pool.name} on {host.uri} has {size(pool.available)} free; the new volumes need {size(need)}",
            hint="free space in the pool or pick another with --pool",
        )


def _disks(pool: str, steps: list[VolumeStep]) -> tuple[DiskPlan, ...]:
    disks = []
    for role in ("disk", "cdrom", "seed"):
        for step in steps:
            if step.role == role:
                where = step.source.partition("/")[0] if step.action == "existing" else pool
                device = "disk" if role == "disk" else "cdrom"
                disks.append(DiskPlan(where, step.name, step.fmt if role == "disk" else "raw", device))
    return tuple(disks)


def _boot_path(pool: PoolInfo, steps: list[VolumeStep], role: str) -> str | None:
    """Where a kernel or initrd volume is (or will be) on the host: libvirt boots a path, not a volume."""
    for step in steps:
        if step.role == role:
            if step.action == "existing":
                return step.source
            if pool.pool_type not in FILE_POOL_TYPES:
                raise UsageError(f"--{role}: pool {pool.name} is of type {pool.pool_type}; a kernel needs a file pool")
            return f"{pool.path.rstrip('/')}/{step.name}"
    return None


# ----- carrying the plan out ----------------------------------------------------------------------------


class _Uploads:
    """Progress over every byte the plan uploads: one bar for the whole creation's transfers."""

    def __init__(self, total: int, progress: Progress, cancel: threading.Event, what: str) -> None:
        self.total = max(total, 1)
        self.before = 0
        self.progress = progress
        self.cancel = cancel
        self.what = what
        """The operation a cancel stops: "create web1"."""
        self.last = 0.0

    @property
    def fraction(self) -> float:
        return self.before / self.total

    def sender(self, step: VolumeStep) -> Any:
        from vmtui.present import size

        def sent(done: int) -> None:
            check_cancel(self.cancel, self.what)
            now = time.monotonic()
            if now - self.last < PROGRESS_EVERY_S and done < step.takes:
                return
            self.last = now
            self.progress(
                Step(
                    f"uploading {step.name}: {size(done)} of {size(step.takes)}",
                    (self.before + done) / self.total,
                    {"type": "progress", "volume": step.name, "bytes": done, "of": step.takes},
                )
            )

        return sent


def _make_volume(host: Provisioner, pool: str, step: VolumeStep, uploads: _Uploads) -> VolumeInfo:
    if step.action == "upload":
        assert step.local is not None
        with step.local.open("rb") as f:
            vol = host.upload_volume(pool, step.xml(), f, step.takes, sent=uploads.sender(step))
        uploads.before += step.takes
        return vol
    if step.action == "seed":
        import io

        assert step.data is not None
        vol = host.upload_volume(pool, step.xml(), io.BytesIO(step.data), step.takes, sent=uploads.sender(step))
        uploads.before += step.takes
        return vol
    if step.action == "copy":
        return host.copy_volume(pool, step.xml(), step.source_path)
    if step.action in ("overlay", "empty"):
        return host.create_volume(pool, step.xml())
    raise AssertionError(step.action)


def upload_seed(
    host: Provisioner, pool: str, step: VolumeStep, *, progress: Progress, cancel: threading.Event, what: str
) -> VolumeInfo:
    """Upload a `seed_step` into `pool` through libvirt's stream, as `create` does; a cancel or failure
    mid-stream leaves no volume (`upload_volume` deletes it)."""
    return _make_volume(host, pool, step, _Uploads(step.takes, progress, cancel, what))


_SAYS = {
    "upload": "uploading {source} as {name}",
    "seed": "uploading the cloud-init seed as {name}",
    "copy": "copying {source} to {name} on the host",
    "overlay": "creating {name}, a qcow2 overlay on {source}",
    "empty": "creating an empty disk {name}",
}


def create(
    conn: Hypervisor,
    plan: CreatePlan,
    *,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> CreateResult:
    """Make what `plan` says; on a failure or a cancel, remove everything made so far and re-raise."""
    cancel = cancel or never_cancelled()
    host = provisioner(conn, "create")
    uploads = _Uploads(plan.upload_bytes, progress, cancel, f"create {plan.name}")
    made: list[VolumeInfo] = []
    defined = False
    domain = plan.domain
    try:
        for step in plan.volumes:
            check_cancel(cancel, f"create {plan.name}")
            if step.action == "existing":
                made.append(_as_is(step))
                continue
            progress(Step(_SAYS[step.action].format(source=step.source, name=step.name), uploads.fraction))
            vol = _make_volume(host, plan.pool, step, uploads)
            made.append(vol)
            if step.role == "kernel":
                domain = replace(domain, kernel=vol.path)
            elif step.role == "initrd":
                domain = replace(domain, initrd=vol.path)
        check_cancel(cancel, f"create {plan.name}")
        progress(Step(f"defining {plan.name}", uploads.fraction))
        info = host.define_xml(build_domain_xml(domain))
        defined = True
        if plan.start:
            check_cancel(cancel, f"create {plan.name}")
            progress(Step(f"starting {plan.name}", uploads.fraction))
            info = host.lifecycle(plan.name, "start") or info
    except BaseException as exc:
        _undo(host, plan, made, defined, exc)
        raise
    return CreateResult(host.uri, plan.name, info.uuid, info.state, tuple(made), plan)


def _as_is(step: VolumeStep) -> VolumeInfo:
    """An existing volume the domain only uses (a kernel by path): nothing made, nothing to undo."""
    return VolumeInfo("", step.name, step.source, "", "file", step.fmt, step.capacity, 0)


def _undo(host: Provisioner, plan: CreatePlan, made: list[VolumeInfo], defined: bool, cause: BaseException) -> None:
    """Remove what `create` made before `cause`, newest first; a step that fails is logged and named
    in the error's hint (the cause stays the error the user sees)."""
    left: list[str] = []
    if defined:
        try:
            host.remove_domain(plan.name)
        except VmtuiError as exc:
            log.warning("rollback: %s", exc)
            left.append(f"domain {plan.name}")
    for step, vol in reversed(list(zip(plan.volumes, made, strict=False))):
        if step.action == "existing":
            continue
        try:
            host.delete_volume(plan.pool, vol.name)
        except VmtuiError as exc:
            log.warning("rollback: could not delete volume %s: %s", vol.name, exc)
            left.append(f"volume {vol.name}")
    log.info("create %s undone after: %s", plan.name, cause)
    if left and isinstance(cause, VmtuiError):
        cause.hint = f"left behind: {', '.join(left)}" + (f"; {cause.hint}" if cause.hint else "")
