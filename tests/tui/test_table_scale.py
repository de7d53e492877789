"""The domains table of a large host costs what changed and what is drawn, not its every row.

A table of 2000 rows at 200x50 (49 drawn): the first rows are formatted as they are drawn, a change the
fleet reports as one changed row (HostRows.changed, after a focused round) is taken without looking at
the other 1999, and a changed row off screen is formatted only when it is scrolled into view. Counted
(calls of format_row and of DomainRow's equality), never timed.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.app import App, ComposeResult

from vmtui.tui.fleet import DomainRow, HostRows
from vmtui.widgets import domain_table
from vmtui.widgets.domain_table import DomainTable

pytestmark = pytest.mark.timeout(120)

SIZE = 2000
HEIGHT = 50


def row(i: int, cpu: float = 1.0) -> DomainRow:
    return DomainRow(
        f"00000000-0000-0000-0000-{i:012d}", "big", f"d{i:04d}", "running", "kvm", 1, cpu, 0.0, 0.5,
        1 << 20, 2 << 20, 0.0, 0.0, 10.0,
    )  # fmt: skip


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield DomainTable()


class Walked(HostRows):
    """HostRows that counts the walks over all of it."""

    walks = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        Walked.walks += 1
        return super().__iter__()


class Counting:
    """format_row that counts the rows it formats, by name."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._real = domain_table.format_row

    def __call__(self, r: DomainRow, *args: object) -> str:
        self.names.append(r.name)
        return self._real(r, *args)  # type: ignore[arg-type]


async def test_a_large_hosts_rows_are_formatted_when_drawn_and_updated_from_those_that_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counting = Counting()
    monkeypatch.setattr(domain_table, "format_row", counting)
    app = OneTable()
    async with app.run_test(size=(200, HEIGHT)) as pilot:
        table = app.query_one(DomainTable)
        first = HostRows([row(i) for i in range(SIZE)])
        table.update_host("big", first)
        await pilot.pause()
        # Sorted by name: d0000 ... d0048 fill the 49 lines under the header; nothing else is formatted.
        assert sorted(set(counting.names)) == [f"d{i:04d}" for i in range(HEIGHT - 1)]
        counting.names.clear()

        off_screen = replace(first[1500], cpu=50.0)
        derived = Walked([off_screen if r.uuid == off_screen.uuid else r for r in first], base=first,
                         changed=(off_screen,))  # fmt: skip
        Walked.walks = 0
        table.update_host("big", derived)
        await pilot.pause()
        assert Walked.walks == 0  # the one changed row taken, the list of 2000 not walked
        assert table.row(off_screen.uuid, "big") == off_screen
        assert counting.names == []  # off screen: not formatted

        on_screen = replace(first[3], cpu=60.0)
        again = Walked([on_screen if r.uuid == on_screen.uuid else r for r in derived], base=derived,
                         changed=(on_screen,))  # fmt: skip
        Walked.walks = 0
        table.update_host("big", again)
        await pilot.pause()
        assert Walked.walks == 0
        assert set(counting.names) == {"d0003"}
        assert "60.0" in table.render_line(4).text  # d0003 is the fourth row under the header

        counting.names.clear()
        table.move_cursor(1500)
        await pilot.pause()
        assert "d1500" in counting.names  # formatted when it came into view, with its new figure
        shown = [table.render_line(y).text for y in range(1, HEIGHT)]
        assert any("d1500" in line and "50.0" in line for line in shown), shown


async def test_a_list_not_derived_from_the_one_held_is_compared_whole_and_drops_what_is_gone() -> None:
    app = OneTable()
    async with app.run_test(size=(200, HEIGHT)) as pilot:
        table = app.query_one(DomainTable)
        first = HostRows([row(i) for i in range(10)])
        table.update_host("big", first)
        # Derived from another list (a reader two steps behind): not taken as a change of one row.
        other = HostRows([row(i) for i in range(10)])
        stray = Walked([row(i) for i in range(5)], base=other, changed=())
        Walked.walks = 0
        table.update_host("big", stray)
        await pilot.pause()
        assert Walked.walks >= 1
        assert [table.row(r.uuid, "big") is not None for r in first] == [True] * 5 + [False] * 5
