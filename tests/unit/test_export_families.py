"""The exporter's metric families, from a recording of two real lab hosts, checked against the raw counters.

The fixture is tests/fixtures_export.py's: two lab hosts' recorded samples. Every expected value below is worked out
by hand from the raw libvirt counters of the last sample (quoted in the comments), not recomputed with the
exporter's own code. The text goes through prometheus-client's renderer and back through its parser,
as Prometheus would read it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest
from fixtures_export import DISK, KVM, LAB1_WALL, LINUX, exposition, views
from prometheus_client.parser import text_string_to_metric_families

from vmtui.export.families import FAMILIES, STALE_AFTER, CounterGuard, scrape
from vmtui.models import DomainStats

DOCS = Path(__file__).resolve().parents[2] / "docs" / "export.md"

Series = dict[tuple[str, frozenset[tuple[str, str]]], tuple[float, float | None]]


def parsed(text: str) -> Series:
    """Every sample of the text format, keyed by name and labels: (value, timestamp in seconds)."""
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            ts = None if s.timestamp is None else float(s.timestamp)
            out[(s.name, frozenset(s.labels.items()))] = (s.value, ts)
    return out


def value(series: Series, name: str, **labels: str) -> float:
    return series[(name, frozenset(labels.items()))][0]


@pytest.fixture(scope="module")
def lab_series() -> Series:
    return parsed(exposition(scrape(views(), now=LAB1_WALL + 2.0, guard=CounterGuard())))


def test_cpu_vcpu_steal_and_overhead_seconds_from_nanosecond_counters(lab_series: Series) -> None:
    # cpu.time=2900000000, vcpu.0.time=2620000000, vcpu.0.delay=3741330230, vcpu.0.wait=0 (ns)
    assert value(lab_series, "vmtui_domain_cpu_seconds_total", **KVM) == pytest.approx(2.9)
    assert value(lab_series, "vmtui_domain_vcpu_seconds_total", **KVM, vcpu="0") == pytest.approx(2.62)
    assert value(lab_series, "vmtui_domain_vcpu_steal_seconds_total", **KVM, vcpu="0") == pytest.approx(3.74133023)
    assert value(lab_series, "vmtui_domain_vcpu_wait_seconds_total", **KVM, vcpu="0") == 0
    # overhead: 2.90 s of the process minus 2.62 s in the vCPU
    assert value(lab_series, "vmtui_domain_overhead_seconds_total", **KVM) == pytest.approx(0.28)
    # a 2-vCPU TCG guest: cpu.time=560000000, vcpu.0.time=270000000, vcpu.1.time=0
    assert value(lab_series, "vmtui_domain_vcpu_seconds_total", **DISK, vcpu="1") == 0
    assert value(lab_series, "vmtui_domain_overhead_seconds_total", **DISK) == pytest.approx(0.29)
    assert value(lab_series, "vmtui_domain_vcpus", **DISK) == 2


def test_exits_by_reason_with_the_rest_as_other(lab_series: Series) -> None:
    # vcpu.0.exits.sum=17038; mmio 653, halt 2158, irq_window 61, signal 27, every other listed reason 0
    for reason, count in {"mmio": 653, "halt": 2158, "irq_window": 61, "signal": 27, "io": 0}.items():
        assert value(lab_series, "vmtui_domain_exits_total", **KVM, reason=reason) == count
    assert value(lab_series, "vmtui_domain_exits_total", **KVM, reason="other") == 17038 - 653 - 2158 - 61 - 27
    assert value(lab_series, "vmtui_domain_instruction_emulations_total", **KVM) == 7205707
    assert value(lab_series, "vmtui_domain_mmu_events_total", **KVM, event="shadow_zapped") == 32
    assert value(lab_series, "vmtui_domain_mapped_pages", **KVM, size="4k") == 0
    # TCG has no KVM counters: no exit series at all rather than zeros that would read as "no exits"
    assert not [k for k in lab_series if k[0] == "vmtui_domain_exits_total" and ("domain", DISK["domain"]) in k[1]]


def test_memory_in_bytes_from_kib(lab_series: Series) -> None:
    # balloon.current=131072 KiB, balloon.rss=46524 KiB
    assert value(lab_series, "vmtui_domain_balloon_current_bytes", **KVM) == 134217728
    assert value(lab_series, "vmtui_domain_rss_bytes", **KVM) == 46524 * 1024
    # the Linux guest's balloon driver: usable=183036, unused=179876, available=210752 KiB, minor_fault=2718
    assert value(lab_series, "vmtui_domain_guest_memory_usable_bytes", **LINUX) == 187428864
    assert value(lab_series, "vmtui_domain_guest_memory_unused_bytes", **LINUX) == 184193024
    assert value(lab_series, "vmtui_domain_guest_memory_available_bytes", **LINUX) == 215810048
    assert value(lab_series, "vmtui_domain_guest_minor_page_faults_total", **LINUX) == 2718
    assert value(lab_series, "vmtui_domain_guest_memory_last_update_timestamp_seconds", **LINUX) == 1796180644


def test_disk_and_net_counters_per_device(lab_series: Series) -> None:
    # block.0: name=sda rd.reqs=1 rd.bytes=512 rd.times=201106 ns capacity=67108864; net.0: vnet0 rx 90 B, 1 pkt
    sda = {**DISK, "device": "sda"}
    assert value(lab_series, "vmtui_domain_disk_read_bytes_total", **sda) == 512
    assert value(lab_series, "vmtui_domain_disk_read_requests_total", **sda) == 1
    assert value(lab_series, "vmtui_domain_disk_read_time_seconds_total", **sda) == pytest.approx(0.000201106)
    assert value(lab_series, "vmtui_domain_disk_write_bytes_total", **sda) == 0
    assert value(lab_series, "vmtui_domain_disk_capacity_bytes", **sda) == 64 * 1024 * 1024
    vnet = {**DISK, "interface": "vnet0"}
    assert value(lab_series, "vmtui_domain_net_receive_bytes_total", **vnet) == 90
    assert value(lab_series, "vmtui_domain_net_receive_packets_total", **vnet) == 1
    assert value(lab_series, "vmtui_domain_net_transmit_bytes_total", **vnet) == 0


def test_host_memory_cpu_facts_and_state(lab_series: Series) -> None:
    # memory_kib: total 24683584, free 20731748, buffers 148608, cached 1343436; cpu_ns kernel 332300000000
    assert value(lab_series, "vmtui_host_memory_total_bytes", host="lab1") == 24683584 * 1024
    used_kib = 24683584 - 20731748 - 148608 - 1343436  # 2459792, as `free` counts it
    assert value(lab_series, "vmtui_host_memory_used_bytes", host="lab1") == used_kib * 1024
    assert value(lab_series, "vmtui_host_cpu_seconds_total", host="lab1", mode="kernel") == pytest.approx(332.3)
    assert value(lab_series, "vmtui_host_up", host="lab2") == 1
    assert value(lab_series, "vmtui_host_sample_age_seconds", host="lab1") == pytest.approx(2.0)
    info = dict(next(k for k in lab_series if k[0] == "vmtui_host_info" and ("host", "lab1") in k[1])[1])
    assert (info["kvm"], info["tdp"], info["libvirt_version"]) == ("yes", "off", "9.0.0")
    assert info["tdp_detail"] == "no EPT/NPT: kvm_pvm (software shadow paging)"
    assert value(lab_series, "vmtui_domain_state", **KVM, state="running") == 1
    assert value(lab_series, "vmtui_domain_info", **KVM, accelerator="kvm", machine="pc-q35-7.2") == 1
    assert value(lab_series, "vmtui_domain_devices", **{**DISK, "class": "emulated"}) == 2  # e1000 NIC, SATA disk


def test_counters_carry_their_sample_time_and_gauges_none(lab_series: Series) -> None:
    # Counters: rate() must see when libvirt read them, not when Prometheus scraped.
    cpu = lab_series[("vmtui_domain_cpu_seconds_total", frozenset(KVM.items()))]
    assert cpu[1] == pytest.approx(LAB1_WALL, abs=0.001)  # the text format keeps milliseconds
    steal = lab_series[("vmtui_domain_vcpu_steal_seconds_total", frozenset({**KVM, "vcpu": "0"}.items()))]
    assert steal[1] == cpu[1]
    # Gauges and infos: none, so a destroyed or paused domain's old series goes stale at the next scrape.
    for key in (
        ("vmtui_domain_balloon_current_bytes", frozenset(KVM.items())),
        ("vmtui_domain_state", frozenset({**KVM, "state": "running"}.items())),
        ("vmtui_host_up", frozenset({("host", "lab1")})),
        ("vmtui_host_memory_used_bytes", frozenset({("host", "lab1")})),
    ):
        assert lab_series[key][1] is None, key


def test_ksm_saved_bytes_is_pages_sharing_times_the_page_size() -> None:
    # 18327 pages sharing (two identical 256 MiB guests in LAB.md) x 4 KiB pages = 75067392 bytes saved
    lab1 = views()[0]
    assert lab1.sampled is not None
    ksm = {"pages_shared": 1200, "pages_sharing": 18327, "full_scans": 7, "sleep_millisecs": 10}
    sample = replace(lab1.sampled.tick.sample, ksm=MappingProxyType(ksm))
    sampled = replace(lab1.sampled, tick=replace(lab1.sampled.tick, sample=sample))
    series = parsed(exposition(scrape([replace(lab1, sampled=sampled)], now=LAB1_WALL, guard=CounterGuard())))
    assert value(series, "vmtui_host_ksm_saved_bytes", host="lab1") == 75067392
    assert value(series, "vmtui_host_ksm_pages_shared", host="lab1") == 1200
    assert value(series, "vmtui_host_ksm_full_scans_total", host="lab1") == 7
    assert value(series, "vmtui_host_ksm_sleep_seconds", host="lab1") == pytest.approx(0.01)


def test_a_down_host_serves_its_last_sample_with_its_age_until_it_is_stale() -> None:
    down = views(up=False, error="end of file")
    series = parsed(exposition(scrape(down, now=LAB1_WALL + 60, guard=CounterGuard())))
    assert value(series, "vmtui_host_up", host="lab1") == 0
    assert value(series, "vmtui_host_error_info", host="lab1", reason="end of file") == 1
    assert value(series, "vmtui_host_sample_age_seconds", host="lab1") == pytest.approx(60)
    assert value(series, "vmtui_domain_cpu_seconds_total", **KVM) == pytest.approx(2.9)
    stale = parsed(exposition(scrape(down, now=LAB1_WALL + STALE_AFTER + 1, guard=CounterGuard())))
    assert value(stale, "vmtui_host_up", host="lab1") == 0
    assert value(stale, "vmtui_host_sample_age_seconds", host="lab1") == pytest.approx(STALE_AFTER + 1)
    assert not [k for k in stale if k[0].startswith("vmtui_domain_")]


def test_derived_counters_never_go_down_unless_the_domain_restarted() -> None:
    lab1 = views()[0]
    guard = CounterGuard()

    def overhead(cpu: int, vcpu: int) -> float:
        assert lab1.sampled is not None
        raw = {"state.state": 1, "cpu.time": cpu, "vcpu.current": 1, "vcpu.0.time": vcpu}
        dom = DomainStats(KVM["uuid"], KVM["domain"], MappingProxyType(raw))
        sample = replace(lab1.sampled.tick.sample, domains=(dom,))
        sampled = replace(lab1.sampled, tick=replace(lab1.sampled.tick, sample=sample))
        series = parsed(exposition(scrape([replace(lab1, sampled=sampled)], now=LAB1_WALL, guard=guard)))
        return value(series, "vmtui_domain_overhead_seconds_total", **KVM)

    assert overhead(2_900_000_000, 2_620_000_000) == pytest.approx(0.28)
    # the vCPU counter was read a little later than cpu.time: 0.27 s would read as a counter reset
    assert overhead(2_910_000_000, 2_640_000_000) == pytest.approx(0.28)
    assert overhead(2_950_000_000, 2_650_000_000) == pytest.approx(0.30)
    # cpu.time went back: the domain restarted, and its counters really begin again
    assert overhead(100_000_000, 90_000_000) == pytest.approx(0.01)


def test_names_from_hosts_are_escaped_label_values() -> None:
    lab1 = views()[0]
    assert lab1.sampled is not None
    name = 'q\'"<&>\\x\nnew line {bad="label"}'
    dom = replace(lab1.sampled.tick.sample.domains[0], name=name)
    sample = replace(lab1.sampled.tick.sample, domains=(dom,))
    sampled = replace(lab1.sampled, tick=replace(lab1.sampled.tick, sample=sample))
    text = exposition(scrape([replace(lab1, sampled=sampled)], now=LAB1_WALL, guard=CounterGuard()))
    series = parsed(text)  # the parser reads it back: nothing was injected into the format
    names = {dict(k[1]).get("domain") for k in series if k[0] == "vmtui_domain_cpu_seconds_total"}
    assert names == {name}
    assert "\nnew line" not in text


def test_names_follow_prometheus_conventions_and_every_family_is_documented() -> None:
    documented = DOCS.read_text(encoding="utf-8")
    for name, (kind, _labels, _doc) in FAMILIES.items():
        assert re.fullmatch(r"vmtui_(host|domain)_[a-z0-9_]+", name), name
        assert name.endswith("_total") == (kind == "counter"), name
        assert name.endswith("_info") == (kind == "info"), name
        assert not re.search(r"_(kib|ms|ns|percent|pct)(_|$)", name), f"{name}: base units only"
        assert f"`{name}`" in documented, f"{name} is not described in docs/export.md"
