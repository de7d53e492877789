"""Colour with meaning (issue 27, item 9): a row's state in its colour, a busy CPU cell in yellow or red,
checkboxes that look unticked until ticked, and a graph of zeros drawn as a baseline, not a full scale."""

from __future__ import annotations

import pytest
from rich.style import Style
from textual.strip import Strip
from textual.widgets import Checkbox

from tests.tui.test_stays_visible import OneTable, domain
from vmtui.app import VmtuiApp
from vmtui.screens.add_host import AddHostModal
from vmtui.screens.migrate import MigrateModal
from vmtui.widgets.domain_table import DomainTable

pytestmark = pytest.mark.timeout(120)


def style_of(strip: Strip, text: str) -> Style:
    """The style the line draws `text` in (the segment that holds it)."""
    found = [s.style for s in strip if text in s.text]
    assert found, [s.text for s in strip]
    assert found[0] is not None
    return found[0]


def colour(style: Style) -> str | None:
    return style.color.name if style.color is not None else None


async def test_state_and_busy_cpu_have_their_colours() -> None:
    rows = [
        domain("a-idle", cpu=2.0),
        domain("b-busy", cpu=99.0),  # one vCPU at 99 % of a core
        domain("c-third", state="paused", cpu=0.0),
        domain("d-fourth", state="shut-off", cpu=None),
        domain("e-fifth", state="crashed", cpu=None),
    ]
    app = OneTable(rows)
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(DomainTable)
        table.blur()  # the cursor's background is not under test
        await pilot.pause()
        idle, busy, paused, off, crashed = (table.render_line(y) for y in range(1, 6))
        assert colour(style_of(idle, "running")) == "green"
        assert colour(style_of(paused, "paused")) == "yellow"
        assert colour(style_of(crashed, "crashed")) == "red"
        assert style_of(off, "d-fourth").dim  # the whole shut-off row, its name too
        assert style_of(off, "shut-off").dim
        assert colour(style_of(busy, "99.0")) == "red"
        assert colour(style_of(idle, "2.0")) != "red"
        assert colour(style_of(idle, "2.0")) != "yellow"
        assert not style_of(idle, "a-idle").dim


def box_text(box: Checkbox) -> str:
    """The tick box as drawn: its button and label."""
    return box.render_line(0).text


@pytest.mark.parametrize("size", [(200, 50), (80, 24)], ids=["200x50", "80x24"])
async def test_migrate_options_look_unticked_until_ticked(size: tuple[int, int]) -> None:
    app = VmtuiApp([])
    async with app.run_test(size=size) as pilot:
        modal = MigrateModal("lab1-linux", "lab1", ["lab2"])
        app.push_screen(modal)
        await pilot.pause()
        boxes = list(modal.query(Checkbox))
        assert len(boxes) == 7
        for box in boxes:  # every option off but the stall policy (on unless --no-stall-policy)
            want = "▐X▌ stall policy" if box.id == "opt-stall-policy" else "▐ ▌"
            assert want in box_text(box), box_text(box)
        await pilot.click(boxes[1])
        await pilot.pause()
        assert boxes[1].value
        assert "▐X▌ auto-converge" in box_text(boxes[1])
        assert "▐ ▌ post-copy on stall" in box_text(boxes[0])


async def test_add_hosts_read_only_looks_unticked_until_ticked() -> None:
    app = VmtuiApp([])
    async with app.run_test(size=(80, 24)) as pilot:
        modal = AddHostModal(lambda _entry: None)
        app.push_screen(modal)
        await pilot.pause()
        box = modal.query_one(Checkbox)
        assert "▐ ▌ read-only" in box_text(box)
        box.value = True
        await pilot.pause()
        assert "▐X▌ read-only" in box_text(box)
