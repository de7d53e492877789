"""The TUI polls the rows on screen every tick and the others in a slower round, and says which is which.

libvirt's test driver in-process (a node file of 60 running domains), real pollers; ticks are driven by
the test, one at a time, so every round is known.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.tui.conftest import wait_for
from vmtui.app import VmtuiApp
from vmtui.messages import DomainOpenRequested
from vmtui.models import HostEntry
from vmtui.monitor.collector import SLOW_ROUND
from vmtui.screens.domain import DomainScreen
from vmtui.widgets.domain_table import DomainTable

pytestmark = pytest.mark.timeout(120)

DOMAINS = 60


def node_file(path: Path) -> str:
    parts = ["<node>"]
    for i in range(DOMAINS):
        parts.append(
            f"<domain type='test'><name>vm-{i:03d}</name><uuid>00000000-0000-0000-0000-{i + 1:012d}</uuid>"
            "<memory>131072</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>"
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
    y = table.visible_uuids.index(uuid) - int(table.scroll_y) + 1
    return table.render_line(y).text


async def test_rows_off_screen_are_polled_in_the_slow_round_and_marked_until_then(tmp_path: Path) -> None:
    uri = node_file(tmp_path / "node.xml")
    app = VmtuiApp([HostEntry("h", uri)], interval=3600)  # no timer ticks: the test drives them
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.host_screen.query_one(DomainTable)
        await wait_for(pilot, lambda: len(table.visible_uuids) == DOMAINS)
        poller = app.pollers["h"]
        await wait_for(pilot, lambda: poller.focus is not None and poller.focus == table.focus_uuids)
        on_screen = set(table.focus_uuids or ())
        assert 0 < len(on_screen) < DOMAINS / 2
        everyone = set(table.visible_uuids)

        await one_tick(pilot, app)  # the first round after connecting was full; this one is focused
        assert set(app.fleet.aged("h")) == everyone - on_screen
        last = table.visible_uuids[-1]
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


async def test_a_domain_opened_off_the_table_is_polled_every_tick(tmp_path: Path) -> None:
    uri = node_file(tmp_path / "node.xml")
    app = VmtuiApp([HostEntry("h", uri)], interval=3600)
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.host_screen.query_one(DomainTable)
        await wait_for(pilot, lambda: len(table.visible_uuids) == DOMAINS)
        poller = app.pollers["h"]
        await wait_for(pilot, lambda: poller.focus is not None and poller.focus == table.focus_uuids)
        last = table.visible_uuids[-1]
        assert last not in (poller.focus or ())
        app.post_message(DomainOpenRequested(last))  # as the command palette does
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        app._tick()  # the app's 1 s timer (not running here)
        assert last in (poller.focus or ())
        await wait_for(pilot, lambda: last not in app.fleet.aged("h") and poller.samples > 1)
