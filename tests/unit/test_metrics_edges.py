"""Metric figures at their edges, each worked out by hand: host CPU and memory as `top`/`free` count them,
vCPU wait and exits, KVM's "other" exits, names and defaults libvirt may leave out, and the JSON totals."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from tests.metric_samples import sample_metrics
from vmtui.metrics import HostMetrics, domain_metrics, host_metrics, rate
from vmtui.models import DomainStats, HostSample, StatValue


def _host(t: float, cpu: dict[str, int], mem: dict[str, int], *domains: DomainStats) -> HostSample:
    return HostSample("h1", "qemu:///system", t, 1000.0 + t, MappingProxyType(cpu), MappingProxyType(mem), domains)


def test_host_cpu_is_kernel_plus_user_over_everything_and_memory_as_free_counts_it() -> None:
    a = _host(0.0, {"kernel": 1_000, "user": 2_000, "idle": 10_000, "iowait": 500}, {})
    b = _host(
        1.0,
        {"kernel": 1_300, "user": 2_500, "idle": 10_900, "iowait": 800},
        {"total": 16_000_000, "free": 4_000_000, "buffers": 500_000, "cached": 3_500_000},
    )
    # busy: +300 kernel +500 user = 800; all: 800 + 900 idle + 300 iowait = 2000 -> 40 %
    # used: 16 000 000 - 4 000 000 - 500 000 - 3 500 000 = 8 000 000 KiB
    assert host_metrics(a, b) == HostMetrics("h1", 40.0, 16_000_000, 8_000_000)
    # Only what the host reports is counted (no buffers/cached line: used = total - free).
    c = _host(2.0, {"kernel": 1_300, "user": 2_500, "idle": 12_900}, {"total": 100, "free": 30})
    # busy +0; idle +2000; iowait missing on both sides counts 0 -> 0 %
    assert host_metrics(b, c) == HostMetrics("h1", 0.0, 100, 70)
    # A counter the previous sample lacked counts from 0.
    d = _host(3.0, {"kernel": 1_300, "user": 2_500, "idle": 12_900, "iowait": 100}, {})
    assert host_metrics(c, d).cpu_pct == 0.0  # +100 iowait, no busy
    e = _host(4.0, {"kernel": 1_400, "user": 2_500, "idle": 12_900, "iowait": 100}, {})
    assert host_metrics(d, e).cpu_pct == 100.0  # only kernel time grew
    assert host_metrics(e, e).cpu_pct is None  # nothing moved: no figure rather than 0/0
    assert host_metrics(None, e) == HostMetrics("h1", None, None, None)
    assert host_metrics(_host(0.0, {}, {}), e).cpu_pct is None


def test_host_cpu_counters_missing_on_one_side_count_as_zero_and_the_result_stays_a_percentage() -> None:
    before = _host(0.0, {"kernel": 0, "user": 100, "idle": 1000, "iowait": 0}, {})
    after = _host(1.0, {"user": 300, "idle": 1200}, {})
    # busy: (0 - 0) + (300 - 100) = 200; all: 200 + (1200 - 1000) + (0 - 0) = 400 -> 50 %
    assert host_metrics(before, after).cpu_pct == 50.0
    grew = _host(1.0, {"kernel": 100, "user": 100, "idle": 1100}, {})
    fresh = _host(0.0, {"idle": 1000}, {})
    # busy: kernel 100 and user 100 new (0 before); all: 200 + 100 idle = 300 -> 66.7 %
    assert host_metrics(fresh, grew).cpu_pct == pytest.approx(200 / 300 * 100)
    # idle went back (a counter glitch): 200 busy over 100 in all would be 200 %; shown as 100
    glitch = _host(1.0, {"kernel": 100, "user": 100, "idle": 900}, {})
    assert host_metrics(fresh, glitch).cpu_pct == 100.0
    # One nanosecond of kernel time is a figure too (100 %), not "nothing moved".
    tiny = _host(1.0, {"kernel": 1, "idle": 1000}, {})
    assert host_metrics(fresh, tiny).cpu_pct == 100.0


def _stats(**raw: StatValue) -> DomainStats:
    return DomainStats("u", "d", MappingProxyType({"state.state": 1, **raw}))


def test_vcpu_wait_and_exits_per_vcpu() -> None:
    a = _stats(**{"vcpu.current": 2, "vcpu.0.wait": 0, "vcpu.1.wait": 100_000_000, "vcpu.0.exits.sum": 10,
                  "vcpu.1.exits.sum": 0, "vcpu.0.hypercalls.sum": 5, "vcpu.1.hypercalls.sum": 5})  # fmt: skip
    b = _stats(**{"vcpu.current": 2, "vcpu.0.wait": 500_000_000, "vcpu.1.wait": 100_000_000, "vcpu.0.exits.sum": 1010,
                  "vcpu.1.exits.sum": 500, "vcpu.0.hypercalls.sum": 25, "vcpu.1.hypercalls.sum": 15})  # fmt: skip
    m = domain_metrics(a, b, 2.0, host_cpus=4)
    # vcpu0 waited 0.5 s of 2 s = 25 %, vcpu1 0 %; the domain: their mean, 12.5 %
    assert [(v.index, v.wait_pct) for v in m.vcpus] == [(0, 25.0), (1, 0.0)]
    assert m.wait_pct == 12.5
    assert [v.exits_per_s for v in m.vcpus] == [500.0, 250.0]  # +1000 and +500 over 2 s
    assert m.exits_per_s == 750.0
    assert m.hypercalls_per_s == 15.0  # +20 and +10 over 2 s
    # No KVM counters of the named reasons: no breakdown, not even "other".
    assert m.exits_by_reason == {}


def test_other_exits_are_the_rest_and_never_negative() -> None:
    a = _stats(**{"vcpu.current": 1, "vcpu.0.exits.sum": 0, "vcpu.0.io_exits.sum": 0, "vcpu.0.halt_exits.sum": 0})
    b = _stats(**{"vcpu.current": 1, "vcpu.0.exits.sum": 100, "vcpu.0.io_exits.sum": 30, "vcpu.0.halt_exits.sum": 50})
    assert domain_metrics(a, b, 1.0, host_cpus=1).exits_by_reason == {"io": 30.0, "halt": 50.0, "other": 20.0}
    # Counters read a hair apart: the named ones ran ahead of the total. "other" is 0, not -5.
    c = _stats(**{"vcpu.current": 1, "vcpu.0.exits.sum": 75, "vcpu.0.io_exits.sum": 30, "vcpu.0.halt_exits.sum": 50})
    assert domain_metrics(a, c, 1.0, host_cpus=1).exits_by_reason["other"] == 0.0
    # Only one sample: no rates at all.
    assert domain_metrics(None, b, 1.0, host_cpus=1).exits_by_reason == {}


def test_the_whole_domain_is_clamped_to_the_host_and_to_its_vcpus() -> None:
    a = _stats(**{"vcpu.current": 2, "cpu.time": 0, "vcpu.0.time": 0, "vcpu.0.delay": 0})
    b = _stats(**{"vcpu.current": 2, "cpu.time": 5_000_000_000, "vcpu.0.time": 2_000_000_000, "vcpu.0.delay": 0})
    m = domain_metrics(a, b, 1.0, host_cpus=4)
    # 5 s of CPU in 1 s on a 4-CPU host: 400 % at most (500 counted), 100 % of the host, 100 % of its vCPUs
    assert (m.cpu_pct, m.cpu_host_pct, m.cpu_guest_pct) == (400.0, 100.0, 100.0)
    assert m.vcpus[0].cpu_pct == 100.0  # 2 s in 1 s: a vCPU cannot run more than a core
    assert m.vcpus[1].cpu_pct is None  # no vcpu.1.time: unknown, not 0
    assert m.overhead_pct == 300.0  # 5 - 2 s outside the vCPUs
    half = _stats(**{"vcpu.current": 2, "cpu.time": 500_000_000, "vcpu.0.time": 0, "vcpu.0.delay": 0})
    m = domain_metrics(a, half, 1.0, host_cpus=4)
    assert (m.cpu_pct, m.cpu_host_pct, m.cpu_guest_pct) == (50.0, 12.5, 25.0)
    # A host reporting 0 CPUs is taken as 1; a domain with no vCPU count has no per-vCPU share.
    zero = domain_metrics(a, half, 1.0, host_cpus=0)
    assert (zero.cpu_pct, zero.cpu_host_pct) == (50.0, 50.0)
    no_vcpus = domain_metrics(_stats(**{"cpu.time": 0}), _stats(**{"cpu.time": 500_000_000}), 1.0, host_cpus=2)
    assert (no_vcpus.vcpu_count, no_vcpus.cpu_guest_pct, no_vcpus.overhead_pct, no_vcpus.vcpus) == (0, None, None, ())


def test_a_domain_without_a_state_is_nostate_and_has_no_rates() -> None:
    a = DomainStats("u", "d", MappingProxyType({"cpu.time": 0}))
    b = DomainStats("u", "d", MappingProxyType({"cpu.time": 1_000_000_000}))
    m = domain_metrics(a, b, 1.0, host_cpus=2)
    assert (m.state, m.cpu_pct) == ("nostate", None)


def test_devices_libvirt_leaves_unnamed_and_the_totals_in_json() -> None:
    before: dict[str, StatValue] = {
        "block.count": 2, "block.0.wr.bytes": 0, "block.0.wr.reqs": 0, "block.0.wr.times": 0,
        "block.1.name": "vdb", "block.1.rd.bytes": 0, "block.1.rd.reqs": 10,
        "net.count": 1, "net.0.rx.bytes": 0, "net.0.tx.bytes": 0, "net.0.tx.pkts": 0, "net.0.tx.drop": 0,
    }  # fmt: skip
    after: dict[str, StatValue] = {
        "block.count": 2, "block.0.wr.bytes": 8192, "block.0.wr.reqs": 2, "block.0.wr.times": 3_000_000,
        "block.1.name": "vdb", "block.1.rd.bytes": 4096, "block.1.rd.reqs": 12,
        "net.count": 1, "net.0.rx.bytes": 100, "net.0.tx.bytes": 300, "net.0.tx.pkts": 4, "net.0.tx.drop": 2,
    }  # fmt: skip
    a, b = _stats(**before), _stats(**after)
    m = domain_metrics(a, b, 2.0, host_cpus=2)
    d0, d1 = m.disks
    assert (d0.name, d0.write_bps, d0.write_iops, d0.write_latency_ms) == ("disk0", 4096.0, 1.0, 1.5)
    assert (d0.read_bps, d0.read_iops, d0.read_latency_ms) == (None, None, None)  # never reported
    assert (d1.name, d1.read_bps, d1.read_iops) == ("vdb", 2048.0, 1.0)
    (n0,) = m.nets
    assert (n0.name, n0.rx_bps, n0.tx_bps, n0.tx_pps, n0.tx_drops_per_s) == ("net0", 50.0, 150.0, 2.0, 1.0)
    body = m.to_json()
    # 8192 B over 2 s written; 4096 B read; IOPS: 1 write + 1 read; net: 100 and 300 B over 2 s
    assert (body["disk_read_bps"], body["disk_write_bps"], body["disk_iops"]) == (2048.0, 4096.0, 2.0)
    assert (body["net_rx_bps"], body["net_tx_bps"]) == (50.0, 150.0)
    assert body["disks"][0]["name"] == "disk0"
    assert body["elapsed_s"] == 2.0
    empty = domain_metrics(None, _stats(), 1.0, host_cpus=1).to_json()
    assert (empty["disk_read_bps"], empty["disk_iops"], empty["net_tx_bps"], empty["disks"]) == (None, None, None, ())


def test_latency_is_request_time_over_requests_in_milliseconds_exactly() -> None:
    a = _stats(**{"block.count": 1, "block.0.rd.reqs": 0, "block.0.rd.times": 0})
    b = _stats(**{"block.count": 1, "block.0.rd.reqs": 4, "block.0.rd.times": 10_000_000})
    assert domain_metrics(a, b, 1.0, host_cpus=1).disks[0].read_latency_ms == 2.5  # 10 ms over 4 requests


def test_rates_need_time_and_two_numbers() -> None:
    assert rate({"x": 1}, {"x": 2}, "x", 0.0) is None  # no time passed: no rate (not a division by zero)
    assert rate({"x": 1}, {"x": 2}, "x", -1.0) is None
    assert rate({"x": "1"}, {"x": 2}, "x", 1.0) is None
    assert rate({"x": 1}, {"x": "2"}, "x", 1.0) is None
    assert rate({}, {"x": 2}, "x", 1.0) is None
    assert rate({"x": 1.5}, {"x": 2}, "x", 0.5) == 1.0


def test_gauges_of_a_first_sample_and_of_a_domain_new_in_the_second() -> None:
    raw = {"balloon.current": 1024, "balloon.maximum": 2048, "balloon.unused": 10, "balloon.available": 900,
           "balloon.usable": 800, "balloon.rss": 1500, "balloon.major_fault": 7, "vm.pages_2m.cur": 3}  # fmt: skip
    new = DomainStats("n", "new", MappingProxyType({"state.state": 1, **raw}))
    old0 = DomainStats("o", "old", MappingProxyType({"state.state": 1, **raw, "balloon.major_fault": 1}))
    old1 = DomainStats("o", "old", MappingProxyType({"state.state": 1, **raw}))
    s0 = _host(10.0, {}, {}, old0)
    s1 = _host(12.5, {}, {}, old1, new)
    ms = sample_metrics(s0, s1, host_cpus=2)
    assert set(ms) == {"o", "n"}
    m = ms["n"]
    assert (m.uuid, m.name, m.elapsed_s) == ("n", "new", 2.5)
    assert (m.balloon_current_kib, m.balloon_max_kib, m.guest_unused_kib) == (1024, 2048, 10)
    assert (m.guest_available_kib, m.guest_usable_kib, m.rss_kib, m.pages) == (900, 800, 1500, {"pages_2m": 3})
    assert m.major_faults_per_s is None  # first sample of this domain
    assert ms["o"].major_faults_per_s == pytest.approx(6 / 2.5)  # +6 faults over 2.5 s
    first = sample_metrics(None, s1, host_cpus=2)["o"]
    assert (first.elapsed_s, first.major_faults_per_s, first.balloon_current_kib) == (0.0, None, 1024)


def test_a_named_nic_keeps_its_name_and_a_user_mode_nic_without_counters_is_left_out() -> None:
    raw: dict[str, StatValue] = {"net.count": 3, "net.0.name": "vnet7", "net.0.rx.bytes": 5, "net.1.name": "user0",
                                 "net.2.rx.bytes": 1}  # fmt: skip
    m = domain_metrics(None, _stats(**raw), 1.0, host_cpus=1)
    assert [n.name for n in m.nets] == ["vnet7", "net2"]


def test_an_idle_guest_shows_figures_below_one_percent_and_a_wait_over_the_interval_is_capped() -> None:
    a = _stats(**{"vcpu.current": 2, "cpu.time": 0, "vcpu.0.time": 0, "vcpu.0.delay": 0, "vcpu.0.wait": 0})
    b = _stats(**{"vcpu.current": 2, "cpu.time": 5_000_000, "vcpu.0.time": 4_000_000, "vcpu.0.delay": 3_000_000,
                  "vcpu.0.wait": 1_500_000_000})  # fmt: skip
    m = domain_metrics(a, b, 1.0, host_cpus=4)
    # 5 ms of CPU in 1 s: 0.5 % of a core, 0.125 % of 4 host CPUs, 0.25 % of 2 vCPUs; vcpu0 ran 4 ms, waited 3 ms
    assert (m.cpu_pct, m.cpu_host_pct, m.cpu_guest_pct) == (0.5, 0.125, 0.25)
    assert (m.vcpus[0].cpu_pct, m.vcpus[0].steal_pct) == (0.4, 0.3)
    assert m.vcpus[0].wait_pct == 100.0  # 1.5 s of IO wait in 1 s: at most the whole interval
    # On a 1-CPU host the domain cannot use more than that one CPU.
    c = _stats(**{"vcpu.current": 2, "cpu.time": 1_500_000_000})
    one_cpu = domain_metrics(_stats(**{"vcpu.current": 2, "cpu.time": 0}), c, 1.0, host_cpus=1)
    assert (one_cpu.cpu_pct, one_cpu.cpu_host_pct) == (100.0, 100.0)
