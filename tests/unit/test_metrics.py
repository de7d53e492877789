"""Metric maths on samples recorded from real guests (KVM and TCG) on this kind of machine."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from tests.metric_samples import sample_metrics
from vmtui.drivers.replay import Recording
from vmtui.metrics import domain_metrics, host_metrics, rate
from vmtui.models import Accelerator, DomainStats

FIXTURE = Path(__file__).parent.parent / "fixtures" / "qemu-kvm-tcg-3guests.jsonl"


@pytest.fixture
def recording() -> Recording:
    return Recording(FIXTURE)


def _by_name(rec: Recording, host: str) -> dict[str, str]:
    return {d.name: d.uuid for d in rec.domains[host]}


def test_recording_has_kvm_and_tcg_guests(recording: Recording) -> None:
    (host,) = recording.hosts
    accels = {d.name: d.accelerator for d in recording.domains[host]}
    assert accels["rec-kvm-e1000"] is Accelerator.KVM
    assert accels["rec-tcg-virtio"] is Accelerator.TCG
    assert len(recording.samples[host]) >= 2


def test_cpu_percentages_stay_in_range(recording: Recording) -> None:
    (host,) = recording.hosts
    s0, s1 = recording.samples[host][:2]
    cpus = recording.hosts[host].cpus
    for m in sample_metrics(s0, s1, host_cpus=cpus).values():
        assert m.cpu_pct is not None
        assert 0 <= m.cpu_pct <= 100 * max(m.vcpu_count, 1) + 1e-9
        assert m.cpu_host_pct is not None
        assert 0 <= m.cpu_host_pct <= 100
        assert m.overhead_pct is not None
        assert m.overhead_pct >= 0
        for v in m.vcpus:
            assert v.cpu_pct is not None
            assert 0 <= v.cpu_pct <= 100


def test_overhead_is_cpu_time_minus_vcpu_time(recording: Recording) -> None:
    (host,) = recording.hosts
    s0, s1 = recording.samples[host][:2]
    uuid = _by_name(recording, host)["rec-kvm-virtio"]
    a = next(d for d in s0.domains if d.uuid == uuid).raw
    b = next(d for d in s1.domains if d.uuid == uuid).raw
    elapsed = s1.monotonic - s0.monotonic
    expected = ((b["cpu.time"] - a["cpu.time"]) - (b["vcpu.0.time"] - a["vcpu.0.time"])) / elapsed / 1e7  # type: ignore[operator]
    m = sample_metrics(s0, s1, host_cpus=2)[uuid]
    assert m.overhead_pct == pytest.approx(max(0.0, expected))


def test_kvm_guest_reports_exit_reasons_and_tcg_does_not(recording: Recording) -> None:
    (host,) = recording.hosts
    s0, s1 = recording.samples[host][:2]
    ids = _by_name(recording, host)
    metrics = sample_metrics(s0, s1, host_cpus=2)
    kvm = metrics[ids["rec-kvm-e1000"]]
    tcg = metrics[ids["rec-tcg-virtio"]]
    assert kvm.exits_per_s is not None
    assert kvm.exits_per_s > 0
    assert {"io", "mmio", "halt"} <= set(kvm.exits_by_reason)
    assert "mmu_shadow_zapped" in kvm.mmu_per_s
    assert "pages_2m" in kvm.pages
    assert tcg.exits_per_s is None
    assert tcg.exits_by_reason == {}


def test_counter_reset_gives_no_rate_instead_of_negative(recording: Recording) -> None:
    (host,) = recording.hosts
    s0, s1 = recording.samples[host][:2]
    d0 = s0.domains[0]
    d1 = s1.domains[0]
    # The domain restarted between samples: its counters start again from (near) zero.
    restarted = DomainStats(d1.uuid, d1.name, MappingProxyType({**d1.raw, "cpu.time": 1, "vcpu.0.time": 1}))
    m = domain_metrics(d0, restarted, 1.0, host_cpus=2)
    assert m.cpu_pct is None
    assert m.overhead_pct is None
    assert rate({"x": 10}, {"x": 4}, "x", 1.0) is None
    assert rate({"x": 4}, {"x": 10}, "x", 2.0) == 3.0


def test_first_sample_has_gauges_but_no_rates(recording: Recording) -> None:
    (host,) = recording.hosts
    s0 = recording.samples[host][0]
    m = sample_metrics(None, s0, host_cpus=2)[s0.domains[0].uuid]
    assert m.cpu_pct is None
    assert m.balloon_max_kib == 131072


def test_disk_latency_and_net_rates_from_counters() -> None:
    a = DomainStats(
        "u",
        "d",
        MappingProxyType(
            {
                "state.state": 1,
                "block.count": 1,
                "block.0.name": "vda",
                "block.0.rd.reqs": 100,
                "block.0.rd.bytes": 0,
                "block.0.rd.times": 1_000_000_000,
                "net.count": 1,
                "net.0.name": "vnet0",
                "net.0.rx.bytes": 0,
                "net.0.rx.pkts": 0,
                "net.0.rx.drop": 0,
            }
        ),
    )
    b = DomainStats(
        "u",
        "d",
        MappingProxyType(
            {
                **a.raw,
                "block.0.rd.reqs": 300,
                "block.0.rd.bytes": 4096 * 200,
                "block.0.rd.times": 3_000_000_000,
                "net.0.rx.bytes": 2_000_000,
                "net.0.rx.pkts": 1000,
                "net.0.rx.drop": 2,
            }
        ),
    )
    m = domain_metrics(a, b, 2.0, host_cpus=4)
    (disk,) = m.disks
    assert disk.read_iops == 100.0
    assert disk.read_bps == 4096 * 100
    assert disk.read_latency_ms == pytest.approx(10.0)  # 2 s of request time over 200 requests
    (net,) = m.nets
    assert net.rx_bps == 1_000_000
    assert net.rx_pps == 500
    assert net.rx_drops_per_s == 1


def test_host_cpu_and_memory(recording: Recording) -> None:
    (host,) = recording.hosts
    s0, s1 = recording.samples[host][:2]
    hm = host_metrics(s0, s1)
    assert hm.cpu_pct is not None
    assert 0 <= hm.cpu_pct <= 100
    assert hm.memory_total_kib is not None
    assert hm.memory_used_kib is not None
    assert 0 < hm.memory_used_kib < hm.memory_total_kib
    assert host_metrics(None, replace(s1, cpu_ns=MappingProxyType({}))).cpu_pct is None


def test_a_shut_off_domain_has_no_rates_even_when_its_counters_move() -> None:
    """libvirt 9 without cgroups reports libvirtd's own CPU as cpu.time of inactive domains."""
    a = DomainStats("u", "d", MappingProxyType({"state.state": 5, "cpu.time": 1_000_000_000, "vcpu.current": 1}))
    b = DomainStats("u", "d", MappingProxyType({"state.state": 5, "cpu.time": 1_018_000_000, "vcpu.current": 1}))
    m = domain_metrics(a, b, 1.0, host_cpus=2)
    assert m.state == "shut-off"
    assert (m.cpu_pct, m.cpu_host_pct, m.overhead_pct, m.exits_per_s) == (None, None, None, None)
    assert m.to_json()["cpu_pct"] is None
    running = domain_metrics(
        replace(a, raw=MappingProxyType({**a.raw, "state.state": 1})),
        replace(b, raw=MappingProxyType({**b.raw, "state.state": 1})),
        1.0,
        host_cpus=2,
    )
    assert running.cpu_pct == pytest.approx(1.8)  # 18 ms of CPU in 1 s


def test_percentages_are_floats_even_when_clamped_to_zero() -> None:
    """A counter read a hair before the other gives a tiny negative: shown as 0.0, a float like every figure."""
    raw = {"state.state": 1, "vcpu.current": 1}
    a = DomainStats("u", "d", MappingProxyType({**raw, "cpu.time": 10, "vcpu.0.time": 10, "vcpu.0.delay": 5}))
    b = DomainStats("u", "d", MappingProxyType({**raw, "cpu.time": 10, "vcpu.0.time": 10, "vcpu.0.delay": 5}))
    m = domain_metrics(a, b, 1.0, host_cpus=2)
    for value in (m.cpu_pct, m.cpu_host_pct, m.overhead_pct, m.steal_pct, m.vcpus[0].cpu_pct):
        assert type(value) is float
