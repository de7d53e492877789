"""The balloon dialog names the guest as it is: a name with markup in it (`...-[b]x`) is never styled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.widgets import DataTable, Label

from tests.guest_disks import LOCAL_URI, DiskGuest, disk_guest
from tests.tui.conftest import wait_for
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.screens.memory import BalloonModal, MemoryScreen

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def guest() -> Iterator[DiskGuest]:
    from tests.tui.conftest import _libvirt_ready

    if not _libvirt_ready():
        pytest.skip("needs the local libvirtd (qemu:///system) and /dev/kvm")
    from vmtui.drivers import connect

    with connect(LOCAL_URI) as conn, disk_guest(conn, suffix="[red]mk") as made:
        yield made


async def test_balloon_dialog_title_shows_the_name_literally(guest: DiskGuest) -> None:
    app = VmtuiApp([HostEntry("local", LOCAL_URI)], interval=1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.fleet.state_of(guest.uuid) == "running")
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen))
        table = app.screen.query_one("#memory-guests", DataTable)
        await wait_for(pilot, lambda: guest.uuid in {str(k.value) for k in table.rows})
        table.move_cursor(row=table.get_row_index(guest.uuid))
        await pilot.press("B")
        await wait_for(pilot, lambda: isinstance(app.screen, BalloonModal))
        question = str(app.screen.query_one("#balloon-question", Label).render())
        assert question.startswith(f"Balloon {guest.name}: now ")  # "[red]mk" as typed, not a red "mk"
        await pilot.press("escape")
