"""The selection follows the domain (its host and UUID), never the row's position: through a sort and
the samples that reorder it, a filter that hides it and shows it again, and a migration's end (its
UUID on the new host) and a host's reconnect. When the chosen domain goes away, nothing is selected and it
is said: the next key cannot hit a neighbour (issue 27, item 1).

The table alone gets the two-host lab's rows as the dashboard hands them (`DomainTable.update_host`, one
host at a time, each sample); a domain that goes away is a real guest undefined on the local libvirtd.
"""

from __future__ import annotations

from dataclasses import replace

from textual.app import App, ComposeResult

from tests.tui.conftest import TEST_DRIVER_XML, Guests, PrivateDaemon, Recorder, wait_for
from tests.tui_reading import visible_uuids
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.screens.confirm import ConfirmModal
from vmtui.tui.fleet import DomainRow
from vmtui.widgets.domain_table import DomainTable


def row(host: str, name: str, cpu: float) -> DomainRow:
    """A running guest's row as the dashboard builds it; the UUID spells the name."""
    uuid = f"00000000-0000-4000-8000-{name.encode().hex()[:12]:0>12}"
    return DomainRow(uuid, host, name, "running", "kvm", 1, cpu, 0.0, 0.0, 131072, 131072, 0.0, 0.0, 0.0)


LAB1 = [row("lab1", n, 1.0) for n in ("lab1-kvm-virtio", "lab1-linux", "lab1-tcg-e1000", "rec-bios-disk-tap")]
LAB2 = [row("lab2", n, 2.0) for n in ("lab2-kvm-virtio", "lab2-tcg-e1000")]
LINUX = LAB1[1]


class TableApp(App[None]):
    """The dashboard's table alone: the rows are what each host's samples hand it (`update_host`)."""

    def compose(self) -> ComposeResult:
        yield DomainTable()

    def on_mount(self) -> None:
        table = self.query_one(DomainTable)
        table.update_host("lab1", LAB1)
        table.update_host("lab2", LAB2)
        table.focus()


def on_screen(table: DomainTable) -> bool:
    """The cursor's row is among those drawn (the header takes the first line)."""
    index = visible_uuids(table).index(table.cursor_uuid or "")
    top = int(table.scroll_y)
    return top <= index < top + table.size.height - 1


def selected(table: DomainTable) -> tuple[str | None, str | None]:
    return table.cursor_host, table.cursor_uuid


async def test_the_selection_stays_on_its_domain_when_a_sample_reorders_the_sorted_rows() -> None:
    app = TableApp()
    # Four lines: the header and three of the six rows, so a row moving from the top to the bottom leaves.
    async with app.run_test(size=(120, 4)) as pilot:
        table = app.query_one(DomainTable)
        table.sort_by("cpu", reverse=True)
        table.update_host("lab1", [replace(LINUX, cpu=90.0), *(r for r in LAB1 if r is not LINUX)])
        await pilot.press("home")  # lab1-linux, the busiest, at the top
        assert selected(table) == ("lab1", LINUX.uuid)
        assert visible_uuids(table)[0] == LINUX.uuid
        # A sample where it is the idlest: it moves to the last row, and the selection with it.
        table.update_host("lab1", [replace(LINUX, cpu=0.1), *(r for r in LAB1 if r is not LINUX)])
        await pilot.pause()
        assert visible_uuids(table)[-1] == LINUX.uuid
        assert selected(table) == ("lab1", LINUX.uuid)
        assert on_screen(table)  # the highlight is in sight, where the next key acts


async def test_a_filter_that_hides_the_selection_then_shows_it_gives_it_back() -> None:
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(DomainTable)
        table.move_cursor(visible_uuids(table).index(LINUX.uuid))
        table.set_filter("host:lab2")  # what the filter line does while one types
        await pilot.pause()
        assert LINUX.uuid not in visible_uuids(table)
        assert table.cursor_host == "lab2"  # a shown row is highlighted while the filter hides it
        table.set_filter("")
        await pilot.pause()
        assert selected(table) == ("lab1", LINUX.uuid)


async def test_the_selection_follows_a_migrated_domain_to_its_new_host() -> None:
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(DomainTable)
        table.move_cursor(visible_uuids(table).index(LINUX.uuid))
        others = [r for r in LAB1 if r is not LINUX]
        # Migrating: one row, "lab1→lab2"; the source's sample without it can come before the target's with it.
        table.update_host("lab1", [*others, replace(LINUX, target="lab2", state="migrating")])
        table.update_host("lab1", others)
        await pilot.pause()
        assert table.cursor_uuid is None  # between the two halves: nothing, not a neighbour
        table.update_host("lab2", [*LAB2, replace(LINUX, host="lab2")])
        await pilot.pause()
        assert selected(table) == ("lab2", LINUX.uuid)
        # And back, the target's sample first this time (no "target" on the row any more).
        table.update_host("lab1", [*others, LINUX])
        table.update_host("lab2", LAB2)
        await pilot.pause()
        assert selected(table) == ("lab1", LINUX.uuid)


async def test_a_domain_that_goes_away_leaves_nothing_selected_and_keys_refuse(local_guests: Guests) -> None:
    from vmtui.drivers import connect

    gone_name, other_name = local_guests.names
    gone = local_guests.uuids[gone_name]
    seen = Recorder()
    app = VmtuiApp([HostEntry("local", local_guests.uri)], interval=0.3)
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        table = app.host_screen.query_one(DomainTable)
        await wait_for(pilot, lambda: set(local_guests.uuids.values()) <= set(visible_uuids(table)))
        await pilot.press("slash", *local_guests.prefix, "enter")
        await wait_for(pilot, lambda: len(visible_uuids(table)) == 2)
        table.move_cursor(visible_uuids(table).index(gone))
        with connect(local_guests.uri) as conn:
            conn.destroy_and_undefine(gone)  # as `virsh destroy; virsh undefine` from another shell
        await wait_for(pilot, lambda: gone not in visible_uuids(table))
        await pilot.pause()
        assert table.cursor_uuid is None  # not the neighbour, the other guest still listed
        assert visible_uuids(table) == [local_guests.uuids[other_name]]
        assert seen.said(f"{gone_name} is gone; nothing selected")
        await pilot.press("x")  # destroy: refused, nothing asked, nothing run
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal)
        assert app.jobs.jobs == {}
        assert seen.said(f"nothing selected ({gone_name} is gone)")
        await pilot.press("j")  # the user moves: the remaining guest is selected again
        assert table.cursor_uuid == local_guests.uuids[other_name]


TWO = "6f1e1d0c-5a1b-4c3d-9e8f-000000000002"
"""priv-two, the private daemon's second guest (tests/tui/conftest.py TEST_DRIVER_XML)."""
NEW = """  <domain type='test'>
    <name>priv-a-new</name>
    <uuid>6f1e1d0c-5a1b-4c3d-9e8f-000000000003</uuid>
    <memory>131072</memory><currentMemory>131072</currentMemory><vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
  </domain>
</node>"""


async def test_the_selection_stays_on_its_domain_through_a_reconnect_or_says_it_is_gone(
    private_daemon: PrivateDaemon,
) -> None:
    """A real libvirtd of our own is killed and started again (the test driver reads its guests from a
    file at each connection): once with a guest added that sorts first, once without the selected one."""
    app = VmtuiApp([HostEntry("priv", private_daemon.uri)], interval=0.2, backoff=(0.3, 1.0))
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        table = app.host_screen.query_one(DomainTable)
        await wait_for(pilot, lambda: len(visible_uuids(table)) == 2)
        await pilot.press("end")  # by name: priv-one, priv-two
        assert table.cursor_uuid == TWO

        private_daemon.kill()
        await wait_for(pilot, lambda: app.fleet.hosts["priv"].status == "disconnected")
        assert table.cursor_uuid == TWO  # its row stays, stale, and so does the selection
        private_daemon.xml.write_text(TEST_DRIVER_XML.replace("</node>", NEW), encoding="utf-8")
        private_daemon.start()
        await wait_for(pilot, lambda: len(visible_uuids(table)) == 3, within=20)
        await wait_for(pilot, lambda: app.fleet.hosts["priv"].status == "connected")
        await pilot.pause()
        # By hand: priv-a-new, priv-one, priv-two. The row under the old position (1) is priv-one now.
        assert visible_uuids(table).index(TWO) == 2
        assert table.cursor_uuid == TWO

        private_daemon.kill()
        await wait_for(pilot, lambda: app.fleet.hosts["priv"].status == "disconnected")
        without_two = TEST_DRIVER_XML[: TEST_DRIVER_XML.index("  <domain type='test'>\n    <name>priv-two")]
        private_daemon.xml.write_text(without_two + "</node>\n", encoding="utf-8")
        private_daemon.start()
        await wait_for(pilot, lambda: TWO not in visible_uuids(table), within=20)
        await pilot.pause()
        assert visible_uuids(table) == ["6f1e1d0c-5a1b-4c3d-9e8f-000000000001"]
        assert table.cursor_uuid is None  # not priv-one, the neighbour that took its place
        assert seen.said("priv-two is gone; nothing selected")
