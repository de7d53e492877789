"""The TUI polls the rows on screen and every sort's leaders every tick, the others in a slower round,
and says which is which.

libvirt's test driver in-process (a node file of 60 running domains), real pollers; ticks are driven by
the test, one at a time, so every round is known. The test driver reports no CPU, disk or network
figures; MEM (the XML's currentMemory) is the live column whose leaders the tests set.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.tui.conftest import wait_for
from tests.tui_reading import visible_uuids
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.monitor.collector import SLOW_ROUND
from vmtui.screens.domain import DomainScreen
from vmtui.tui.messages import DomainOpenRequested
from vmtui.widgets.domain_table import DomainTable

pytestmark = pytest.mark.timeout(120)

DOMAINS = 60
BIG = 45
"""vm-045 has the most memory (1 GiB). The others have less the further down the alphabet they are
(vm-000 188 MiB ... vm-059 129 MiB), so a sort by memory shows vm-045, then the name sort's first page."""


def uuid_of(i: int) -> str:
    return f"00000000-0000-0000-0000-{i + 1:012d}"


def memory_kib(i: int) -> int:
    return 1_048_576 if i == BIG else 131_072 + (DOMAINS - i) * 1024


def node_file(path: Path) -> str:
    parts = ["<node>"]
    for i in range(DOMAINS):
        parts.append(
            f"<domain type='test'><name>vm-{i:03d}</name><uuid>{uuid_of(i)}</uuid><memory>1048576</memory>"
            f"<currentMemory>{memory_kib(i)}</currentMemory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os></domain>"
        )
    path.write_text("".join([*parts, "</node>"]), encoding="utf-8")
    return f"test://{path}"


async def one_tick(pilot: Pilot[None], app: VmtuiApp) -> None:
    """One poll of the host, and the table updated from it."""
    view = app.fleet.hosts["h"]
    before = view.tick
    app.pollers["h"].schedule_update()
    await wait_for(pilot, lambda: view.tick is not before)
    await pilot.pause()


def line_of(table: DomainTable, uuid: str) -> str:
    y = visible_uuids(table).index(uuid) - int(table.scroll_y) + 1
    return table.render_line(y).text


async def test_rows_off_screen_are_polled_in_the_slow_round_and_marked_until_then(tmp_path: Path) -> None:
    uri = node_file(tmp_path / "node.xml")
    app = VmtuiApp([HostEntry("h", uri)], interval=3600)  # no timer ticks: the test drives them
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.host_screen.query_one(DomainTable)
        await wait_for(pilot, lambda: len(visible_uuids(table)) == DOMAINS)
        poller = app.pollers["h"]
        await wait_for(pilot, lambda: poller.focus is not None and poller.focus == table.focus_uuids)
        on_screen = set(table.focus_uuids or ())
        assert 0 < len(on_screen) < DOMAINS / 2
        everyone = set(visible_uuids(table))

        await one_tick(pilot, app)  # the first round after connecting was full; this one is focused
        assert set(app.fleet.aged("h")) == everyone - on_screen
        last = visible_uuids(table)[-1]
        assert last not in on_screen

        # Scrolled into view: marked as old until the next tick, which samples it.
        await pilot.press("end")
        await pilot.pause()
        assert last in (poller.focus or ())
        assert "s old" in line_of(table, last)
        await one_tick(pilot, app)
        assert last not in app.fleet.aged("h")
        assert "old" not in line_of(table, last)

        # Within the slow round, every row off screen is sampled again: none is left marked.
        rounds = 0
        while app.fleet.aged("h"):
            await one_tick(pilot, app)
            rounds += 1
            assert rounds < SLOW_ROUND


async def test_the_leaders_of_a_live_column_are_polled_every_tick_so_its_sort_opens_fresh(tmp_path: Path) -> None:
    uri = node_file(tmp_path / "node.xml")
    app = VmtuiApp([HostEntry("h", uri)], interval=3600)
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.host_screen.query_one(DomainTable)
        await wait_for(pilot, lambda: len(visible_uuids(table)) == DOMAINS)
        poller = app.pollers["h"]
        await wait_for(pilot, lambda: poller.focus is not None and poller.focus == table.focus_uuids)
        body = table.size.height - 1
        big, idle = uuid_of(BIG), uuid_of(50)
        assert table.sort_key == "name"
        assert body < BIG  # vm-045 and vm-050 are below the first page of the name sort
        big_row = table.row(big)
        assert big_row is not None
        assert big_row.mem_cur_kib == 1_048_576

        await one_tick(pilot, app)  # a focused round
        aged = app.fleet.aged("h")
        assert big not in aged  # off screen, but first in a sort by memory: sampled
        assert idle in aged  # off screen and first in no sort: left to the slow round

        for _ in range(len(table.columns)):
            if table.sort_key == "mem_cur_kib":
                break
            await pilot.press("s")
        await pilot.pause()
        assert table.sort_key == "mem_cur_kib"
        assert table.sort_reverse  # largest first
        # The first page at once, before any tick: vm-045, then vm-000, vm-001, ... and none "old".
        page = visible_uuids(table)[:body]
        assert page == [big, *(uuid_of(i) for i in range(body - 1))]
        lines = [table.render_line(y).text for y in range(1, body + 1)]
        assert lines[0].split()[:3] == ["h", "vm-045", "running"]
        assert "1.0 GiB/1.0 GiB" in lines[0]
        assert [line for line in lines if "old" in line] == []
        # vm-050 comes after vm-045, vm-000..vm-044 and vm-046..vm-049: 51st, still off screen, still marked.
        assert visible_uuids(table).index(idle) == 50
        assert idle in app.fleet.aged("h")
        await pilot.press("end")
        await pilot.pause()
        assert "s old" in line_of(table, idle)


async def test_a_domain_opened_off_the_table_is_polled_every_tick(tmp_path: Path) -> None:
    uri = node_file(tmp_path / "node.xml")
    app = VmtuiApp([HostEntry("h", uri)], interval=3600)
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.host_screen.query_one(DomainTable)
        await wait_for(pilot, lambda: len(visible_uuids(table)) == DOMAINS)
        poller = app.pollers["h"]
        await wait_for(pilot, lambda: poller.focus is not None and poller.focus == table.focus_uuids)
        last = visible_uuids(table)[-1]
        assert last not in (poller.focus or ())
        app.post_message(DomainOpenRequested(last))  # as the command palette does
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        app._tick()  # the app's 1 s timer (not running here)
        assert last in (poller.focus or ())
        await wait_for(pilot, lambda: last not in app.fleet.aged("h") and poller.samples > 1)
