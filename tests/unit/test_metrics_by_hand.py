"""Every figure of a busy real guest, worked out by hand from two raw `getAllDomainStats` records.

tests/fixtures/busy-guest.json was recorded by scripts/record_metrics_fixture.py from a TCG Linux
guest on a lab host: 2 vCPUs (a memory dirtier on one), two virtio disks (vda written and read in a
loop), two virtio NICs on the host's bridge (vnet0 pinging it). The expected values below come from
the counter deltas by hand (the arithmetic is in the comments), never from vmtui's own formulas.
KVM exit counters come from the recording of real KVM guests (qemu-kvm-tcg-3guests.jsonl).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import pytest

from vmtui.drivers.replay import Recording
from vmtui.metrics import DomainMetrics, domain_metrics
from vmtui.models import DomainStats

FIXTURES = Path(__file__).parent.parent / "fixtures"
REL = 1e-4
ELAPSED = 2.024467932999869  # seconds between the two records (monotonic clock)


@pytest.fixture
def busy() -> DomainMetrics:
    data = json.loads((FIXTURES / "busy-guest.json").read_text())
    assert data["elapsed_s"] == ELAPSED
    first = DomainStats("u", "busy", MappingProxyType(data["first"]))
    second = DomainStats("u", "busy", MappingProxyType(data["second"]))
    return domain_metrics(first, second, ELAPSED, host_cpus=2)


def test_cpu_of_the_whole_domain(busy: DomainMetrics) -> None:
    # cpu.time 9 940 000 000 -> 12 030 000 000 ns: 2.09 s of CPU in 2.024468 s
    assert busy.cpu_pct == pytest.approx(103.2369, rel=REL)  # 2.09 / 2.024468 * 100, % of one core
    assert busy.cpu_host_pct == pytest.approx(51.6184, rel=REL)  # of a 2-CPU host: / 2
    assert busy.cpu_guest_pct == pytest.approx(51.6184, rel=REL)  # of its 2 vCPUs: / 2
    assert busy.vcpu_count == 2


def test_each_vcpu(busy: DomainMetrics) -> None:
    v0, v1 = busy.vcpus
    # vcpu.0.time +1.47 s, vcpu.1.time +0.55 s
    assert v0.cpu_pct == pytest.approx(72.6117, rel=REL)  # 1.47 / 2.024468
    assert v1.cpu_pct == pytest.approx(27.1682, rel=REL)  # 0.55 / 2.024468
    # vcpu.0.delay +3 065 698 468 ns = 151.4 % of the interval: shown as 100, the most a vCPU can wait
    assert v0.steal_pct == 100.0
    assert v1.steal_pct == pytest.approx(39.9167, rel=REL)  # +808 101 026 ns / 2.024468 s
    assert (v0.wait_pct, v1.wait_pct) == (0.0, 0.0)  # vcpu.N.wait did not move


def test_overhead_steal_and_wait_of_the_domain(busy: DomainMetrics) -> None:
    # outside the vCPUs: 2.09 - (1.47 + 0.55) = 0.07 s of CPU in 2.024468 s
    assert busy.overhead_pct == pytest.approx(3.4577, rel=REL)
    assert busy.steal_pct == pytest.approx(69.9584, rel=REL)  # mean of 100 and 39.9167
    assert busy.wait_pct == 0.0


def test_disks(busy: DomainMetrics) -> None:
    vda, vdb = busy.disks
    assert (vda.name, vdb.name) == ("vda", "vdb")
    assert vda.read_bps == pytest.approx(582697.3, rel=REL)  # rd.bytes +1 179 648 / 2.024468
    assert vda.write_bps == pytest.approx(517952.3, rel=REL)  # wr.bytes +1 048 576
    assert vda.read_iops == pytest.approx(4.44561, rel=REL)  # rd.reqs +9
    assert vda.write_iops == pytest.approx(0.987914, rel=REL)  # wr.reqs +2
    assert vda.read_latency_ms == pytest.approx(0.431430, rel=REL)  # rd.times +3 882 867 ns / 9 requests
    assert vda.write_latency_ms == pytest.approx(1.737092, rel=REL)  # wr.times +3 474 183 ns / 2 requests
    assert (vdb.read_bps, vdb.write_bps, vdb.read_iops) == (0.0, 0.0, 0.0)  # vdb: nothing moved
    assert (vdb.read_latency_ms, vdb.write_latency_ms) == (None, None)  # no request: no latency
    assert busy.disk_read_bps == pytest.approx(582697.3, rel=REL)  # vda + vdb
    assert busy.disk_iops == pytest.approx(5.43352, rel=REL)  # (9 + 2) / 2.024468


def test_nics(busy: DomainMetrics) -> None:
    vnet0, vnet1 = busy.nets
    assert vnet0.rx_bps == pytest.approx(408.0083, rel=REL)  # rx.bytes 1016 -> 1842: +826
    assert vnet0.tx_bps == pytest.approx(442.5855, rel=REL)  # tx.bytes 516 -> 1412: +896
    assert vnet0.rx_pps == pytest.approx(4.44561, rel=REL)  # rx.pkts +9
    assert vnet0.tx_pps == pytest.approx(4.93957, rel=REL)  # tx.pkts +10
    assert (vnet0.rx_drops_per_s, vnet1.rx_bps, vnet1.tx_bps) == (0.0, 0.0, 0.0)
    assert busy.net_tx_bps == pytest.approx(442.5855, rel=REL)


def test_memory_as_the_balloon_driver_reports_it(busy: DomainMetrics) -> None:
    assert busy.balloon_current_kib == 262144  # 256 MiB, gauges from the second record
    assert busy.balloon_max_kib == 262144
    assert busy.guest_unused_kib == 113620
    assert busy.guest_usable_kib == 117052
    assert busy.guest_available_kib == 210488
    assert busy.rss_kib == 304252
    assert busy.major_faults_per_s == 0.0


def test_no_kvm_counters_under_tcg(busy: DomainMetrics) -> None:
    assert busy.exits_per_s is None
    assert busy.exits_by_reason == {}
    assert busy.insn_emulation_per_s is None


def test_exits_by_reason_of_a_real_kvm_guest() -> None:
    rec = Recording(FIXTURES / "qemu-kvm-tcg-3guests.jsonl")
    (host,) = rec.hosts
    s0, s1 = rec.samples[host][:2]
    name = "rec-kvm-e1000"
    a = next(d for d in s0.domains if d.name == name)
    b = next(d for d in s1.domains if d.name == name)
    elapsed = s1.monotonic - s0.monotonic
    m = domain_metrics(a, b, elapsed, host_cpus=2)

    def delta(key: str) -> float:
        return float(b.raw[key]) - float(a.raw[key])

    # One vCPU: the domain's rates are vcpu.0's counter deltas over the interval.
    assert m.exits_per_s == pytest.approx(delta("vcpu.0.exits.sum") / elapsed)
    assert m.exits_by_reason["halt"] == pytest.approx(delta("vcpu.0.halt_exits.sum") / elapsed)
    assert m.exits_by_reason["io"] == pytest.approx(delta("vcpu.0.io_exits.sum") / elapsed)
    named = sum(delta(f"vcpu.0.{r}.sum") for r in ("io_exits", "mmio_exits", "halt_exits", "irq_exits",
                "irq_window_exits", "nmi_window_exits", "request_irq_exits", "signal_exits", "notify_window_exits")
                if f"vcpu.0.{r}.sum" in b.raw)  # fmt: skip
    assert m.exits_by_reason["other"] == pytest.approx((delta("vcpu.0.exits.sum") - named) / elapsed)
    assert m.insn_emulation_per_s == pytest.approx(delta("vcpu.0.insn_emulation.sum") / elapsed)
