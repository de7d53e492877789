"""A host's answers to the calls the pre-checks and placement make, written down for a unit test.

The verdict rules (`ops.migrate_precheck`, `ops.place`) only read these answers; libvirt's test driver
cannot give them (no node memory, no host UUID, frozen CPU counters), so each test states the host it
means. Only the calls those modules make are here; `as_migrator` hands it over as the protocol type.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

from vmtui.drivers.base import Migrator
from vmtui.drivers.xml.migrate import MigrationXml
from vmtui.errors import OperationError
from vmtui.models import DomainPresence, HostInfo, JobStats

UUID = "6f1e0c7a-0000-4000-8000-000000000001"
NAME = "web"
"""The one domain these hosts are asked about: any other identity is a wrong question (LookupError)."""
DOMAIN_XML = "<domain type='kvm'><name>web</name><cpu mode='custom'><model>Skylake-Client</model></cpu></domain>"


def host_info(uuid: str = "", *, kvm: bool = True) -> HostInfo:
    return HostInfo(
        uri="qemu:///system", hostname="h", libvirt_version="10.0.0", hypervisor="QEMU", hypervisor_version="8.2.0",
        kernel=None, cpus=2, cpu_model="x86_64", memory_kib=8 * 1048576, kvm_usable=kvm, tdp=None, tdp_detail="",
        host_uuid=uuid,
    )  # fmt: skip


@dataclass
class RecordedHost:
    info: HostInfo = field(default_factory=host_info)
    uri: str = "test:///recorded"
    """Neither local nor SSH: a recorded host's disk files cannot be stat'ed, so the storage check's
    same-file comparison answers nothing and `visible` alone decides (as for a host whose files are unreadable)."""
    memory: dict[str, int] = field(default_factory=dict)
    cpu_readings: list[dict[str, int]] = field(default_factory=list)
    job: JobStats = field(default_factory=lambda: JobStats("none"))
    job_refusal: str | None = None
    """What the host says when asked for the job instead of answering (a target's libvirt: "migration
    statistics are available only on the source host"); None when it answers with `job`."""
    xml: str = DOMAIN_XML
    cpu_refusal: str | None = None
    """What `compare_cpu` answers: None when the CPU fits."""
    named: tuple[str, bool] | None = None
    """`find_by_name`: (uuid, active) of a domain of that name here."""
    there: DomainPresence | None = None
    visible: frozenset[str] = frozenset()
    """Disk paths this host can open."""
    read_only: bool = False
    asked_cpu: list[MigrationXml] = field(default_factory=list)
    probed: list[bool] = field(default_factory=list)
    """`probe=` of each `host_info` call (a probe costs an SSH round trip per file on a remote host)."""
    _cpu: Iterator[dict[str, int]] | None = None

    def host_info(self, *, probe: bool = True) -> HostInfo:
        self.probed.append(probe)
        return self.info

    def node_memory_kib(self) -> dict[str, int]:
        return dict(self.memory)

    def node_cpu_ns(self) -> dict[str, int]:
        if self._cpu is None:
            self._cpu = iter(self.cpu_readings)
        return next(self._cpu)

    def job_stats(self, ident: str, *, completed: bool = False) -> JobStats:
        if self.job_refusal is not None:
            raise OperationError(self.job_refusal)
        return self.job if _known(ident, UUID) else JobStats("none")

    def domain_xml(self, ident: str) -> str:
        _known(ident, UUID)
        return self.xml

    def compare_cpu(self, facts: MigrationXml) -> str | None:
        self.asked_cpu.append(facts)
        return self.cpu_refusal

    def find_by_name(self, name: str) -> tuple[str, bool] | None:
        return self.named if _known(name, NAME) else None

    def presence(self, uuid: str) -> DomainPresence:
        _known(uuid, UUID)
        return self.there or DomainPresence(uuid, False)

    def storage_visible(self, path: str) -> bool:
        return path in self.visible


def _known(ident: str, expected: str) -> bool:
    if ident != expected:
        raise LookupError(f"asked about {ident!r}, not {expected!r}")
    return True


def as_migrator(host: RecordedHost) -> Migrator:
    return cast(Migrator, host)
