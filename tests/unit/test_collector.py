"""The collector on libvirt's test driver (real libvirt code, simulated host)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmtui.drivers import connect
from vmtui.drivers.replay import ReplayHost, load_recording, replay_uri
from vmtui.monitor import collector as collector_module
from vmtui.monitor.collector import Collector


def test_metrics_of_a_domain_whose_counters_stand_still_are_reused_until_they_move() -> None:
    with connect("test:///default") as conn:
        collector = Collector(conn, "t")
        (uuid,) = collector.domains
        first = collector.tick().domains[uuid]
        second = collector.tick().domains[uuid]
        third = collector.tick().domains[uuid]
        assert second.elapsed_s > 0
        assert third is second  # nothing changed: not recomputed, and the UI can skip the row
        conn.lifecycle(uuid, "suspend")
        moved = collector.tick().domains[uuid]
        assert moved is not third
        assert moved.state == "paused"
        assert first.state == "running"


def test_new_domains_are_picked_up_without_a_restart() -> None:
    with connect("test:///default") as conn:
        collector = Collector(conn, "t")
        collector.tick()
        xml = conn.domain_xml("test").replace("<name>test</name>", "<name>second</name>")
        xml = xml.replace(conn.domain("test").uuid, "11111111-2222-3333-4444-555555555555")
        conn.define_and_start(xml)
        tick = collector.tick()
        names = {collector.domains[u].name for u in tick.domains}
        assert names == {"test", "second"}


def test_refresh_one_domain_rereads_it_and_drops_it_when_gone() -> None:
    with connect("test:///default") as conn:
        collector = Collector(conn, "t")
        (uuid,) = collector.domains
        conn.lifecycle(uuid, "suspend")
        collector.refresh_domain(uuid)
        assert collector.domains[uuid].state == "paused"
        conn.destroy_and_undefine(uuid)
        collector.refresh_domain(uuid)
        assert uuid not in collector.domains


def test_a_partial_sample_asks_libvirt_about_the_named_domains_only() -> None:
    with connect("test:///default") as conn:
        collector = Collector(conn, "t")
        (uuid,) = collector.domains
        assert [d.uuid for d in conn.sample("t").domains] == [uuid]
        assert [d.uuid for d in conn.sample("t", only=[uuid]).domains] == [uuid]  # domainListGetStats
        assert conn.sample("t", only=[]).domains == ()
        collector.tick(frozenset())
        tick = collector.tick(frozenset())  # nothing on screen: the domain keeps its figure, marked old
        assert set(tick.aged) == {uuid}
        assert tick.domains[uuid].state == "running"


def test_a_busy_domain_keeps_its_last_whole_metrics_marked_aged_and_busy() -> None:
    from dataclasses import replace

    from vmtui.models import HostSample

    with connect("test:///default") as conn:
        real_sample = conn.sample
        busy_now = False

        def sample(host: str | None = None, *, only: object = None) -> HostSample:
            # What libvirt answers with NOWAIT for a domain under a job: its state and CPU time only.
            whole = real_sample(host)
            if not busy_now:
                return whole
            cut = [replace(d, raw={k: v for k, v in d.raw.items() if k.startswith("state.")}, busy=True)
                   for d in whole.domains]  # fmt: skip
            return replace(whole, domains=tuple(cut))

        conn.sample = sample  # type: ignore[method-assign]
        collector = Collector(conn, "t")
        (uuid,) = collector.domains
        collector.tick()
        whole = collector.tick()
        assert whole.busy == frozenset()
        assert not whole.aged
        busy_now = True
        held = collector.tick()
        assert held.busy == {uuid}
        assert held.domains[uuid] is whole.domains[uuid]  # the last whole figures, not half a record's
        assert held.aged == {uuid: whole.sample.wall}
        busy_now = False
        free = collector.tick()
        assert free.busy == frozenset()
        assert not free.aged
        assert free.domains[uuid].elapsed_s > 0  # rates against the last whole sample


def test_a_recording_keeps_which_domains_were_busy() -> None:
    import json
    from dataclasses import replace

    from vmtui.drivers.replay import _sample, sample_line

    with connect("test:///default") as conn:
        whole = conn.sample("t")
    busy = replace(whole, domains=tuple(replace(d, busy=True) for d in whole.domains))
    assert [d.busy for d in _sample(json.loads(sample_line(busy))).domains] == [True]
    line = json.loads(sample_line(whole))
    assert "busy" not in line["domains"][0]  # recordings made before it read the same
    assert [d.busy for d in _sample(line).domains] == [False]


def test_a_samples_wall_time_is_when_it_was_asked_not_when_it_returned() -> None:
    """A bulk call that began before a lifecycle event and returned after it holds the state from before:
    stamped with its return time, it replaced the event's newer state (a resumed row read `paused` again
    for a moment). Stamped when asked, it is older than the event and waits for the next sample."""
    import time

    from vmtui.drivers import connect

    with connect("test:///default") as conn:
        slow = conn._bulk_stats  # noqa: SLF001

        def slow_bulk(only: object) -> object:
            time.sleep(0.3)
            return slow(only)  # type: ignore[arg-type]

        conn._bulk_stats = slow_bulk  # type: ignore[method-assign,assignment]  # noqa: SLF001
        asked = time.time()
        sample = conn.sample("h")
    assert asked <= sample.wall < asked + 0.2  # not ~0.3 s later, when the answer came


QEMU_RECORDING = Path(__file__).resolve().parents[1] / "fixtures" / "qemu-kvm-tcg-3guests.jsonl"


def test_the_exporters_collector_hands_out_the_same_samples_host_figures_and_facts_without_domain_metrics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`derive=False` (the exporter's) over recorded QEMU guests: every tick as the TUI's collector makes it,
    but for the domain metrics, which it never computes."""
    host = "qemu:///system"
    full = Collector(ReplayHost(replay_uri(QEMU_RECORDING, host)), host)
    rounds = len(load_recording(QEMU_RECORDING).samples[host])
    expected = [full.tick() for _ in range(rounds)]
    assert all(t.domains for t in expected)  # the recording's guests have metrics...
    assert expected[-1].host.cpu_pct is not None  # ...and its host a CPU figure (from two samples)

    def no_metrics(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("domain metrics computed for the exporter")

    monkeypatch.setattr(collector_module, "domain_metrics", no_metrics)
    light = Collector(ReplayHost(replay_uri(QEMU_RECORDING, host)), host, derive=False)
    for want in expected:
        got = light.tick()
        assert got.sample == want.sample
        assert got.host == want.host  # host CPU % needs the previous sample: kept as before
        assert got.busy == want.busy
        assert not got.domains
        assert not got.aged
    assert light.domains == full.domains


def test_the_exporters_collector_reads_new_domains_facts_and_reports_busy_ones() -> None:
    from dataclasses import replace

    from vmtui.models import HostSample

    with connect("test:///default") as conn:
        real_sample = conn.sample
        busy_now = False

        def sample(host: str | None = None, *, only: object = None) -> HostSample:
            whole = real_sample(host)
            if not busy_now:
                return whole
            return replace(whole, domains=tuple(replace(d, busy=True) for d in whole.domains))

        conn.sample = sample  # type: ignore[method-assign]
        collector = Collector(conn, "t", derive=False)
        (uuid,) = collector.domains
        collector.tick()
        xml = conn.domain_xml("test").replace("<name>test</name>", "<name>second</name>")
        second = "11111111-2222-3333-4444-555555555555"
        conn.define_and_start(xml.replace(uuid, second))
        tick = collector.tick()
        assert {d.uuid for d in tick.sample.domains} == {uuid, second}
        assert collector.domains[second].name == "second"  # read when it first showed up
        assert tick.busy == frozenset()
        busy_now = True
        assert collector.tick().busy == {uuid, second}
