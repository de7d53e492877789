"""Pre-checks before a migration starts: each one says ok, warn or fail, and why, in libvirt's own words.

All of them run (a user fixes everything at once rather than one refusal per attempt); only the
connection to the target must exist for its checks to run. Nothing here changes a host.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from vmtui.drivers.base import Migrator
from vmtui.drivers.hostfiles import host_files
from vmtui.drivers.xml.migrate import read_migration_xml
from vmtui.errors import VmtuiError
from vmtui.models import DeviceClass, DomainInfo

log = logging.getLogger("vmtui.ops.migrate")

MIGRATABLE_STATES = ("running", "blocked", "paused")
MEMORY_MARGIN_KIB = 64 * 1024
"""Room for QEMU's own overhead on the target, beyond the guest's memory."""


@dataclass(frozen=True, slots=True)
class Check:
    key: str
    """reachable, same-host, state, job, hostdev, cpu, memory, name, storage."""
    label: str
    status: str
    """ok, warn, fail, or skipped (could not be checked: the target is unreachable)."""
    reason: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PrecheckReport:
    domain: str
    uuid: str
    source: str
    target: str
    checks: tuple[Check, ...]
    memory_needed_kib: int | None = None
    memory_available_kib: int | None = None

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def summary(self) -> str:
        """One line: what failed, or that all passed."""
        bad = self.failures
        if not bad:
            warns = [c for c in self.checks if c.status == "warn"]
            return "all pre-checks passed" + (f" ({len(warns)} warning{'s' * (len(warns) > 1)})" if warns else "")
        return "; ".join(f"{c.label}: {c.reason}" for c in bad)

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "uuid": self.uuid,
            "source": self.source,
            "target": self.target,
            "ok": self.ok,
            "checks": [c.to_json() for c in self.checks],
            "memory_needed_kib": self.memory_needed_kib,
            "memory_available_kib": self.memory_available_kib,
        }


LABELS = {
    "reachable": "target reachable",
    "same-host": "not the same host",
    "state": "domain can migrate live",
    "job": "no other job on it",
    "hostdev": "no passthrough host devices",
    "cpu": "CPU compatible",
    "memory": "enough free memory on the target",
    "name": "no name clash on the target",
    "storage": "storage reachable from the target",
}


def _check(key: str, status: str, reason: str) -> Check:
    return Check(key, LABELS[key], status, reason)


def unreachable(info: DomainInfo, source: str, target: str, error: VmtuiError) -> PrecheckReport:
    """The report when the target cannot be reached at all: that check fails, the target's are skipped."""
    checks = [_check("reachable", "fail", error.message)]
    checks += [_check(k, "skipped", "target unreachable") for k in LABELS if k != "reachable"]
    return PrecheckReport(info.name, info.uuid, source, target, tuple(checks))


def available_kib(memory: dict[str, int]) -> int | None:
    """Free memory a new guest can take: free plus page cache and buffers (the kernel gives those back)."""
    if "free" not in memory:
        return None
    return memory["free"] + memory.get("buffers", 0) + memory.get("cached", 0)


def precheck(
    src: Migrator, dst: Migrator, info: DomainInfo, *, source: str, target: str, copy_storage: bool = False
) -> PrecheckReport:
    """Every check of `info` (on `src`) moving to `dst`. Raises only when a host stops answering."""
    checks = [_check("reachable", "ok", f"connected to {target}")]
    src_host, dst_host = src.host_info(probe=False), dst.host_info(probe=False)
    if src_host.host_uuid and src_host.host_uuid == dst_host.host_uuid:
        checks.append(_check("same-host", "fail", f"both are host {dst_host.host_uuid} (libvirt's host UUID)"))
    else:
        checks.append(_check("same-host", "ok", f"target host UUID {dst_host.host_uuid or '?'}"))

    if info.state in MIGRATABLE_STATES:
        checks.append(_check("state", "ok", f"it is {info.state}"))
    else:
        checks.append(_check("state", "fail", f"it is {info.state}: live migration moves a running domain"))

    job = src.job_stats(info.uuid) if info.state in MIGRATABLE_STATES else None
    if job is not None and job.active:
        elapsed = f", for {job.elapsed_ms / 1000:.0f} s" if job.elapsed_ms else ""
        checks.append(
            _check(
                "job",
                "fail",
                f"a {job.operation} job is running on it{elapsed}: `vmtui migrate attach` watches it, "
                "`vmtui migrate abort` stops it",
            )
        )
    else:
        checks.append(_check("job", "ok", "none running"))

    passthrough = [d for d in info.devices if d.dev_class is DeviceClass.PASSTHROUGH]
    if passthrough:
        names = ", ".join(f"{d.kind} {d.name} ({d.detail or d.model})" for d in passthrough)
        checks.append(
            _check(
                "hostdev",
                "fail",
                f"{names} passed through from the source host; detach it first "
                "(for an SR-IOV VF: use macvtap or a virtio NIC with failover)",
            )
        )
    else:
        checks.append(_check("hostdev", "ok", "none attached"))

    facts = read_migration_xml(src.domain_xml(info.uuid))
    if info.state not in MIGRATABLE_STATES:
        # Only a running domain's live XML says which CPU it really got; a definition's may not apply.
        checks.append(_check("cpu", "skipped", f"it is {info.state}"))
    elif facts.virt_type == "kvm" and not dst_host.kvm_usable:
        checks.append(_check("cpu", "fail", f"the domain uses KVM and {target} cannot run KVM guests"))
    elif facts.cpu_mode == "host-passthrough":
        checks.append(
            _check("cpu", "warn", "host-passthrough CPU: libvirt cannot compare it; only identical hosts work")
        )
    elif dst.read_only:
        checks.append(_check("cpu", "skipped", f"libvirt compares CPUs only on a writable connection to {target}"))
    else:
        why = dst.compare_cpu(facts)
        if why is None:
            model = "its CPU definition" if facts.cpu_xml else "the machine type's default CPU"
            checks.append(_check("cpu", "ok", f"{target} can run {model} ({facts.virt_type or '?'})"))
        else:
            checks.append(_check("cpu", "fail", why))

    needed = info.memory_kib + MEMORY_MARGIN_KIB
    have = available_kib(dst.node_memory_kib())
    if have is None:
        checks.append(_check("memory", "warn", "the target does not report its free memory"))
    elif have < needed:
        checks.append(
            _check("memory", "fail", f"needs {needed // 1024} MiB (guest + QEMU), {have // 1024} MiB available")
        )
    else:
        checks.append(_check("memory", "ok", f"needs {needed // 1024} MiB, {have // 1024} MiB available"))

    checks.append(_name_check(dst, info, target))

    checks.append(_storage_check(src, dst, facts.disks, facts.network_disks, copy_storage))
    return PrecheckReport(info.name, info.uuid, source, target, tuple(checks), needed, have)


def _name_check(dst: Migrator, info: DomainInfo, target: str) -> Check:
    same_name = dst.find_by_name(info.name)
    if same_name is not None and same_name[0].lower() != info.uuid.lower():
        return _check("name", "fail", f"{target} has another domain called {info.name} (UUID {same_name[0]})")
    there = dst.presence(info.uuid)
    if there.active:
        return _check("name", "fail", f"it is already {there.state} on {target}")
    if there.exists:
        return _check("name", "warn", f"{target} holds an inactive definition of it; the migration replaces it")
    return _check("name", "ok", f"no {info.name} on {target}")


def _storage_check(src: Migrator, dst: Migrator, disks: tuple[Any, ...], network: tuple[str, ...], copy: bool) -> Check:
    if not disks and not network:
        return _check("storage", "ok", "no disks")
    outside = [d for d in disks if not dst.storage_visible(d.path)]
    same = _same_files(src, dst, [d.path for d in outside]) if outside else set()
    local = [d for d in outside if d.path not in same]
    one_file = [d for d in outside if d.path in same]
    shared = [d.target for d in disks if d not in outside] + list(network)
    if one_file:
        names = ", ".join(f"{d.target} ({d.path})" for d in one_file)
        if copy:
            return _check(
                "storage",
                "fail",
                f"{names}: the target sees the same file (one filesystem, outside any storage pool): "
                "--copy-storage would copy it onto itself; without it, libvirt moves it only on a filesystem it "
                "calls shared (NFS, GlusterFS, Ceph...)",
            )
        if not local:
            return _check(
                "storage",
                "warn",
                f"{names}: the same file on both hosts, outside any storage pool: libvirt migrates it only on a "
                "filesystem it calls shared (NFS, GlusterFS, Ceph...)",
            )
    if not local:
        return _check("storage", "ok", f"shared: {', '.join(shared)}")
    names = ", ".join(f"{d.target} ({d.path})" for d in local)
    if copy:
        return _check("storage", "ok", f"copied during the migration: {names}")
    return _check(
        "storage",
        "fail",
        f"{names} not on storage the target shares: needs --copy-storage (the target must have room for it)",
    )


def _same_files(src: Migrator, dst: Migrator, paths: list[str]) -> set[str]:
    """Which of `paths` are one file for both hosts, asked of each host itself (its stat over SSH):
    libvirt knows only files in its pools, and two hosts on one filesystem (or one machine) see a disk
    that no pool holds as the same file. A host whose files cannot be read answers nothing."""

    def identities(conn: Migrator) -> dict[str, Any]:
        return host_files(getattr(conn, "requested_uri", "") or conn.uri).identities(paths)

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:  # one SSH round trip each, at once
            here, there = pool.map(identities, (src, dst))
    except VmtuiError as exc:
        log.info("disk files not compared between the hosts: %s", exc)
        return set()
    return {p for p in paths if here[p] is not None and there[p] is not None and here[p].same_file(there[p])}
