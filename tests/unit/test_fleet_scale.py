"""A large host's focused rounds cost the rows they sampled, not the whole host.

A scripted host of 2000 running domains, polled with a focus of one domain (the rows on screen): each
focused round samples that one; every SLOW_ROUND-th round samples all. The split-brain rule (a UUID
running on two hosts, asked per tick when the rows are drawn) must then look at the domains a round
sampled, not at all 2000 of them: counted by how often a domain's state is checked against
RUNNING_STATES. A host's running set, whatever the path, must be what `running_uuids` says.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Collection
from types import MappingProxyType

import pytest

from vmtui import split_brain
from vmtui.models import Accelerator, DomainInfo, DomainStats, HostEntry, HostInfo, HostSample
from vmtui.monitor.collector import SLOW_ROUND, Collector
from vmtui.monitor.events import HostSampled
from vmtui.monitor.poller import HostPoller, open_host
from vmtui.tui import fleet as fleet_module
from vmtui.tui.fleet import DomainRow, Fleet, History, HistoryPoint, HostRows

SIZE = 2000
T0 = 1_700_000_000.0


def uuid_of(i: int) -> str:
    return f"00000000-0000-0000-0000-{i:012d}"


class ManyHost:
    """SIZE running domains whose cpu.time moves by 10 ms a second; `paused` ones report state 3."""

    finite = False

    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self.asked: list[int] = []
        """How many domains each sample() call asked about."""
        self.now = 0.0
        self.paused: set[str] = set()
        self.hot: set[str] = set()
        """Domains whose cpu.time moves by a second more a second (`advance`): 101 % of their one vCPU."""
        self.burnt: dict[str, int] = {}
        self.still = False
        """Every counter stands still (an idle fleet, the test driver's): the collector reuses each metrics object."""

        self.listed = 0
        """Calls of list_domains (one XMLDesc round trip per domain on a real host)."""

    def advance(self) -> None:
        self.now += 1.0
        for uuid in self.hot:
            self.burnt[uuid] = self.burnt.get(uuid, 0) + 1_000_000_000

    def host_info(self, *, probe: bool = True) -> HostInfo:
        return HostInfo(
            uri="test:///many",
            hostname="h",
            libvirt_version="9.0.0",
            hypervisor="QEMU",
            hypervisor_version="7.2.0",
            kernel=None,
            cpus=8,
            cpu_model="x",
            memory_kib=1 << 30,
            kvm_usable=True,
            tdp=True,
            tdp_detail="",
        )

    def list_domains(self) -> list[DomainInfo]:
        self.listed += 1
        return [
            DomainInfo(uuid_of(i), f"d{i:04d}", 1, "running", Accelerator.KVM, 1, 1024, 1024, True)
            for i in range(self.size)
        ]

    def on_lifecycle(self, _callback: object) -> None: ...

    def on_closed(self, _callback: object) -> None: ...

    def close(self) -> None: ...

    def is_alive(self) -> bool:
        return True

    def domain(self, ident: str) -> DomainInfo:
        return next(d for d in self.list_domains() if ident == d.uuid)

    def sample(self, host: str | None = None, *, only: Collection[str] | None = None) -> HostSample:
        uuids = [uuid_of(i) for i in range(self.size)] if only is None else list(only)
        self.asked.append(len(uuids))
        domains = tuple(
            DomainStats(
                u,
                u,
                MappingProxyType(
                    {
                        "state.state": 3 if u in self.paused else 1,
                        "cpu.time": (0 if self.still else int(self.now * 1e7)) + self.burnt.get(u, 0),
                    }
                ),
            )
            for u in uuids
        )
        return HostSample(
            host=host or "many",
            uri="test:///many",
            monotonic=self.now,
            wall=T0 + self.now,
            cpu_ns={},
            memory_kib={},
            domains=domains,
        )


class CountingStates(frozenset[str]):
    """RUNNING_STATES that counts how often a domain's state is checked against it."""

    asked = 0

    def __contains__(self, item: object) -> bool:
        CountingStates.asked += 1
        return super().__contains__(item)


def test_a_focused_round_checks_the_states_of_the_domains_it_sampled_not_of_the_whole_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = ManyHost()
    collector = Collector(host, "many")  # type: ignore[arg-type]
    fleet = Fleet([("many", True)], clock=lambda: T0 + host.now)
    watched = uuid_of(7)
    focus = frozenset({watched})
    facts = MappingProxyType(dict(collector.domains))  # the poller re-sends one object until the facts change

    def poll() -> None:
        host.now += 1.0
        tick = collector.tick(focus)
        fleet.sampled("many", tick, facts)
        fleet.split_brain()  # as drawing the rows does, every tick

    for _ in range(2):  # a full round, then a focused one
        poll()
    monkeypatch.setattr(split_brain, "RUNNING_STATES", CountingStates(split_brain.RUNNING_STATES))
    CountingStates.asked = 0
    host.paused.add(watched)
    poll()  # focused: the watched domain alone was sampled, and it paused
    assert CountingStates.asked == 1
    view = fleet.host("many")
    assert view.tick is not None
    assert fleet._running(view) == split_brain.running_uuids(view.tick.domains, view.domains)
    assert watched not in fleet._running(view)
    assert len(fleet._running(view)) == SIZE - 1


def test_a_large_hosts_first_sample_goes_out_before_its_domains_facts_are_read() -> None:
    host = ManyHost()
    events: list[object] = []
    poller = HostPoller(HostEntry("many", "test:///many"), events.append, connector=lambda _entry: host)  # type: ignore[arg-type,return-value]
    assert poller._connect() is None
    assert host.listed == 0  # connected without reading 2000 domains' XML
    assert poller._poll_once() is None
    first = [e for e in events if isinstance(e, HostSampled)][0]
    assert len(first.tick.domains) == SIZE  # every row, named and with its state, from the bulk call
    assert dict(first.domains) == {}  # the facts come next
    assert host.listed == 0
    assert poller._poll_once() is None
    second = [e for e in events if isinstance(e, HostSampled)][1]
    assert host.listed == 1
    assert second.domains[uuid_of(7)].name == "d0007"


def test_a_small_hosts_first_sample_carries_its_facts() -> None:
    host = ManyHost()
    collector = Collector(host, "many", facts_at_once=SIZE)  # type: ignore[arg-type]
    assert host.listed == 0
    collector.tick()
    assert host.listed == 1
    assert collector.domains[uuid_of(7)].name == "d0007"
    assert not collector.facts_due


def test_a_domains_history_keeps_its_last_points_oldest_first_in_a_bounded_few_kilobytes() -> None:
    ring = History(3)
    for i in range(5):
        ring.append(HistoryPoint(float(i), i + 0.5, i * 10.0, i * 100.0))
    assert len(ring) == 3
    assert list(ring) == [
        HistoryPoint(2.0, 2.5, 20.0, 200.0),
        HistoryPoint(3.0, 3.5, 30.0, 300.0),
        HistoryPoint(4.0, 4.5, 40.0, 400.0),
    ]
    # 1000 moving points into a history of 300: what it holds stays 300 points of four doubles (9600 bytes),
    # where HistoryPoint objects with their floats took ~170 bytes a point (51 KB per domain).
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        full = History(300)
        for i in range(1000):
            full.append(HistoryPoint(i * 0.25, i * 0.5, i * 1000.0, i * 4096.0))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(full) == 300
    assert next(iter(full)) == HistoryPoint(700 * 0.25, 700 * 0.5, 700 * 1000.0, 700 * 4096.0)
    assert held < 12_000


def test_a_host_of_6000_domains_is_sampled_whole_every_6th_round_one_of_2000_every_5th() -> None:
    for size, every in ((6000, 6), (SIZE, SLOW_ROUND)):
        host = ManyHost(size)
        collector = Collector(host, "many")  # type: ignore[arg-type]
        for _ in range(2 * every + 1):
            host.now += 1.0
            collector.tick(frozenset({uuid_of(7)}))
        # Whole rounds (every domain asked) at rounds 0, every, 2 x every; the focus alone in between.
        whole = [i for i, n in enumerate(host.asked) if n == size]
        assert whole == [0, every, 2 * every], size
        assert all(n == 1 for i, n in enumerate(host.asked) if i not in whole)


class CountingAlerts:
    """fleet.row_alerts that counts the rows whose alerts are worked out."""

    def __init__(self) -> None:
        self.asked = 0
        self._real = fleet_module.row_alerts

    def __call__(self, *args: object) -> object:
        self.asked += 1
        return self._real(*args)  # type: ignore[arg-type]


def test_a_focused_round_rebuilds_and_judges_only_the_rows_it_sampled(monkeypatch: pytest.MonkeyPatch) -> None:
    host = ManyHost()
    collector = Collector(host, "many")  # type: ignore[arg-type]
    fleet = Fleet([("many", True)], clock=lambda: T0 + host.now)
    watched, other = uuid_of(7), uuid_of(8)
    focus = frozenset({watched})
    facts = MappingProxyType(dict(collector.domains))
    built = []

    def poll() -> HostRows:
        host.advance()
        fleet.sampled("many", collector.tick(focus), facts)
        told.extend(fleet.newly_critical("many"))  # as each sample does
        fleet.alert_counts("many")  # as the hosts pane does
        rows = fleet.rows("many")  # as the table does
        built.append(rows)
        return rows

    told: list[tuple[DomainRow, tuple[str, ...]]] = []
    for _ in range(SLOW_ROUND + 1):  # two whole rounds (rates for every domain), focused ones between
        poll()
    counting = CountingAlerts()
    monkeypatch.setattr(fleet_module, "row_alerts", counting)
    idle = poll()  # focused; the watched domain's counters moved as before (1 % CPU): the same row
    assert idle is built[-2]
    assert counting.asked == 0
    host.hot.add(watched)
    host.hot.add(other)  # off screen: not sampled by a focused round, so its row cannot change yet
    hot = poll()
    assert hot.base is built[-2]
    assert [r.uuid for r in hot.changed] == [watched]
    assert len(hot) == SIZE
    # One row changed: newly_critical and alert_counts each judged that one, not the 2000.
    assert counting.asked == 2
    # 101 % of its one vCPU is critical (90 %, thresholds.py's default): said once, counted once.
    assert [row.uuid for row, keys in told] == [watched]
    assert told[0][1] == ("cpu",)
    assert fleet.alert_counts("many") == (0, 1)
    by_uuid = {r.uuid: r for r in hot}
    assert by_uuid[watched].cpu == pytest.approx(101.0, rel=0.01)
    assert by_uuid[other].cpu == pytest.approx(1.0, rel=0.01)  # its last sample's figure, until sampled again
    poll()
    assert len(told) == 1  # still critical: no second notification
    host.hot.discard(watched)
    cooled = poll()
    assert [r.uuid for r in cooled.changed] == [watched]
    assert fleet.alert_counts("many") == (0, 0)
    assert counting.asked == 4  # hot, then cooled: two rows judged twice (still hot: the same row, the same list)
    whole = poll()  # the next whole round samples the off-screen one: 4 s burnt in its 5 s since, plus 1 %
    assert [r.uuid for r in whole.changed] == [other]  # the others' figures are as before (1 %)
    assert {r.uuid: r.cpu for r in whole if r.cpu is not None and r.cpu > 2} == {other: pytest.approx(81.0, rel=0.01)}
    assert fleet.alert_counts("many") == (1, 0)  # 81 % is at warn (75 %), not critical (90 %)
    assert len(told) == 1


def test_what_the_fleet_holds_per_domain_stays_under_700_bytes() -> None:
    # Rows, their cache, history of one point, alert levels: 624 bytes a domain here. Before the cached
    # history point per domain went and the row cache was nested by host (no key tuple each): 809.
    host = ManyHost()
    collector = Collector(host, "many")  # type: ignore[arg-type]
    facts = MappingProxyType(dict(collector.domains))
    ticks = []
    for _ in range(2):  # a first sample, then one with rates: a history point per domain
        host.advance()
        ticks.append(collector.tick())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fleet = Fleet([("many", True)], clock=lambda: T0 + host.now)
        for tick in ticks:
            fleet.sampled("many", tick, facts)
            fleet.rows("many")
            fleet.alert_counts("many")
            fleet.newly_critical("many")
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert all(len(fleet.history[uuid_of(i)]) == 1 for i in range(SIZE))
    assert held / SIZE < 700


def test_a_domains_uuid_and_name_are_one_string_in_every_sample_and_in_its_facts() -> None:
    # Each round's UUIDs and names are the strings every table keys by: one per domain, not one per round.
    conn = open_host(HostEntry("t", "test:///default"))
    try:
        first, second = conn.sample().domains[0], conn.sample().domains[0]
        facts = conn.list_domains()[0]
    finally:
        conn.close()
    assert first.uuid == facts.uuid  # test:///default has one domain, "test"
    assert first.uuid is second.uuid is facts.uuid
    assert first.name is second.name is facts.name


def test_domains_without_kvm_figures_share_one_empty_mapping_of_each() -> None:
    host = ManyHost(2)
    collector = Collector(host, "many")  # type: ignore[arg-type]
    for _ in range(2):
        host.advance()
        tick = collector.tick()
    a, b = tick.domains[uuid_of(0)], tick.domains[uuid_of(1)]
    assert a is not b
    assert a.exits_by_reason == a.mmu_per_s == a.pages == {}
    assert a.exits_by_reason is b.exits_by_reason
    assert a.mmu_per_s is b.mmu_per_s
    assert a.pages is b.pages


def test_a_whole_round_of_an_idle_host_builds_no_row_and_checks_no_state(monkeypatch: pytest.MonkeyPatch) -> None:
    host = ManyHost()
    host.still = True
    collector = Collector(host, "many")  # type: ignore[arg-type]
    fleet = Fleet([("many", True)], clock=lambda: T0 + host.now)
    facts = MappingProxyType(dict(collector.domains))
    built: list[HostRows] = []
    rows_built = 0
    real_row = Fleet._row

    def counting_row(self: Fleet, *args: object) -> DomainRow | None:
        nonlocal rows_built
        rows_built += 1
        return real_row(self, *args)  # type: ignore[arg-type]

    def poll() -> None:
        host.advance()
        fleet.sampled("many", collector.tick(frozenset({uuid_of(7)})), facts)
        fleet.split_brain()
        built.append(fleet.rows("many"))

    for _ in range(2 * SLOW_ROUND):  # two whole rounds: every domain's metrics object is reused from the second
        poll()
    monkeypatch.setattr(Fleet, "_row", counting_row)
    monkeypatch.setattr(split_brain, "RUNNING_STATES", CountingStates(split_brain.RUNNING_STATES))
    CountingStates.asked = 0
    for _ in range(SLOW_ROUND):  # focused rounds, then the third whole round (every domain sampled)
        poll()
    assert host.asked[-SLOW_ROUND:] == [SIZE] + [1] * (SLOW_ROUND - 1)
    assert all(rows is built[2 * SLOW_ROUND - 1] for rows in built[2 * SLOW_ROUND :])
    assert rows_built == 0  # every metrics object as before: the same rows (Fleet.rows compares the mapping)
    assert CountingStates.asked == SLOW_ROUND - 1  # the watched domain per focused round; none for the whole one
    # A domain that pauses is seen by the next whole round, though off screen: its row alone is rebuilt.
    host.paused.add(uuid_of(9))
    for _ in range(SLOW_ROUND):
        poll()
    paused = built[-1]
    assert [r.uuid for r in paused.changed] == [uuid_of(9)]
    assert rows_built == 1
    assert {r.uuid: r.state for r in paused if r.state != "running"} == {uuid_of(9): "paused"}
    view = fleet.host("many")
    assert fleet._running(view) == frozenset(uuid_of(i) for i in range(SIZE)) - {uuid_of(9)}
