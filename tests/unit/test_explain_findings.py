"""Every finding of the explainer, word for word as `vmtui explain` prints it, and each threshold from both sides.

The domain, its metrics and the host are written out here (no recording): the expected figures in the
texts are the inputs as `present.count` prints them (12.5 -> "12", 6.0 -> "6.0", 3000 -> "3000").
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from vmtui.explain import Finding, Severity, explain, fmt
from vmtui.metrics import DiskMetrics, DomainMetrics, VcpuMetrics
from vmtui.models import Accelerator, Device, DeviceClass, DomainInfo, HostInfo

EMU, PV = DeviceClass.EMULATED, DeviceClass.PARAVIRTUAL

HOST = HostInfo(
    uri="qemu:///system", hostname="kvm1", libvirt_version="9.0.0", hypervisor="QEMU", hypervisor_version="7.2.0",
    kernel="6.1", cpus=8, cpu_model="EPYC", memory_kib=1, kvm_usable=True, tdp=False, tdp_detail="kvm_intel ept=N",
    kvm_module="kvm_intel",
)  # fmt: skip

INFO = DomainInfo(
    "u", "my web", 3, "running", Accelerator.KVM, 2, 1, 1, True, balloon_model=None,
    devices=(
        Device("nic", "vnet0", "e1000", EMU, "type=network", mac="52:54:00:00:00:01"),
        Device("disk", "sda", "sata", EMU, "disk, /a.img", flavor="disk"),
        Device("disk", "hdc", "ide", EMU, "", flavor="cdrom"),
        Device("controller", "scsi0", "default", EMU),
        Device("video", "video", "vga", EMU),
        Device("nic", "vnet1", "virtio", PV),
        Device("disk", "vda", "virtio-blk", PV, flavor="disk"),
        Device("balloon", "balloon", "virtio", PV),
    ),
)  # fmt: skip

METRICS = DomainMetrics(
    uuid="u", name="my web", state="running", elapsed_s=1.0, vcpu_count=2, cpu_pct=150.0, cpu_host_pct=18.75,
    cpu_guest_pct=75.0, overhead_pct=12.5, steal_pct=6.0, wait_pct=0.0,
    vcpus=(VcpuMetrics(0, 70.0, 8.0, 0.0, 4000.0), VcpuMetrics(1, 67.5, 4.0, 0.0, 2000.0)),
    exits_per_s=6000.0, exits_by_reason={"io": 3000.0, "mmio": 2500.0, "halt": 100.0, "other": 400.0},
    insn_emulation_per_s=12.0, mmu_per_s={"mmu_shadow_zapped": 60.0}, major_faults_per_s=75.0,
    balloon_current_kib=786432, balloon_max_kib=1048576,
    disks=(
        DiskMetrics("vda", 1.0, 1.0, 1.0, 1.0, 25.0, 3.0),
        DiskMetrics("vdb", 1.0, 1.0, 1.0, 1.0, None, None),
        DiskMetrics("vdc", 1.0, 1.0, 1.0, 1.0, None, 19.9),
    ),
)  # fmt: skip

IO_EVIDENCE = "IO exits 3000/s, MMIO exits 2500/s (whole VM)"

EVERY_FINDING = [
    # HIGH: emulated storage and NIC while IO+MMIO exits reach 5000/s; equal weight (5500): by key.
    {"key": "disk-emulated:scsi0", "severity": "high", "title": "Disk scsi0 uses default (emulated controller)",
     "evidence": ["bus default", IO_EVIDENCE],
     "fix": "set controller scsi0 to model virtio-scsi (persistent config, next boot)"},
    {"key": "disk-emulated:sda", "severity": "high", "title": "Disk sda uses sata (emulated controller)",
     "evidence": ["bus sata (disk, /a.img)", IO_EVIDENCE],
     "fix": "move sda to virtio-blk: vmtui devices virtio 'my web' --disk sda (persistent config: at the next boot, "
            "as /dev/vdX); the guest needs its virtio driver first"},
    {"key": "nic-emulated:vnet0", "severity": "high",
     "title": "NIC vnet0 is e1000 (emulated): every packet costs VM exits",
     "evidence": ["<model type='e1000'/> (type=network)", IO_EVIDENCE],
     "fix": "switch NIC vnet0 to virtio: vmtui devices virtio 'my web' --nic 52:54:00:00:00:01 (keys v, then t in "
            "the TUI; live when the guest releases the NIC, else at the next boot); the guest needs virtio-net "
            "(Linux has it, Windows needs the virtio-win drivers)"},
    # MEDIUM, by weight: 75 faults/s, 60 zaps/s, 25 ms, 12.5 %, 6 %.
    {"key": "guest-swapping", "severity": "medium", "title": "The guest pages from disk (75 major faults/s)",
     "evidence": ["balloon 768 MiB of 1024 MiB"],
     "fix": "inflate less: raise the balloon target (vmtui balloon) or give the VM more memory"},
    {"key": "no-tdp", "severity": "medium",
     "title": "No EPT/NPT: guest page tables are shadowed by the host (memory overhead)",
     "evidence": ["kvm_intel ept=N", "shadow pages zapped 60/s"],
     "fix": "enable EPT/NPT (kvm_intel ept=1 / kvm_amd npt=1); huge pages cut the remaining MMU cost"},
    {"key": "disk-latency:vda", "severity": "medium", "title": "Disk vda: 25 ms per request",
     "evidence": ["read 25 ms, write 3.0 ms"],
     "fix": "check the host storage; cache='none' io='native' with virtio and an iothread helps"},
    {"key": "overhead-high", "severity": "medium", "title": "QEMU spends 12 % of a core outside the vCPUs",
     "evidence": ["cpu.time grows 150 %, vCPUs account for the rest", "emulator and IO threads"],
     "fix": "emulated devices and the QEMU main loop cost here: use virtio devices, and <iothreads> for busy disks"},
    {"key": "steal-high", "severity": "medium", "title": "vCPUs wait 6.0 % of the time for a host CPU (steal)",
     "evidence": ["vcpu0: steal 8.0 %", "vcpu1: steal 4.0 %"],
     "fix": "the host is CPU-overcommitted: fewer vCPUs, pinning, or migrate to a host with room"},
    # LOW: a CD-ROM keeps its bus; 6000 exits/s weigh 6; the rest weigh nothing (then by key).
    {"key": "disk-emulated:hdc", "severity": "low", "title": "Disk hdc uses ide (emulated controller)",
     "evidence": ["bus ide", IO_EVIDENCE],
     "fix": "a cdrom stays on its bus; remove it when the guest does not need it"},
    {"key": "exits-high", "severity": "low", "title": "6000 VM exits/s",
     "evidence": ["io: 3000/s", "mmio: 2500/s", "other: 400/s", "instruction emulation 12/s"],
     "fix": "halt exits are an idle guest and harmless; IO/MMIO exits point at emulated devices"},
    {"key": "balloon-missing", "severity": "low",
     "title": "No memory balloon: memory cannot be reclaimed while the VM runs",
     "evidence": ["no <memballoon> device"],
     "fix": "add <memballoon model='virtio'><stats period='5'/></memballoon> (needs a restart)"},
    {"key": "video-emulated:video", "severity": "low", "title": "Emulated video adapter (vga)",
     "evidence": ["<video><model type='vga'/>"], "fix": "use virtio video, or none for headless servers"},
]  # fmt: skip


def test_every_finding_word_for_word_most_costly_first() -> None:
    findings = explain(INFO, METRICS, HOST)
    assert [f.to_json() for f in findings] == EVERY_FINDING
    assert [f.weight for f in findings] == [5500.0, 5500.0, 5500.0, 75.0, 60.0, 25.0, 12.5, 6.0, 5500.0, 6.0, 0, 0]
    assert [f.severity for f in findings[:4]] == [Severity.HIGH, Severity.HIGH, Severity.HIGH, Severity.MEDIUM]


def _keys(info: DomainInfo = INFO, m: DomainMetrics | None = METRICS, host: HostInfo | None = HOST) -> set[str]:
    return {f.key for f in explain(info, m, host)}


def _one(key: str, info: DomainInfo = INFO, m: DomainMetrics | None = METRICS, host: HostInfo | None = HOST) -> Finding:
    (finding,) = [f for f in explain(info, m, host) if f.key == key]
    return finding


@pytest.mark.parametrize(
    ("io", "mmio", "severity"),
    [(3000.0, 2000.0, Severity.HIGH), (3000.0, 1999.0, Severity.MEDIUM), (0.0, 5000.0, Severity.HIGH),
     (5000.0, 0.0, Severity.HIGH), (4999.0, 0.0, Severity.MEDIUM)],
)  # fmt: skip
def test_emulated_devices_are_high_from_5000_io_plus_mmio_exits(io: float, mmio: float, severity: Severity) -> None:
    m = replace(METRICS, exits_by_reason={"io": io, "mmio": mmio, "halt": 9000.0})
    nic = _one("nic-emulated:vnet0", m=m)
    assert nic.severity is severity
    assert nic.weight == io + mmio
    assert _one("disk-emulated:sda", m=m).severity is severity
    assert _one("disk-emulated:hdc", m=m).severity is Severity.LOW  # a CD-ROM is never more


def test_without_exit_counters_emulated_devices_are_medium_and_say_why() -> None:
    for m in (None, replace(METRICS, exits_by_reason={})):
        nic = _one("nic-emulated:vnet0", m=m)
        assert (nic.severity, nic.weight) == (Severity.MEDIUM, 0.0)
        no_counters = "no KVM exit counters (TCG guest, or only one sample)"
        assert nic.evidence == ("<model type='e1000'/> (type=network)", no_counters)
    only_io = replace(METRICS, exits_by_reason={"io": 12.0})
    assert _one("nic-emulated:vnet0", m=only_io).evidence[1] == "IO exits 12/s, MMIO exits 0.0/s (whole VM)"
    assert _one("nic-emulated:vnet0", m=only_io).weight == 12.0
    only_mmio = replace(METRICS, exits_by_reason={"mmio": 7.0})
    assert _one("nic-emulated:vnet0", m=only_mmio).evidence[1] == "IO exits 0.0/s, MMIO exits 7.0/s (whole VM)"
    assert _one("nic-emulated:vnet0", m=only_mmio).weight == 7.0


def test_a_nic_without_mac_is_named_by_its_device_and_a_floppy_keeps_its_bus() -> None:
    info = replace(INFO, devices=(Device("nic", "net0", "rtl8139", EMU, "type=user"),
                                  Device("disk", "fda", "fdc", EMU, "floppy", flavor="floppy")))  # fmt: skip
    assert "--nic net0 " in _one("nic-emulated:net0", info=info).fix
    floppy = _one("disk-emulated:fda", info=info)
    assert floppy.fix == "a floppy stays on its bus; remove it when the guest does not need it"
    assert floppy.severity is Severity.LOW
    assert floppy.evidence[0] == "bus fdc (floppy)"
    unflavoured = replace(INFO, devices=(Device("disk", "sdz", "usb", EMU),))
    assert _one("disk-emulated:sdz", info=unflavoured).fix.startswith("move sdz to virtio-blk")


@pytest.mark.parametrize(
    ("field", "key", "below", "at"),
    [
        ("overhead_pct", "overhead-high", 9.99, 10.0),
        ("steal_pct", "steal-high", 4.99, 5.0),
        ("exits_per_s", "exits-high", 4999.0, 5000.0),
        ("major_faults_per_s", "guest-swapping", 49.9, 50.0),
    ],
)
def test_each_threshold_from_both_sides(field: str, key: str, below: float, at: float) -> None:
    def with_value(value: float | None) -> DomainMetrics:
        changes: dict[str, Any] = {field: value}
        return replace(METRICS, **changes)

    assert key not in _keys(m=with_value(below))
    assert key not in _keys(m=with_value(None))
    found = _one(key, m=with_value(at))
    assert found.severity is (Severity.LOW if key == "exits-high" else Severity.MEDIUM)
    assert found.weight == (at / 1000 if key == "exits-high" else at)


def test_disk_latency_from_20_ms_read_or_write() -> None:
    def latency_keys(read: float | None, write: float | None) -> set[str]:
        disk = DiskMetrics("vdz", None, None, None, None, read, write)
        return {k for k in _keys(m=replace(METRICS, disks=(disk,))) if k.startswith("disk-latency")}

    assert latency_keys(19.99, 19.99) == set()
    assert latency_keys(None, None) == set()
    assert latency_keys(20.0, None) == {"disk-latency:vdz"}
    assert latency_keys(None, 20.0) == {"disk-latency:vdz"}
    worst = _one(
        "disk-latency:vdz", m=replace(METRICS, disks=(DiskMetrics("vdz", None, None, None, None, 21.0, 40.0),))
    )
    assert (worst.title, worst.weight) == ("Disk vdz: 40 ms per request", 40.0)
    assert worst.evidence == ("read 21 ms, write 40 ms",)


def test_shadow_paging_only_for_kvm_guests_on_a_host_known_without_ept() -> None:
    assert _one("no-tdp", m=replace(METRICS, mmu_per_s={"mmu_shadow_zapped": 50.0})).severity is Severity.MEDIUM
    low = _one("no-tdp", m=replace(METRICS, mmu_per_s={"mmu_shadow_zapped": 49.9}))
    assert (low.severity, low.weight) == (Severity.LOW, 49.9)
    unknown = _one("no-tdp", m=replace(METRICS, mmu_per_s={}))
    assert (unknown.severity, unknown.weight, unknown.evidence[1]) == (Severity.LOW, 0.0, "shadow pages zapped n/a")
    assert "no-tdp" not in _keys(host=replace(HOST, tdp=True))
    assert "no-tdp" not in _keys(host=replace(HOST, tdp=None))  # not known: not claimed
    assert "no-tdp" not in _keys(host=None)
    assert "no-tdp" not in _keys(info=replace(INFO, accelerator=Accelerator.TCG))


def test_the_exit_finding_lists_the_three_largest_reasons() -> None:
    m = replace(METRICS, exits_by_reason={"halt": 10.0, "io": 4000.0, "mmio": 30.0, "other": 900.0, "irq": 20.0},
                insn_emulation_per_s=None)  # fmt: skip
    assert _one("exits-high", m=m).evidence == (
        "io: 4000/s", "other: 900/s", "mmio: 30/s", "instruction emulation n/a"
    )  # fmt: skip


def test_without_metrics_only_what_the_definition_shows() -> None:
    assert _keys(m=None) == {
        "disk-emulated:scsi0", "disk-emulated:sda", "disk-emulated:hdc", "nic-emulated:vnet0", "video-emulated:video",
        "balloon-missing",
    }  # fmt: skip
    # The CPU findings (no-tdp among them) need live figures.


def test_balloon_findings() -> None:
    none = _one("balloon-missing", info=replace(INFO, balloon_model="none"))
    assert none.evidence == ("<memballoon model='none'/>",)
    stats = _one("balloon-no-stats", info=replace(INFO, balloon_model="virtio", balloon_period=None))
    assert stats.to_json() == {
        "key": "balloon-no-stats", "severity": "low",
        "title": "Balloon statistics period unset: guest memory figures never update",
        "evidence": ["<memballoon> without <stats period=.../>"],
        "fix": "virsh dommemstat my web --period 5 --live --config",
    }  # fmt: skip
    fine = replace(INFO, balloon_model="virtio", balloon_period=5)
    assert not {"balloon-missing", "balloon-no-stats"} & _keys(info=fine)
    unknown = _one("guest-swapping", m=replace(METRICS, balloon_current_kib=None, balloon_max_kib=None))
    assert unknown.evidence == ("balloon 0.0 MiB of 0.0 MiB",)


TCG = replace(INFO, accelerator=Accelerator.TCG, devices=(), balloon_model="virtio", balloon_period=5)


def test_software_emulation_on_the_three_kinds_of_host() -> None:
    m = replace(METRICS, cpu_pct=60.0, overhead_pct=None, steal_pct=None, exits_per_s=None, major_faults_per_s=None,
                disks=())  # fmt: skip
    evidence = ("<domain type='qemu'>: QEMU's TCG translates every guest instruction", "CPU 60 % of a core")
    assert [f.to_json() for f in explain(TCG, m, HOST)] == [
        {"key": "accelerator-tcg", "severity": "high",
         "title": "Software emulation (TCG) although KVM is available on this host",
         "evidence": [*evidence, "host kvm1: KVM usable"],
         "fix": "set <domain type='kvm'> (virsh edit, then restart the VM) for hardware-assisted virtualization"},
    ]  # fmt: skip
    assert _one("accelerator-tcg", info=TCG, m=m).weight == 60.0
    no_kvm = _one("accelerator-tcg", info=TCG, m=m, host=replace(HOST, kvm_usable=False, kvm_module="kvm_pvm"))
    assert no_kvm.weight == 60.0
    assert no_kvm.to_json() == {
        "key": "accelerator-tcg", "severity": "high",
        "title": "Software emulation (TCG): this host offers no usable KVM",
        "evidence": [*evidence, "host: KVM not usable"],
        "fix": "enable VT-x/AMD-V in firmware, load kvm_intel/kvm_amd and make /dev/kvm accessible to QEMU",
    }  # fmt: skip
    assert _one("accelerator-tcg", info=TCG, m=m, host=None).title.endswith("offers no usable KVM")
    pvm = _one("accelerator-tcg", info=TCG, m=m, host=replace(HOST, kvm_module="kvm_pvm"))
    assert pvm.to_json() == {
        "key": "accelerator-tcg", "severity": "high",
        "title": "Software emulation (TCG): this host's KVM (nested kvm_pvm) cannot run it",
        "evidence": [*evidence, "host kvm1: KVM is kvm_pvm, under which stock Linux kernels hang"],
        "fix": "nothing to change on this host; on a host with VT-x/AMD-V, <domain type='kvm'> removes this cost",
    }  # fmt: skip
    assert pvm.weight == 60.0
    # Only one sample: no CPU figure, weight 0, severity MEDIUM.
    first = _one("accelerator-tcg", info=TCG, m=None)
    assert (first.evidence, first.weight, first.severity) == (
        ("<domain type='qemu'>: QEMU's TCG translates every guest instruction", "host kvm1: KVM usable"),
        0.0,
        Severity.MEDIUM,
    )
    unknown_cpu = _one("accelerator-tcg", info=TCG, m=replace(m, cpu_pct=None))
    assert (len(unknown_cpu.evidence), unknown_cpu.weight) == (2, 0.0)
    assert "accelerator-tcg" not in _keys(info=replace(TCG, accelerator=Accelerator.KVM))
    assert "accelerator-tcg" not in _keys(info=replace(TCG, accelerator=Accelerator.OTHER))


def test_fmt() -> None:
    assert (fmt(None), fmt(None, " %"), fmt(3.14159, " %"), fmt(12345.0, "/s")) == ("n/a", "n/a", "3.1 %", "12345/s")
    assert fmt(2.0) == "2.0"


def test_paravirtual_devices_listed_first_do_not_hide_the_emulated_ones() -> None:
    info = replace(INFO, devices=(Device("nic", "vnet1", "virtio", PV), Device("video", "video", "vga", EMU)))
    assert {k for k in _keys(info=info) if "emulated" in k} == {"video-emulated:video"}
