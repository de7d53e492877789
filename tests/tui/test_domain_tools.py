"""The domain screen's snapshots panel and the XML screen, on a real guest with a qcow2 disk.

The guest's name has markup in it (`...-[b]x`): the panel, the questions and the XML show it as it is.
What the TUI did is checked with virsh, not with vmtui.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from tests.guest_disks import LOCAL_URI, DiskGuest, virsh
from tests.tui.conftest import Recorder, wait_for
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.domain import DomainScreen
from vmtui.screens.prompt import PromptModal
from vmtui.screens.xml import XmlScreen

pytestmark = pytest.mark.timeout(120)


def snapshot_names(uuid: str) -> list[str]:
    return virsh("snapshot-list", "--name", uuid).split()


async def press_until(pilot: Pilot[None], key: str, reached: Callable[[], bool]) -> None:
    """Press `key` until it has its effect: on a loaded machine a late sample can make the host look
    stale for a moment, and then vmtui rightly refuses (and hides) the key."""
    for _attempt in range(6):
        await pilot.press(key)
        try:
            await wait_for(pilot, reached, 5)
            return
        except AssertionError:
            continue
    raise AssertionError(f"pressing {key} never had its effect")


async def test_snapshot_panel_xml_screen_and_console_key(guest: DiskGuest) -> None:
    app = VmtuiApp([HostEntry("local", LOCAL_URI)], interval=1.0)
    seen = Recorder()
    async with app.run_test(size=(200, 60), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: guest.uuid in app.fleet.hosts["local"].domains)
        await pilot.press("slash", *guest.name.split("-")[2], "enter", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        screen = app.screen
        assert isinstance(screen, DomainScreen)
        title = screen.query_one("#snapshots-title", Static)
        await wait_for(pilot, lambda: "Snapshots (0)" in str(title.render()))

        await press_until(pilot, "n", lambda: isinstance(app.screen, PromptModal))
        box = app.screen.query_one(Input)
        box.value = "bad name"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PromptModal)  # refused in the dialog, before any call
        box.value = "tui1"
        await pilot.press("enter")
        await wait_for(pilot, lambda: [s.name for s in screen.snapshots] == ["tui1"], 30)
        assert snapshot_names(guest.uuid) == ["tui1"]  # libvirt has it, says virsh
        assert screen.snapshots[0].memory  # taken running: with its memory

        virsh("suspend", guest.uuid)
        await wait_for(pilot, lambda: app.fleet.state_of(guest.uuid) == "paused")
        await press_until(pilot, "R", lambda: isinstance(app.screen, ConfirmModal))
        question = str(app.screen.query_one("#confirm-question", Static).render())
        assert f"Revert {guest.name} on local to snapshot tui1?" in question  # "[b]x" literal, not bold
        await pilot.press("y")
        await wait_for(pilot, lambda: seen.said("reverted to snapshot tui1"), 30)
        assert virsh("domstate", guest.uuid).strip() == "running"  # the snapshot was taken running

        await press_until(pilot, "D", lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")  # No: nothing happens
        await pilot.pause()
        assert snapshot_names(guest.uuid) == ["tui1"]
        await press_until(pilot, "D", lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_for(pilot, lambda: "Snapshots (0)" in str(title.render()), 30)
        assert snapshot_names(guest.uuid) == []
        assert not screen.query_one("#snapshots", DataTable).display

        await press_until(pilot, "X", lambda: isinstance(app.screen, XmlScreen))
        xml_screen = app.screen
        assert isinstance(xml_screen, XmlScreen)
        assert xml_screen.xml.strip() == virsh("dumpxml", guest.uuid).strip()
        assert guest.name in str(xml_screen.title)
        # `i` is SR-IOV elsewhere: here it only says where its old meaning went, and stays on the live XML.
        before = len(seen.notes())
        await pilot.press("i")
        await wait_for(pilot, lambda: len(seen.notes()) > before)
        assert seen.notes()[-1].message == "i does nothing here: l switches between the live XML and the definition"
        assert app.screen is xml_screen
        assert not xml_screen.inactive
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, XmlScreen) and app.screen.inactive)
        assert isinstance(app.screen, XmlScreen)
        assert app.screen.xml.strip() == virsh("dumpxml", "--inactive", guest.uuid).strip()
        await pilot.press("escape")
        back: object = app.screen
        assert back is screen

        # Pilot's terminal cannot be handed over: `c` says so instead of failing (tmux tests do the real thing).
        await press_until(pilot, "c", lambda: seen.said("this terminal cannot be handed over"))
