"""Every finding of the explainer on both sides of its threshold.

The base is a real KVM guest with virtio devices recorded on this machine, with quiet figures. Each
case moves one figure to just below the threshold a user reads in the README (no finding) and to
the threshold itself (the finding, with its severity). The thresholds are written here as numbers,
not imported from the code, so a changed threshold fails the test.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from vmtui.drivers.replay import Recording
from vmtui.explain import Finding, Severity, explain
from vmtui.metrics import DiskMetrics, DomainMetrics, VcpuMetrics, sample_metrics
from vmtui.models import Accelerator, Device, DeviceClass, DomainInfo, HostInfo

FIXTURE = Path(__file__).parent.parent / "fixtures" / "qemu-kvm-tcg-3guests.jsonl"


def _base() -> tuple[DomainInfo, DomainMetrics, HostInfo]:
    rec = Recording(FIXTURE)
    (host,) = rec.hosts
    s0, s1 = rec.samples[host][:2]
    info = next(d for d in rec.domains[host] if d.name == "rec-kvm-virtio")
    metrics = sample_metrics(s0, s1, host_cpus=2)[info.uuid]
    quiet = replace(
        metrics,
        cpu_pct=20.0,
        overhead_pct=1.0,
        steal_pct=0.0,
        exits_per_s=100.0,
        exits_by_reason={"hlt": 100.0},
        mmu_per_s={},
        major_faults_per_s=0.0,
        vcpus=(VcpuMetrics(0, 19.0, 0.0, 0.0, 100.0),),
        disks=(DiskMetrics("vda", 0.0, 0.0, 0.0, 0.0, 1.0, 1.0),),
    )
    # A host with EPT, so that only the case about shadow paging sees "no-tdp".
    return info, quiet, replace(rec.hosts[host], tdp=True, tdp_detail="EPT")


def _keys(findings: list[Finding]) -> dict[str, Severity]:
    return {f.key: f.severity for f in findings}


def test_the_quiet_base_has_no_findings() -> None:
    info, quiet, host = _base()
    assert explain(info, quiet, host) == []


METRIC_CASES: list[tuple[str, dict[str, Any], dict[str, Any], Severity]] = [
    # key, just below, at the threshold, severity at the threshold
    ("overhead-high", {"overhead_pct": 9.99}, {"overhead_pct": 10.0}, Severity.MEDIUM),
    ("steal-high", {"steal_pct": 4.99}, {"steal_pct": 5.0}, Severity.MEDIUM),
    ("exits-high", {"exits_per_s": 4999.0}, {"exits_per_s": 5000.0}, Severity.LOW),
    ("guest-swapping", {"major_faults_per_s": 49.9}, {"major_faults_per_s": 50.0}, Severity.MEDIUM),
    (
        "disk-latency:vda",
        {"disks": (DiskMetrics("vda", 0.0, 0.0, 1.0, 1.0, 19.9, 19.9),)},
        {"disks": (DiskMetrics("vda", 0.0, 0.0, 1.0, 1.0, 1.0, 20.0),)},  # the worse of read and write
        Severity.MEDIUM,
    ),
]


@pytest.mark.parametrize(("key", "below", "at", "severity"), METRIC_CASES, ids=[c[0] for c in METRIC_CASES])
def test_metric_findings_fire_at_their_threshold_and_not_below(
    key: str, below: dict[str, Any], at: dict[str, Any], severity: Severity
) -> None:
    info, quiet, host = _base()
    assert key not in _keys(explain(info, replace(quiet, **below), host))
    assert _keys(explain(info, replace(quiet, **at), host)) == {key: severity}


def test_disk_latency_reads_the_read_side_too() -> None:
    info, quiet, host = _base()
    slow_reads = replace(quiet, disks=(DiskMetrics("vda", 0.0, 0.0, 1.0, 1.0, 25.0, None),))
    (finding,) = explain(info, slow_reads, host)
    assert finding.title == "Disk vda: 25 ms per request"


def test_steal_is_evidenced_per_vcpu() -> None:
    info, quiet, host = _base()
    vcpus = (VcpuMetrics(0, 10.0, 2.0, 0.0, 10.0), VcpuMetrics(1, 10.0, 8.0, 0.0, 10.0))
    (finding,) = explain(info, replace(quiet, steal_pct=5.0, vcpus=vcpus), host)
    assert finding.evidence == ("vcpu0: steal 2.0 %", "vcpu1: steal 8.0 %")


def test_no_tdp_on_a_shadow_paging_host_and_its_severity_follows_the_zaps() -> None:
    info, quiet, host = _base()
    shadow = replace(host, tdp=False, tdp_detail="no EPT/NPT: kvm_pvm (software shadow paging)")
    assert "no-tdp" not in _keys(explain(info, quiet, host))  # EPT: nothing to say
    assert _keys(explain(info, replace(quiet, mmu_per_s={"mmu_shadow_zapped": 49.9}), shadow)) == {
        "no-tdp": Severity.LOW
    }
    assert _keys(explain(info, replace(quiet, mmu_per_s={"mmu_shadow_zapped": 50.0}), shadow)) == {
        "no-tdp": Severity.MEDIUM
    }
    # A TCG guest has no KVM MMU to shadow: its cost is the accelerator's finding, not this one.
    tcg = replace(info, accelerator=Accelerator.TCG)
    assert "no-tdp" not in _keys(explain(tcg, quiet, shadow))


@pytest.mark.parametrize(
    ("cpu_pct", "severity"),
    [
        (None, Severity.MEDIUM),
        (9.9, Severity.LOW),
        (10.0, Severity.MEDIUM),
        (49.9, Severity.MEDIUM),
        (50.0, Severity.HIGH),
    ],
)
def test_tcg_severity_follows_what_the_guest_runs(cpu_pct: float | None, severity: Severity) -> None:
    info, quiet, host = _base()
    tcg = replace(info, accelerator=Accelerator.TCG)
    metrics = replace(quiet, cpu_pct=cpu_pct)
    assert _keys(explain(tcg, metrics, host)) == {"accelerator-tcg": severity}
    assert "accelerator-tcg" not in _keys(explain(info, metrics, host))  # a KVM guest: no finding


def test_tcg_advice_follows_the_host() -> None:
    info, quiet, host = _base()
    tcg = replace(info, accelerator=Accelerator.TCG)
    (usable,) = explain(tcg, quiet, replace(host, kvm_usable=True, kvm_module="kvm_intel"))
    assert "<domain type='kvm'>" in usable.fix
    (missing,) = explain(tcg, quiet, replace(host, kvm_usable=False))
    assert missing.fix.startswith("enable VT-x/AMD-V")


def _with_devices(info: DomainInfo, *devices: Device) -> DomainInfo:
    return replace(info, devices=(*info.devices, *devices))


@pytest.mark.parametrize(
    ("io", "mmio", "severity"),
    [(2000.0, 2999.0, Severity.MEDIUM), (2000.0, 3000.0, Severity.HIGH)],  # IO + MMIO exits against 5 000/s
)
def test_an_emulated_nic_is_high_once_io_and_mmio_exits_reach_5000(io: float, mmio: float, severity: Severity) -> None:
    info, quiet, host = _base()
    nic = Device("nic", "52:54:00:00:00:01", "e1000", DeviceClass.EMULATED, mac="52:54:00:00:00:01")
    metrics = replace(quiet, exits_by_reason={"io": io, "mmio": mmio})
    assert _keys(explain(_with_devices(info, nic), metrics, host)) == {"nic-emulated:52:54:00:00:00:01": severity}


def test_emulated_disks_controllers_and_video_are_flagged_and_a_cdrom_is_low() -> None:
    info, quiet, host = _base()
    devices = (
        Device("disk", "hda", "ide", DeviceClass.EMULATED, bus="ide", flavor="disk"),
        Device("disk", "sda", "sata", DeviceClass.EMULATED, bus="sata", flavor="disk"),
        Device("disk", "hdc", "ide", DeviceClass.EMULATED, bus="ide", flavor="cdrom"),
        Device("controller", "scsi0", "lsilogic", DeviceClass.EMULATED),
        Device("video", "video0", "cirrus", DeviceClass.EMULATED),
        Device("disk", "vdb", "virtio", DeviceClass.PARAVIRTUAL, bus="virtio", flavor="disk"),
    )
    found = explain(_with_devices(info, *devices), quiet, host)
    assert _keys(found) == {
        "disk-emulated:hda": Severity.MEDIUM,
        "disk-emulated:sda": Severity.MEDIUM,
        "disk-emulated:scsi0": Severity.MEDIUM,
        "disk-emulated:hdc": Severity.LOW,
        "video-emulated:video0": Severity.LOW,
    }
    by_key = {f.key: f for f in found}
    assert "vmtui devices virtio rec-kvm-virtio --disk hda" in by_key["disk-emulated:hda"].fix
    assert "virtio-scsi" in by_key["disk-emulated:scsi0"].fix
    assert "stays on its bus" in by_key["disk-emulated:hdc"].fix


def test_balloon_findings_and_their_absence() -> None:
    info, quiet, host = _base()
    assert _keys(explain(replace(info, balloon_model=None), quiet, host)) == {"balloon-missing": Severity.LOW}
    assert _keys(explain(replace(info, balloon_model="none"), quiet, host)) == {"balloon-missing": Severity.LOW}
    assert _keys(explain(replace(info, balloon_period=None), quiet, host)) == {"balloon-no-stats": Severity.LOW}
    # A balloon without stats is one finding, not two; no balloon at all says nothing about its period.
    assert _keys(explain(replace(info, balloon_model=None, balloon_period=None), quiet, host)) == {
        "balloon-missing": Severity.LOW
    }


def test_ranking_severity_first_then_cost_then_key() -> None:
    info, quiet, host = _base()
    busy = replace(quiet, overhead_pct=30.0, steal_pct=12.0, major_faults_per_s=60.0)
    found = explain(replace(info, balloon_period=None), busy, host)
    # Three MEDIUM findings ranked by their weight (faults 60 > overhead 30 > steal 12), the LOW one last.
    assert [f.key for f in found] == ["guest-swapping", "overhead-high", "steal-high", "balloon-no-stats"]
