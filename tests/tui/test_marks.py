"""Marks on the dashboard over a recording (no libvirt): `*` marks what the filter shows, marks survive
sorting and the filter, one question lists the set, and a host that refuses says so in every row.

The real action on real guests (pause and resume of three lab guests) is tests/lab/test_bulk.py.
"""

from __future__ import annotations

from textual.widgets import Label, Static

from tests.tui.conftest import wait_for
from tests.tui.test_snapshots import SIZE, finished, replay_app
from vmtui.screens.confirm import ConfirmModal
from vmtui.widgets.domain_table import DomainTable


async def test_marks_follow_uuids_and_a_refusing_host_says_so_in_every_row() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await finished(pilot)
        table = app.host_screen.query_one(DomainTable)
        line = app.host_screen.query_one("#marks", Static)
        uuid = {r.name: r.uuid for r in table._rows.values()}
        assert set(uuid) == {"vmtui-tui-a", "vmtui-tui-b"}
        assert not line.display

        # `*` marks only what the filter shows.
        await pilot.press("slash", *"tui-b", "enter", "asterisk")
        assert table.marked == {uuid["vmtui-tui-b"]}
        await wait_for(pilot, lambda: line.display and str(line.render()).startswith("1 domain marked:"))
        # The filter cleared and the order reversed: the mark stays on its domain, not on a row position.
        await pilot.press("slash", "escape", "S")
        assert [table.row(u).name for _h, u in table._order if table.row(u)] == ["vmtui-tui-b", "vmtui-tui-a"]  # type: ignore[union-attr]
        assert table.marked == {uuid["vmtui-tui-b"]}
        # The cursor went back to the domain chosen before the filter (a, the last row now): space marks it,
        # again unmarks it (the last row: the cursor stays), and once more marks it.
        assert table.cursor_uuid == uuid["vmtui-tui-a"]
        await pilot.press("space")
        assert table.marked == set(uuid.values())
        await pilot.press("space")
        assert table.marked == {uuid["vmtui-tui-b"]}
        await pilot.press("space")
        assert table.marked == set(uuid.values())
        await wait_for(pilot, lambda: str(line.render()).startswith("2 domains marked:"))

        # A lifecycle key on the set: one question listing both; a replay refuses each, said in each row.
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert str(app.screen.query_one("#confirm-question", Label).render()) == "Pause 2 marked domains?"
        listed = [str(label.render()) for label in app.screen.query("#confirm-listed Label").results(Label)]
        assert listed == ["lab1  vmtui-tui-a", "lab1  vmtui-tui-b"]
        await pilot.press("y")
        await wait_for(pilot, lambda: all(table.result_of(u) == "✗ refused" for u in uuid.values()))
        said = [note.message for note in app.notes]
        assert any(m.startswith("Pause: 2 refused: vmtui-tui-a: ") and "replay" in m for m in said), said

        # Esc clears the marks and the results; the rows show their states again.
        await pilot.press("escape")
        assert table.marked == set()
        assert table.result_of(uuid["vmtui-tui-a"]) is None
        await wait_for(pilot, lambda: not line.display)
