"""The overhead explainer: why a VM costs what it costs, ranked, with evidence and the fix.

Pure: it reads a domain's XML facts (DomainInfo), its live metrics (DomainMetrics, may be None when
only one sample exists) and the host's facts (HostInfo). The CLI (`vmtui explain`) and the TUI's
domain screen both call `explain()`, so they can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from shlex import quote

from vmtui.metrics import DomainMetrics
from vmtui.models import Accelerator, DeviceClass, DomainInfo, HostInfo
from vmtui.present import count


class Severity(IntEnum):
    INFO = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4


@dataclass(frozen=True, slots=True)
class Finding:
    key: str
    """Stable identifier, e.g. `nic-emulated:52:54:00:..`, for scripts and tests."""
    severity: Severity
    title: str
    evidence: tuple[str, ...]
    fix: str
    weight: float = 0.0
    """How much the evidence says it costs (exits/s, CPU %): ranks findings of equal severity."""

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "severity": self.severity.name.lower(),
            "title": self.title,
            "evidence": list(self.evidence),
            "fix": self.fix,
        }


# Thresholds: chosen to flag what an operator would act on, not to grade healthy guests.
HIGH_EXIT_RATE = 5_000.0
HIGH_OVERHEAD_PCT = 10.0
HIGH_STEAL_PCT = 5.0
HIGH_SHADOW_ZAPS = 50.0
HIGH_DISK_LATENCY_MS = 20.0
HIGH_MAJOR_FAULTS = 50.0


def fmt(value: float | None, unit: str = "") -> str:
    """A figure in a finding's evidence: as `vmtui.present.count` prints it, "n/a" when unknown."""
    return "n/a" if value is None else count(value) + unit


def _io_exit_evidence(m: DomainMetrics | None) -> tuple[tuple[str, ...], float]:
    if m is None or not m.exits_by_reason:
        return ("no KVM exit counters (TCG guest, or only one sample)",), 0.0
    io = m.exits_by_reason.get("io", 0.0)
    mmio = m.exits_by_reason.get("mmio", 0.0)
    return (f"IO exits {fmt(io, '/s')}, MMIO exits {fmt(mmio, '/s')} (whole VM)",), io + mmio


TCG_HIGH_CPU_PCT = 50.0
TCG_MEDIUM_CPU_PCT = 10.0


def _tcg_severity(m: DomainMetrics | None) -> Severity:
    """Emulation costs in proportion to what the guest runs: an idle TCG guest costs little now."""
    cpu = m.cpu_pct if m is not None else None
    if cpu is None:
        return Severity.MEDIUM
    if cpu >= TCG_HIGH_CPU_PCT:
        return Severity.HIGH
    return Severity.MEDIUM if cpu >= TCG_MEDIUM_CPU_PCT else Severity.LOW


def _accelerator(info: DomainInfo, m: DomainMetrics | None, host: HostInfo | None) -> list[Finding]:
    if info.accelerator is not Accelerator.TCG:
        return []
    evidence = ["<domain type='qemu'>: QEMU's TCG translates every guest instruction"]
    if m is not None and m.cpu_pct is not None:
        evidence.append(f"CPU {fmt(m.cpu_pct, ' %')} of a core")
    severity = _tcg_severity(m)
    weight = (m.cpu_pct or 0.0) if m else 0.0
    if host is not None and host.kvm_usable and host.kvm_module == "kvm_pvm":
        # A fix the host cannot take is not offered: stock guest kernels hang under nested PVM.
        return [
            Finding(
                "accelerator-tcg",
                severity,
                "Software emulation (TCG): this host's KVM (nested kvm_pvm) cannot run it",
                (*evidence, f"host {host.hostname}: KVM is kvm_pvm, under which stock Linux kernels hang"),
                "nothing to change on this host; on a host with VT-x/AMD-V, <domain type='kvm'> removes this cost",
                weight=weight,
            )
        ]
    if host is not None and host.kvm_usable:
        return [
            Finding(
                "accelerator-tcg",
                severity,
                "Software emulation (TCG) although KVM is available on this host",
                (*evidence, f"host {host.hostname}: KVM usable"),
                "set <domain type='kvm'> (virsh edit, then restart the VM) for hardware-assisted virtualization",
                weight=weight,
            )
        ]
    return [
        Finding(
            "accelerator-tcg",
            severity,
            "Software emulation (TCG): this host offers no usable KVM",
            (*evidence, "host: KVM not usable"),
            "enable VT-x/AMD-V in firmware, load kvm_intel/kvm_amd and make /dev/kvm accessible to QEMU",
            weight=weight,
        )
    ]


def _devices(info: DomainInfo, m: DomainMetrics | None) -> list[Finding]:
    out = []
    evidence, exits = _io_exit_evidence(m)
    severity = Severity.HIGH if exits >= HIGH_EXIT_RATE else Severity.MEDIUM
    for dev in info.devices:
        if dev.dev_class is not DeviceClass.EMULATED:
            continue
        if dev.kind == "nic":
            out.append(
                Finding(
                    f"nic-emulated:{dev.name}",
                    severity,
                    f"NIC {dev.name} is {dev.model} (emulated): every packet costs VM exits",
                    (f"<model type='{dev.model}'/> ({dev.detail})", *evidence),
                    f"switch NIC {dev.name} to virtio: vmtui devices virtio {quote(info.name)} --nic "
                    f"{dev.mac or dev.name} (keys v, then t in the TUI; live when the guest releases the NIC, "
                    "else at the next boot); the guest needs virtio-net (Linux has it, Windows needs the virtio-win "
                    "drivers)",
                    weight=exits,
                )
            )
        elif dev.kind in ("disk", "controller"):
            if dev.kind == "controller":
                fix = f"set controller {dev.name} to model virtio-scsi (persistent config, next boot)"
            elif dev.flavor in ("", "disk"):
                fix = (
                    f"move {dev.name} to virtio-blk: vmtui devices virtio {quote(info.name)} --disk {dev.name} "
                    "(persistent config: at the next boot, as /dev/vdX); the guest needs its virtio driver first"
                )
            else:
                # virtio-blk carries disks only: a CD-ROM or floppy stays where it is.
                fix = f"a {dev.flavor} stays on its bus; remove it when the guest does not need it"
            out.append(
                Finding(
                    f"disk-emulated:{dev.name}",
                    severity if dev.flavor in ("", "disk") else Severity.LOW,
                    f"Disk {dev.name} uses {dev.model} (emulated controller)",
                    (f"bus {dev.model} ({dev.detail})" if dev.detail else f"bus {dev.model}", *evidence),
                    fix,
                    weight=exits,
                )
            )
        elif dev.kind == "video":
            out.append(
                Finding(
                    f"video-emulated:{dev.name}",
                    Severity.LOW,
                    f"Emulated video adapter ({dev.model})",
                    (f"<video><model type='{dev.model}'/>",),
                    "use virtio video, or none for headless servers",
                )
            )
    return out


def _cpu(info: DomainInfo, m: DomainMetrics | None, host: HostInfo | None) -> list[Finding]:
    if m is None:
        return []
    out = []
    if m.overhead_pct is not None and m.overhead_pct >= HIGH_OVERHEAD_PCT:
        out.append(
            Finding(
                "overhead-high",
                Severity.MEDIUM,
                f"QEMU spends {fmt(m.overhead_pct, ' %')} of a core outside the vCPUs",
                (f"cpu.time grows {fmt(m.cpu_pct, ' %')}, vCPUs account for the rest", "emulator and IO threads"),
                "emulated devices and the QEMU main loop cost here: use virtio devices, and <iothreads> for busy disks",
                weight=m.overhead_pct,
            )
        )
    if m.steal_pct is not None and m.steal_pct >= HIGH_STEAL_PCT:
        out.append(
            Finding(
                "steal-high",
                Severity.MEDIUM,
                f"vCPUs wait {fmt(m.steal_pct, ' %')} of the time for a host CPU (steal)",
                tuple(f"vcpu{v.index}: steal {fmt(v.steal_pct, ' %')}" for v in m.vcpus),
                "the host is CPU-overcommitted: fewer vCPUs, pinning, or migrate to a host with room",
                weight=m.steal_pct,
            )
        )
    if m.exits_per_s is not None and m.exits_per_s >= HIGH_EXIT_RATE:
        top = sorted(m.exits_by_reason.items(), key=lambda kv: -kv[1])[:3]
        out.append(
            Finding(
                "exits-high",
                Severity.LOW,
                f"{fmt(m.exits_per_s, ' VM exits/s')}",
                tuple(f"{reason}: {fmt(v, '/s')}" for reason, v in top)
                + (f"instruction emulation {fmt(m.insn_emulation_per_s, '/s')}",),
                "halt exits are an idle guest and harmless; IO/MMIO exits point at emulated devices",
                weight=m.exits_per_s / 1000,
            )
        )
    shadow = m.mmu_per_s.get("mmu_shadow_zapped")
    if info.accelerator is Accelerator.KVM and host is not None and host.tdp is False:
        severity = Severity.MEDIUM if (shadow or 0) >= HIGH_SHADOW_ZAPS else Severity.LOW
        out.append(
            Finding(
                "no-tdp",
                severity,
                "No EPT/NPT: guest page tables are shadowed by the host (memory overhead)",
                (host.tdp_detail, f"shadow pages zapped {fmt(shadow, '/s')}"),
                "enable EPT/NPT (kvm_intel ept=1 / kvm_amd npt=1); huge pages cut the remaining MMU cost",
                weight=shadow or 0.0,
            )
        )
    return out


def _memory(info: DomainInfo, m: DomainMetrics | None) -> list[Finding]:
    out = []
    if info.balloon_model in (None, "none"):
        out.append(
            Finding(
                "balloon-missing",
                Severity.LOW,
                "No memory balloon: memory cannot be reclaimed while the VM runs",
                ("<memballoon model='none'/>" if info.balloon_model == "none" else "no <memballoon> device",),
                "add <memballoon model='virtio'><stats period='5'/></memballoon> (needs a restart)",
            )
        )
    elif info.balloon_period is None:
        out.append(
            Finding(
                "balloon-no-stats",
                Severity.LOW,
                "Balloon statistics period unset: guest memory figures never update",
                ("<memballoon> without <stats period=.../>",),
                f"virsh dommemstat {info.name} --period 5 --live --config",
            )
        )
    if m is not None and m.major_faults_per_s is not None and m.major_faults_per_s >= HIGH_MAJOR_FAULTS:
        out.append(
            Finding(
                "guest-swapping",
                Severity.MEDIUM,
                f"The guest pages from disk ({fmt(m.major_faults_per_s, ' major faults/s')})",
                (
                    f"balloon {fmt((m.balloon_current_kib or 0) / 1024, ' MiB')} of "
                    f"{fmt((m.balloon_max_kib or 0) / 1024, ' MiB')}",
                ),
                "inflate less: raise the balloon target (vmtui balloon) or give the VM more memory",
                weight=m.major_faults_per_s,
            )
        )
    if m is not None:
        for disk in m.disks:
            worst = max((v for v in (disk.read_latency_ms, disk.write_latency_ms) if v is not None), default=None)
            if worst is not None and worst >= HIGH_DISK_LATENCY_MS:
                out.append(
                    Finding(
                        f"disk-latency:{disk.name}",
                        Severity.MEDIUM,
                        f"Disk {disk.name}: {fmt(worst, ' ms')} per request",
                        (f"read {fmt(disk.read_latency_ms, ' ms')}, write {fmt(disk.write_latency_ms, ' ms')}",),
                        "check the host storage; cache='none' io='native' with virtio and an iothread helps",
                        weight=worst,
                    )
                )
    return out


def explain(info: DomainInfo, metrics: DomainMetrics | None, host: HostInfo | None) -> list[Finding]:
    """All findings for one domain, most costly first."""
    findings = [
        *_accelerator(info, metrics, host),
        *_devices(info, metrics),
        *_cpu(info, metrics, host),
        *_memory(info, metrics),
    ]
    return sorted(findings, key=lambda f: (-f.severity, -f.weight, f.key))
