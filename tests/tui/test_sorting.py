"""Sorting the domains table: one key per figure (1 CPU, 2 memory, 3 disk, 4 network), rows that read
the same keep one order from sample to sample, and the sort arrow never eats a column title.

The table widget on its own in a Pilot app, fed rows as a host's samples would be; the expected orders
are worked out by hand in the comments.
"""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from vmtui.tui.fleet import DomainRow
from vmtui.widgets.domain_table import DomainTable
from vmtui.widgets.table_layout import COLUMNS

pytestmark = pytest.mark.timeout(60)


def row(name: str, uuid: str, *, cpu: float, mem: int, disk: float = 0.0, host: str = "lab1") -> DomainRow:
    return DomainRow(uuid, host, name, "running", "kvm", 1, cpu, 0.0, 0.0, mem, 1 << 20, disk, 0.0, 0.0)


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DomainTable(id="t")


def order(table: DomainTable) -> list[str]:
    return [table.row(u, h).name for h, u in table._order]  # type: ignore[union-attr]


async def test_one_press_sorts_by_memory_then_cpu_then_disk() -> None:
    rows = [
        row("a", "u1", cpu=50.0, mem=262144, disk=10.0),  # 256 MiB
        row("b", "u2", cpu=10.0, mem=1048576, disk=5000.0),  # 1 GiB
        row("c", "u3", cpu=90.0, mem=524288, disk=0.0),  # 512 MiB
    ]
    app = TableApp()
    async with app.run_test(size=(200, 20)) as pilot:
        table = app.query_one(DomainTable)
        table.update_host("lab1", rows)
        table.focus()
        await pilot.press("2")
        assert table.sort_key == "mem_cur_kib"
        assert order(table) == ["b", "c", "a"]  # 1 GiB, 512 MiB, 256 MiB: largest first
        await pilot.press("2")
        assert order(table) == ["a", "c", "b"]  # again: smallest first
        await pilot.press("1")
        assert order(table) == ["c", "a", "b"]  # 90 %, 50 %, 10 %
        await pilot.press("3")
        assert order(table) == ["b", "a", "c"]  # 5000 B/s, 10 B/s, 0 B/s


async def test_rows_that_read_the_same_keep_their_order_across_samples() -> None:
    # Four idle guests on two hosts: each sample their CPU % moves in the second decimal, and every
    # one of them reads "0.0". Tied as shown, they stay by host, then name, then UUID.
    names = [("lab2", "web", "u4"), ("lab1", "db", "u2"), ("lab1", "app", "u3"), ("lab1", "app", "u1")]
    samples = [
        [0.01, 0.04, 0.02, 0.03],
        [0.04, 0.01, 0.03, 0.02],
        [0.02, 0.03, 0.04, 0.01],
        [0.03, 0.02, 0.01, 0.04],
    ]
    app = TableApp()
    async with app.run_test(size=(200, 20)) as pilot:
        table = app.query_one(DomainTable)
        table.focus()
        seen = []
        for cpus in samples:
            for host in ("lab1", "lab2"):
                table.update_host(
                    host,
                    [row(n, u, cpu=c, mem=1024, host=h) for (h, n, u), c in zip(names, cpus, strict=True) if h == host],
                )
            if table.sort_key != "cpu":
                table.sort_by("cpu")  # busiest first, as `1` does (that key is tested above)
            seen.append([(h, u) for h, u in table._order])
            await pilot.pause()
        # By hand: lab1 before lab2; on lab1 "app" (u1, then u3) before "db".
        expected = [("lab1", "u1"), ("lab1", "u3"), ("lab1", "u2"), ("lab2", "u4")]
        assert seen == [expected] * len(samples)
        table.sort_by("cpu", reverse=False)  # the other direction: the tie keeps the same order
        assert [(h, u) for h, u in table._order] == expected


async def test_the_sort_arrow_has_its_own_cell() -> None:
    app = TableApp()
    async with app.run_test(size=(250, 20)):
        table = app.query_one(DomainTable)
        table.update_host("lab1", [row("a", "u1", cpu=1.0, mem=1024)])
        table.wide = True
        table._relayout()
        for column in COLUMNS:
            for reverse in (False, True):
                table.sort_by(column.key, reverse=reverse)
                arrow = "▼" if reverse else "▲"
                header = table._header
                # Every title whole, and the sorted one followed by its arrow ("ACCEL▲", not "ACCE▲").
                assert column.title + arrow in header, (column.title, header)
                for other in COLUMNS:
                    assert other.title in header, (other.title, header)
                assert header.count(arrow) == 1
