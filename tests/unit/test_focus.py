"""Polling what is on screen and every sort's leaders every tick and the rest in a slower round,
without ever passing an old figure off as a fresh one.

A scripted host: its clock and counters are set by the test, so every expected rate is written by hand.
"""

from __future__ import annotations

from collections.abc import Collection
from types import MappingProxyType

from vmtui.models import Accelerator, DomainInfo, DomainStats, HostInfo, HostSample
from vmtui.monitor.collector import SLOW_ROUND, Collector, Tick
from vmtui.tui.fleet import DomainRow
from vmtui.widgets.table_layout import leaders

ON = "00000000-0000-0000-0000-00000000000a"
OFF = "00000000-0000-0000-0000-00000000000b"
T0 = 1_700_000_000.0
"""time.time() of the first tick; the scripted host's monotonic clock starts at 0."""


class ScriptedHost:
    """Two running domains whose cpu.time the test sets; `now` is seconds since the first tick."""

    finite = False

    def __init__(self) -> None:
        self.now = 0.0
        self.cpu_ns = {ON: 0, OFF: 0}
        self.asked: list[set[str] | None] = []
        """What each sample() call asked for (None: every domain)."""

    def host_info(self, *, probe: bool = True) -> HostInfo:
        return HostInfo(
            uri="test:///scripted",
            hostname="h",
            libvirt_version="9.0.0",
            hypervisor="QEMU",
            hypervisor_version="7.2.0",
            kernel=None,
            cpus=8,
            cpu_model="x",
            memory_kib=1 << 24,
            kvm_usable=True,
            tdp=True,
            tdp_detail="",
        )

    def list_domains(self) -> list[DomainInfo]:
        return [
            DomainInfo(u, n, 1, "running", Accelerator.KVM, 1, 1024, 1024, True)
            for u, n in ((ON, "on-screen"), (OFF, "off-screen"))
        ]

    def domain(self, ident: str) -> DomainInfo:
        return next(d for d in self.list_domains() if ident in (d.uuid, d.name))

    def sample(self, host: str | None = None, *, only: Collection[str] | None = None) -> HostSample:
        self.asked.append(None if only is None else set(only))
        uuids = [u for u in (ON, OFF) if only is None or u in only]
        return HostSample(
            host=host or "h",
            uri="test:///scripted",
            monotonic=self.now,
            wall=T0 + self.now,
            cpu_ns=MappingProxyType({}),
            memory_kib=MappingProxyType({}),
            domains=tuple(
                DomainStats(u, u[-1], MappingProxyType({"state.state": 1, "cpu.time": self.cpu_ns[u]})) for u in uuids
            ),
        )


def run(host: ScriptedHost, collector: Collector, at: float, focus: frozenset[str] | None, *, off_ns: int) -> Tick:
    host.now = at
    host.cpu_ns[ON] = int(at * 250_000_000)  # 25 % of one CPU, steadily
    host.cpu_ns[OFF] = off_ns
    return collector.tick(focus)


def test_off_screen_rows_are_refreshed_within_the_slow_round_at_the_rate_of_their_own_interval() -> None:
    host = ScriptedHost()
    collector = Collector(host, "h")  # type: ignore[arg-type]
    on_screen = frozenset({ON})
    run(host, collector, 0.0, on_screen, off_ns=1_000_000_000)  # the first round is always full
    for second in range(1, SLOW_ROUND):
        tick = run(host, collector, float(second), on_screen, off_ns=1_000_000_000 + second * 900_000_000)
        assert tick.domains[ON].cpu_pct == 25.0  # on screen: fresh every tick
        assert tick.domains[OFF].elapsed_s == 0.0  # OFF's first sample, at T0: no rate yet
        assert tick.domains[OFF].cpu_pct is None
        assert tick.aged == {OFF: T0}  # ... is shown as taken at T0, not as this tick's figure
    # Second 5: the slow round. OFF used 4.0 s - 1.0 s = 3.0 s of CPU in the 5 s since its own last
    # sample: 60 %. (Over one tick's 1 s it would read 300 %; over 4 s, 75 %.)
    tick = run(host, collector, 5.0, on_screen, off_ns=4_000_000_000)
    assert host.asked == [None, {ON}, {ON}, {ON}, {ON}, None]
    assert tick.aged == {}
    assert tick.domains[OFF].elapsed_s == 5.0
    assert tick.domains[OFF].cpu_pct == 60.0
    assert tick.domains[ON].cpu_pct == 25.0


def test_a_row_scrolled_into_view_is_sampled_on_the_next_tick_over_its_own_interval() -> None:
    host = ScriptedHost()
    collector = Collector(host, "h")  # type: ignore[arg-type]
    run(host, collector, 0.0, frozenset({ON}), off_ns=0)
    tick = run(host, collector, 1.0, frozenset({ON}), off_ns=500_000_000)
    assert OFF in tick.aged
    # Scrolled: OFF is on screen now, ON is not. OFF's 1.5 s of CPU over the 2 s since its sample at 0: 75 %.
    tick = run(host, collector, 2.0, frozenset({OFF}), off_ns=1_500_000_000)
    assert host.asked[-1] == {OFF}
    assert OFF not in tick.aged
    assert tick.domains[OFF].elapsed_s == 2.0
    assert tick.domains[OFF].cpu_pct == 75.0
    assert tick.aged == {ON: T0 + 1.0}  # ON keeps its figure from second 1, marked as such


def test_without_a_focus_every_domain_is_sampled_every_tick() -> None:
    # `top`, `record` and `export` have no viewport: they never set a focus.
    host = ScriptedHost()
    collector = Collector(host, "h")  # type: ignore[arg-type]
    for second in range(SLOW_ROUND + 2):
        tick = run(host, collector, float(second), None, off_ns=second * 100_000_000)
        assert tick.aged == {}
    assert host.asked == [None] * (SLOW_ROUND + 2)
    assert tick.domains[OFF].cpu_pct == 10.0


def test_an_event_forces_a_full_round() -> None:
    host = ScriptedHost()
    collector = Collector(host, "h")  # type: ignore[arg-type]
    run(host, collector, 0.0, frozenset({ON}), off_ns=0)
    host.now = 1.0
    tick = collector.tick(frozenset({ON}), full=True)
    assert host.asked[-1] is None
    assert tick.aged == {}


def row(name: str, *, cpu: float | None = None, mem: int | None = None, disk: float | None = None) -> DomainRow:
    """A table row named and keyed `name`; no steal, overhead, network or exits figures."""
    return DomainRow(name, "h", name, "running", "kvm", 1, cpu, None, None, mem, 8, disk, None, None)


def test_the_leaders_are_the_first_page_of_each_live_column_largest_first() -> None:
    rows = [
        row("a", cpu=50.0, mem=1),
        row("b", cpu=10.0, mem=4),
        row("c", mem=2),  # shut off: no CPU %
        row("d", cpu=10.0),
        row("e", cpu=0.0, mem=3, disk=5.0),
        row("f", mem=4),
    ]
    # A page of 2. CPU: a (50), then b and d tie at 10: the sort breaks ties by host, then name, in
    # either direction: b. MEM: b and f tie at 4: b, f. DISK: only e has a figure; rows without one
    # follow by name: a. STEAL, OVHD, NET, EXITS: nobody has a figure, so the page is the first two
    # names: a, b. c and d come third or later in every one of those sorts: they lead nothing.
    assert leaders(rows, 2) == {"a", "b", "e", "f"}
    # A page of 1: CPU a, MEM b, DISK e, the others a.
    assert leaders(rows, 1) == {"a", "b", "e"}
