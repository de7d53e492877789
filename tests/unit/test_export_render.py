"""The exporter's hand-rendered page against prometheus-client's own rendering of the same samples.

The page (`vmtui.export.render`) is rendered poll by poll; `families.scrape` hands the same samples to
prometheus-client's metric families, whose `generate_latest` is the reference. The two must be the same
lines, byte for byte (the page lists the per-scrape family last, so the lines are compared sorted), and
Prometheus' own checker (`promtool check metrics`) must accept the page. The rest counts the work: a scrape
of an unchanged fleet formats no value again and compresses nothing again; a poll formats only the values
that moved.
"""

from __future__ import annotations

import gzip
import subprocess
from dataclasses import replace
from types import MappingProxyType

import pytest
from fixtures_export import KVM, LAB1_WALL, exposition, views

from vmtui.export import render
from vmtui.export.families import STALE_AFTER, CounterGuard, HostView, scrape
from vmtui.export.state import ExportState
from vmtui.models import DomainStats
from vmtui.monitor.events import HostConnected, HostDisconnected, HostSampled

PROMTOOL = "/usr/bin/promtool"
STEAL = "vmtui_domain_vcpu_steal_seconds_total{{{}}}".format(
    f'domain="{KVM["domain"]}",host="lab1",uuid="{KVM["uuid"]}",vcpu="0"'
)
"""lab1-kvm-virtio's vCPU 0 steal time as the page names it (labels sorted by name)."""


def state_of(hosts: list[HostView]) -> ExportState:
    """An ExportState fed as the driver feeds it: connected, then the hosts' samples."""
    state = ExportState([h.name for h in hosts])
    for view in hosts:
        assert view.info is not None
        assert view.sampled is not None
        state.apply(HostConnected(view.name, view.info, reconnected=False))
        state.apply(view.sampled)
    return state


def page_text(state: ExportState, now: float) -> str:
    return b"".join(state.page(b"", now=now).plain()).decode()


def reference(state: ExportState, now: float) -> str:
    return exposition(scrape(state.views(), now=now, guard=CounterGuard()))


def assert_same_lines(page: str, ref: str) -> None:
    assert sorted(page.splitlines()) == sorted(ref.splitlines())
    # A family's lines stay together (the text format requires it): one HELP per family, samples after it.
    names = [line.split()[2] for line in page.splitlines() if line.startswith("# HELP")]
    assert len(names) == len(set(names))


def with_domains(view: HostView, domains: tuple[DomainStats, ...], wall: float) -> HostSampled:
    assert view.sampled is not None
    sample = replace(view.sampled.tick.sample, domains=domains, wall=wall)
    return replace(view.sampled, tick=replace(view.sampled.tick, sample=sample))


def test_the_page_is_prometheus_clients_rendering_of_the_same_samples_and_promtool_accepts_it() -> None:
    state = state_of(views())
    now = LAB1_WALL + 2.0
    page = page_text(state, now)
    assert "vmtui_domain_vcpu_steal_seconds_total{" in page  # the fleet's series are all there
    assert_same_lines(page, reference(state, now))
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=page, capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout + check.stderr == ""  # no lint remark either


def test_the_page_follows_polls_names_from_hosts_a_down_host_and_staleness_as_the_reference_does() -> None:
    lab1, lab2 = views()
    state = state_of([lab1, lab2])
    assert lab1.sampled is not None
    first = lab1.sampled.tick.sample.domains
    # Next poll: one domain renamed to everything the text format must escape, one gone, counters moved.
    odd = replace(first[0], name='q\'"<&>\\x\nnew line {bad="label"}', raw=MappingProxyType({**first[0].raw}))
    moved = {**first[1].raw, "cpu.time": int(first[1].raw["cpu.time"]) + 10**9}
    later = with_domains(lab1, (odd, replace(first[1], raw=MappingProxyType(moved))), LAB1_WALL + 1)
    state.apply(later)
    now = LAB1_WALL + 3.0
    page = page_text(state, now)
    assert_same_lines(page, reference(state, now))
    assert f'uuid="{first[2].uuid}"' not in page  # the domain that left has no series left
    # lab2 goes down: its last sample is served with its age, then only its own series once it is stale.
    state.apply(HostDisconnected("lab2", "end of file", LAB1_WALL, LAB1_WALL + 5, 1))
    for at in (LAB1_WALL + 60, LAB1_WALL + STALE_AFTER + 10):
        assert_same_lines(page_text(state, at), reference(state, at))
    assert 'host="lab2",uuid=' not in page_text(state, LAB1_WALL + STALE_AFTER + 10)


def test_a_scrape_of_an_unchanged_fleet_formats_and_compresses_nothing_again(monkeypatch: pytest.MonkeyPatch) -> None:
    state = state_of(views())
    formatted: list[float] = []
    real = render.value_text

    def counting(value: float) -> str:
        formatted.append(value)
        return real(value)

    monkeypatch.setattr(render, "value_text", counting)
    now = LAB1_WALL + 2.0
    one, two = state.page(b"", now=now), state.page(b"", now=now + 15)
    assert one.body is two.body  # the joined page and its gzip stream: made once, shared by both scrapes
    # Only each host's sample age, per scrape: lab1's sample is 2 s old at the first scrape, 17 s at the second.
    assert len(formatted) == 4
    assert formatted[0] == pytest.approx(2.0)
    assert formatted[2] == pytest.approx(17.0)
    assert gzip.decompress(two.gzipped()) == b"".join(two.plain())


def test_a_poll_formats_only_the_values_that_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    lab1, lab2 = views()
    state = state_of([lab1, lab2])
    assert lab1.sampled is not None
    domains = lab1.sampled.tick.sample.domains
    formatted: list[float] = []
    real = render.value_text

    def counting(value: float) -> str:
        formatted.append(value)
        return real(value)

    monkeypatch.setattr(render, "value_text", counting)
    # The same counters a second later, but for lab1-kvm-virtio, whose steal time moved by 0.5 s:
    # vcpu.0.delay 3741330230 ns -> 4241330230 ns, 4.24133023 s.
    kvm = next(d for d in domains if d.uuid == KVM["uuid"])
    moved = replace(kvm, raw=MappingProxyType({**kvm.raw, "vcpu.0.delay": 4241330230}))
    state.apply(with_domains(lab1, tuple(moved if d is kvm else d for d in domains), LAB1_WALL + 1))
    # The host's last sample time, and the one counter: nothing else was formatted again.
    assert formatted[0] == LAB1_WALL + 1
    assert formatted[1:] == [pytest.approx(4.24133023)]
    line = (
        f'vmtui_domain_vcpu_steal_seconds_total{{domain="{KVM["domain"]}",host="lab1",uuid="{KVM["uuid"]}",vcpu="0"}}'
    )
    assert f"{line} 4.24133023 {int((LAB1_WALL + 1) * 1000)}\n" in page_text(state, LAB1_WALL + 2)


def test_only_the_polls_a_scrape_serves_are_rendered_and_an_early_scrape_still_gets_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lab1, lab2 = views()
    assert lab1.sampled is not None
    domains = lab1.sampled.tick.sample.domains
    kvm = next(d for d in domains if d.uuid == KVM["uuid"])
    clock = [0.0]
    page = render.FleetPage(["lab1", "lab2"], interval=5.0, clock=lambda: clock[0])
    for view in (lab1, lab2):
        page.put(view, sampled=True)
    formatted: list[float] = []
    real = render.value_text

    def counting(value: float) -> str:
        formatted.append(value)
        return real(value)

    monkeypatch.setattr(render, "value_text", counting)

    def poll(at: float, steal_ns: int) -> None:
        clock[0] = at
        moved = replace(kvm, raw=MappingProxyType({**kvm.raw, "vcpu.0.delay": steal_ns}))
        sampled = with_domains(lab1, tuple(moved if d is kvm else d for d in domains), LAB1_WALL + at)
        page.put(replace(lab1, sampled=sampled), sampled=True)

    def scrape_at(at: float) -> str:
        clock[0] = at
        return b"".join(page.page(LAB1_WALL + at).plain()).decode()

    scrape_at(1.0)
    scrape_at(16.0)  # scraped every 15 s: the next scrape is due at 31
    poll(20.0, 4_000_000_000)  # the poll after it (25) comes before 31: never served, never rendered
    poll(25.0, 5_000_000_000)  # the one after it (30) comes before 31 too
    assert 4.0 not in formatted
    assert 5.0 not in formatted
    poll(30.0, 6_000_000_000)  # the next (35) comes after 31: this is the one the scrape serves
    assert formatted.count(6.0) == 1
    text = scrape_at(31.0)
    assert formatted.count(6.0) == 1  # the scrape rendered nothing of the fleet
    steal = (
        f'vmtui_domain_vcpu_steal_seconds_total{{domain="{KVM["domain"]}",host="lab1",uuid="{KVM["uuid"]}",vcpu="0"}}'
    )
    assert f"{steal} 6.0 {int((LAB1_WALL + 30) * 1000)}\n" in text
    # A scrape earlier than foreseen (a second Prometheus, a manual curl) gets the last poll all the same.
    poll(35.0, 7_000_000_000)
    assert 7.0 not in formatted
    text = scrape_at(36.0)
    assert f"{steal} 7.0 {int((LAB1_WALL + 35) * 1000)}\n" in text
    now = LAB1_WALL + 36.0
    assert_same_lines(text, exposition(scrape(page.views(), now=now, guard=CounterGuard())))
    # Scraped no more (the last scrape at 36, a period of 5 s): after 4 x 5 s polls wait for a scrape.
    poll(60.0, 8_000_000_000)
    assert 8.0 not in formatted
    assert f"{steal} 8.0 {int((LAB1_WALL + 60) * 1000)}\n" in scrape_at(300.0)


def test_each_host_has_one_renderer_made_once_not_one_per_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """A renderer holds 70 families' label sets: one made (and thrown away) per event cost the driver thread
    about a tenth of its time at 50 hosts (py-spy, issue 26)."""
    made: list[object] = []

    class Counted(render.HostRenderer):
        def __init__(self) -> None:
            made.append(self)
            super().__init__()

    monkeypatch.setattr(render, "HostRenderer", Counted)
    lab1, lab2 = views()
    state = state_of([lab1, lab2])
    assert lab1.sampled is not None
    for second in range(1, 4):
        state.apply(with_domains(lab1, lab1.sampled.tick.sample.domains, LAB1_WALL + second))
    assert len(made) == 2


def test_a_domains_series_follow_its_record_when_keys_go_missing_come_back_or_its_shape_changes() -> None:
    """A domain's direct series (one raw key each) are kept per domain and shape: a record that lacks keys
    (a busy domain: state and CPU time only), whose keys come back, or that grows a vCPU, is rendered as the
    reference renders it, every poll."""
    lab1, lab2 = views()
    state = state_of([lab1, lab2])
    assert lab1.sampled is not None
    domains = lab1.sampled.tick.sample.domains
    kvm = next(d for d in domains if d.uuid == KVM["uuid"])
    half = {k: v for k, v in kvm.raw.items() if k.startswith(("state.", "cpu."))}
    assert int(kvm.raw["vcpu.current"]) == 1
    # (vcpu.1.time 0: the overhead, cpu - the vCPUs, stays put; the reference has no memory to keep it up)
    grown = {**kvm.raw, "vcpu.current": 2, "vcpu.1.time": 0, "vcpu.1.delay": 10**9, "vcpu.1.wait": 0}
    polls = [
        replace(kvm, raw=MappingProxyType(half), busy=True),
        kvm,
        replace(kvm, raw=MappingProxyType(grown)),
    ]
    for second, dom in enumerate(polls, start=1):
        state.apply(with_domains(lab1, tuple(dom if d is kvm else d for d in domains), LAB1_WALL + second))
        now = LAB1_WALL + second + 0.5
        page = page_text(state, now)
        assert_same_lines(page, reference(state, now))
        assert (STEAL in page) is (second > 1)  # absent while the record lacked it, then back
    assert 'vcpu="1"} 1.0 ' in page  # the second vCPU's steal time, 1 s


def test_a_domain_that_leaves_leaves_nothing_behind_in_its_hosts_renderer() -> None:
    lab1, _lab2 = views()
    assert lab1.sampled is not None
    domains = lab1.sampled.tick.sample.domains
    renderer = render.HostRenderer()
    renderer.sample(lab1)
    gone = domains[-1].uuid
    later = replace(lab1, sampled=with_domains(lab1, domains[:-1], LAB1_WALL + 1))
    renderer.sample(later)
    kept = [
        *(head for family in renderer._families.values() for head, *_ in family.last.values()),  # noqa: SLF001
        *(entry[0] for series in renderer._direct_series.values() for entry, _ in series.entries),  # noqa: SLF001
    ]
    assert kept  # the domains still there keep theirs
    assert not [head for head in kept if gone in head]
