"""Every key either acts or says why not, and read-only screens offer no writes.

On a real guest of the local libvirtd: `c` on a shut-off domain, and every screen of a host watched
read-only (dashboard, domain, memory, devices, storage, networks, SR-IOV): the footer offers none of
its writes, and each write key pressed anyway says why, in a notification.
"""

from __future__ import annotations

from typing import Any

import pytest
from rich.table import Table
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Static

from tests.guest_disks import LOCAL_URI, DiskGuest, virsh
from tests.tui.conftest import RECORDING, Recorder, wait_for
from tests.tui_reading import replay_finished
from vmtui.app import VmtuiApp
from vmtui.drivers.replay import replay_entries
from vmtui.models import HostEntry
from vmtui.screens.devices import DevicesScreen
from vmtui.screens.domain import DomainScreen
from vmtui.screens.host import HostScreen
from vmtui.screens.memory import MemoryScreen
from vmtui.screens.migrate import MigrationScreen
from vmtui.screens.networks import NetworksScreen
from vmtui.screens.sriov import SriovScreen
from vmtui.screens.storage import StorageScreen

pytestmark = pytest.mark.timeout(180)


def footer(screen: Screen[Any]) -> set[str]:
    """What the footer offers: the shown, enabled bindings."""
    return {b.binding.description for b in screen.active_bindings.values() if b.binding.show and b.enabled}


async def said_after(pilot: Pilot[None], seen: Recorder, key: str, *words: str) -> None:
    """Press `key`: a notification (new since the press) holds every word."""
    before = len(seen.notes())
    await pilot.press(key)

    def told() -> bool:
        return any(all(w in n.message for w in words) for n in seen.notes()[before:])

    await wait_for(pilot, told, 5)


async def test_console_on_a_shut_off_domain_says_why(guest: DiskGuest) -> None:
    virsh("destroy", guest.uuid)
    app = VmtuiApp([HostEntry("local", LOCAL_URI)], interval=1.0)
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: app.fleet.state_of(guest.uuid) == "shut-off")
        await pilot.press("slash", *guest.name.split("-")[2], "enter")
        await wait_for(pilot, lambda: app.selected_uuid() == guest.uuid)
        await said_after(pilot, seen, "c", "Console", "it is shut-off")
        await said_after(pilot, seen, "p", "Pause", "it is shut-off")
        assert virsh("domstate", guest.uuid).strip() == "shut off"


async def test_read_only_screens_offer_no_writes_and_say_why(guest: DiskGuest) -> None:
    app = VmtuiApp([HostEntry("local", LOCAL_URI, read_only=True)], interval=1.0)
    seen = Recorder()
    ro = "local is connected read-only"
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: app.fleet.state_of(guest.uuid) == "running")
        await pilot.press("slash", *guest.name.split("-")[2], "enter")
        await wait_for(pilot, lambda: app.selected_uuid() == guest.uuid)
        assert isinstance(app.screen, HostScreen)
        assert not footer(app.screen) & {"Shutdown", "Reboot", "Off", "Pause", "Migrate"}
        await said_after(pilot, seen, "p", "Pause", ro)
        await said_after(pilot, seen, "c", "Console", ro)

        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen))
        await wait_for(pilot, lambda: app.screen.query_one("#memory-guests").row_count > 0)  # type: ignore[attr-defined]
        assert not footer(app.screen) & {"Balloon", "Apply plan step"}
        await said_after(pilot, seen, "B", "Balloon", ro)
        await said_after(pilot, seen, "E", "Apply plan step", ro)
        await pilot.press("escape")

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        await said_after(pilot, seen, "e", "Edit XML", ro)
        await said_after(pilot, seen, "n", "Snapshot", ro)
        await said_after(pilot, seen, "x", "Force off", ro)  # the full name, not the footer's "Off"

        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, DevicesScreen) and app.screen.report is not None, 15)
        assert not footer(app.screen) & {"To virtio", "All to virtio", "Add disk", "Add NIC"}
        await said_after(pilot, seen, "a", "Add disk", ro)
        await said_after(pilot, seen, "n", "Add NIC", ro)
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HostScreen))

        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, SriovScreen))
        assert not footer(app.screen) & {"VF count", "New pool", "Give VF to VM", "Take VF back"}
        await said_after(pilot, seen, "C", "VF count", ro)
        await pilot.press("escape")

        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, StorageScreen))
        assert not footer(app.screen) & {"New volume", "Delete volume"}
        await said_after(pilot, seen, "n", "New volume", ro)
        await pilot.press("escape")

        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(app.screen, NetworksScreen) and bool(app.screen.networks), 15)
        assert "Autostart" not in footer(app.screen)
        await said_after(pilot, seen, "A", "Autostart", ro)


async def test_replay_keys_say_why() -> None:
    """A replay (no libvirt needed): the keys of a live host, and `w` when every column fits, say why."""
    app = VmtuiApp(replay_entries(RECORDING), interval=0.05, clock=lambda: 1_800_000_000.0)
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: replay_finished(app))
        await pilot.pause()
        await said_after(pilot, seen, "w", "Columns", "every column fits already")
        await said_after(pilot, seen, "p", "Pause", "a replay has no live host")
        await said_after(pilot, seen, "M", "Memory", "a replay has no live host")
        await said_after(pilot, seen, "a", "Add host", "a replay shows recorded hosts only")


async def test_abort_after_the_migration_ended_says_why() -> None:
    app = VmtuiApp([])
    seen = Recorder()
    async with app.run_test(size=(100, 30), message_hook=seen) as pilot:
        screen = MigrationScreen(1, "Migrate web to lab2")
        app.push_screen(screen)
        await pilot.pause()
        assert "Abort migration" in footer(screen)
        screen.show_end(False, "failed: the target refused it", None)
        await pilot.pause()
        assert "Abort migration" not in footer(screen)
        await said_after(pilot, seen, "x", "Abort migration", "the migration is over (failed)")


@pytest.mark.parametrize(
    ("read_only", "title_says"),
    [(True, "dry run only: test is connected read-only"), (False, "dry run; E applies one step")],
)
async def test_the_balloon_plan_title_offers_a_step_only_where_a_is_offered(read_only: bool, title_says: str) -> None:
    """Read-only, the plan's title said "A applies one step" while `A` (now `E`) was off the footer and refused."""
    app = VmtuiApp([HostEntry("test", "test:///default", read_only=read_only)], interval=0.2)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: app.fleet.hosts["test"].tick is not None)
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen))
        assert ("Apply plan step" in footer(app.screen)) is not read_only
        plan = app.screen.query_one("#memory-plan", Static).content
        assert isinstance(plan, Table)
        title = str(plan.title)
        assert title_says in title
        assert ("applies" in title) is not read_only
