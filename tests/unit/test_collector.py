"""The collector on libvirt's test driver (real libvirt code, simulated host)."""

from __future__ import annotations

from vmtui.drivers import connect
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
