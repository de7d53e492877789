"""The memory screen follows the selection: opened with `M` from a domain's row, its cursor starts on
that domain; `j` and `k` move the cursor as the arrows do; `b` balloons the guest under the cursor; the
columns say which figure is the balloon now and which the target vmtui set (issue 27, item 3).

Host two is the local libvirtd with two real guests; host one (libvirt's test driver) is listed first,
so that a screen that ignored the selection would show another host or another row.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Label

from tests.tui.conftest import Guests, wait_for
from tests.tui_reading import visible_uuids
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.screens.domain import DomainScreen
from vmtui.screens.memory import BalloonModal, MemoryScreen
from vmtui.widgets.domain_table import DomainTable

pytestmark = pytest.mark.timeout(120)


def cursor_row(table: DataTable[object]) -> str:
    return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)


async def test_m_from_a_row_of_host_two_starts_on_it_and_j_b_balloons_the_next(local_guests: Guests) -> None:
    e1000, virtio = local_guests.names  # "-e1000" sorts before "-virtio": the next row by name
    app = VmtuiApp([HostEntry("one", "test:///default"), HostEntry("two", local_guests.uri)], interval=0.5)
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.host_screen.query_one(DomainTable)
        await wait_for(pilot, lambda: set(local_guests.uuids.values()) <= set(visible_uuids(table)))
        table.move_cursor(visible_uuids(table).index(local_guests.uuids[e1000]))
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen))
        screen = app.screen
        assert isinstance(screen, MemoryScreen)
        assert screen.host == "two"
        guests = screen.query_one("#memory-guests", DataTable)
        assert [str(c.label) for c in guests.columns.values()][2:4] == ["balloon now", "target set"]
        assert cursor_row(guests) == local_guests.uuids[e1000]
        await pilot.press("j")
        assert cursor_row(guests) == local_guests.uuids[virtio]
        await pilot.press("k", "j")
        assert cursor_row(guests) == local_guests.uuids[virtio]
        await pilot.press("B")
        await wait_for(pilot, lambda: isinstance(app.screen, BalloonModal))
        question = str(app.screen.query_one("#balloon-question", Label).render())
        assert question.startswith(f"Balloon {virtio}: now ")
        await pilot.press("escape")


async def test_m_from_the_domain_screen_starts_on_that_domain(local_guests: Guests) -> None:
    # Found by the tmux walk: from the domain screen, M opened with the cursor on the host's first guest
    # (another engineer's, on the shared libvirtd), and the next B would have ballooned it.
    virtio = local_guests.uuids[local_guests.names[1]]  # "-virtio": never the first row ("-e1000" is before)
    app = VmtuiApp([HostEntry("local", local_guests.uri)], interval=0.5)
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.host_screen.query_one(DomainTable)
        await wait_for(pilot, lambda: virtio in visible_uuids(table))
        table.move_cursor(visible_uuids(table).index(virtio))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen))
        await wait_for(pilot, lambda: app.screen.query_one("#memory-guests", DataTable).row_count >= 2)
        assert cursor_row(app.screen.query_one("#memory-guests", DataTable)) == virtio
        await pilot.press("B")
        await wait_for(pilot, lambda: isinstance(app.screen, BalloonModal))
        question = str(app.screen.query_one("#balloon-question", Label).render())
        assert question.startswith(f"Balloon {local_guests.names[1]}: now ")


async def test_long_names_leave_balloon_now_and_target_set_on_an_80_column_screen(tmp_path: Path) -> None:
    # Found by the tmux walk: other engineers' 40-character guest names pushed "balloon now" off the
    # memory screen at 80x24. Names that differ only at the end must still be told apart.
    names = [f"vmtui-test-a-rather-long-guest-name-for-memory-{n}" for n in ("01", "02")]
    domains = "".join(
        f"<domain type='test'><name>{name}</name><uuid>6f1e1d0c-5a1b-4c3d-9e8f-0000000000a{i}</uuid>"
        "<memory>131072</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>"
        for i, name in enumerate(names)
    )
    node = tmp_path / "node.xml"
    node.write_text(f"<node>{domains}</node>")
    app = VmtuiApp([HostEntry("one", f"test://{node}")], interval=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.host_screen.query_one(DomainTable)
        await wait_for(pilot, lambda: len(visible_uuids(table)) == 2)
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen))
        guests = app.screen.query_one("#memory-guests", DataTable)
        await wait_for(pilot, lambda: guests.row_count == 2)
        await pilot.pause()
        shown = [str(guests.get_row_at(i)[0]) for i in range(2)]
        # 24 cells, the middle cut: 11 of the start, the ellipsis, 12 of the end (worked out by hand).
        assert shown == ["vmtui-test-…or-memory-01", "vmtui-test-…or-memory-02"]
        # Every column up to "target set" is inside the table's width, unscrolled.
        widths = {str(c.label): c.get_render_width(guests) for c in guests.columns.values()}
        upto = list(widths)[: list(widths).index("target set") + 1]
        assert sum(widths[c] for c in upto) <= guests.size.width, (widths, guests.size.width)
