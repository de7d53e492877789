"""Each screen shows its main keys, `?` starts with the current screen's keys, and the host keys (M, P,
N) act on the domain screen too (they did nothing there, and said nothing).

On a real running guest of the local libvirtd, and on the recording (a replay says why not).
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.screen import Screen

from tests.guest_disks import LOCAL_URI, DiskGuest
from tests.tui.conftest import RECORDING, Recorder, wait_for
from tests.tui.test_fits_80x24 import screen_text
from vmtui.app import VmtuiApp
from vmtui.drivers.replay import replay_entries
from vmtui.models import HostEntry
from vmtui.screens.domain import DomainScreen
from vmtui.screens.help import HelpModal
from vmtui.screens.memory import MemoryScreen
from vmtui.screens.storage import StorageScreen

pytestmark = pytest.mark.timeout(180)


def footer_keys(screen: Screen[Any]) -> set[str]:
    """The keys the footer shows now (shown and enabled bindings)."""
    return {key for key, b in screen.active_bindings.items() if b.binding.show and b.enabled}


async def test_the_dashboard_footer_shows_its_main_keys_and_m_p_act_on_the_domain_screen(guest: DiskGuest) -> None:
    app = VmtuiApp([HostEntry("local", LOCAL_URI)], interval=1.0)
    async with app.run_test(size=(90, 40)) as pilot:  # some columns hidden: `w` applies
        await wait_for(pilot, lambda: app.fleet.state_of(guest.uuid) == "running")
        await pilot.press("slash", *guest.name.split("-")[2], "enter")
        await wait_for(pilot, lambda: app.selected_uuid() == guest.uuid)
        # The list, by hand: the dashboard's footer left out Enter, M, v, c, X, P, N, s and w.
        assert {"enter", "M", "v", "c", "X", "P", "N", "s", "w"} <= footer_keys(app.screen)
        assert {"d", "b", "x", "p", "m", "slash"} <= footer_keys(app.screen)

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen))
        assert app.screen.host == "local"  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, StorageScreen))
        assert app.screen.host == "local"  # type: ignore[attr-defined]


async def test_help_starts_with_the_current_screens_keys_and_m_says_why_in_a_replay() -> None:
    app = VmtuiApp(replay_entries(RECORDING), interval=0.05)
    seen = Recorder()
    async with app.run_test(size=(120, 44), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: app.selected_uuid() is not None)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        before = len(seen.notes())
        await pilot.press("M")
        await wait_for(pilot, lambda: any("a replay has no live host" in n.message for n in seen.notes()[before:]), 5)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpModal))
        await pilot.pause()
        text = screen_text(app)
        assert "Keys of this screen: Domain" in text
        end = text.find("Every key")  # below the fold once the screen's own keys fill the modal
        first = text[text.index("Keys of this screen") : end if end >= 0 else None]
        for words in ("R  ", "Revert", "D  ", "Del snapshot", "e  ", "Edit XML", "Autostart", "M  ", "Memory and KSM"):
            assert words in first, words


def bottom_line(app: VmtuiApp) -> str:
    """The terminal's last row as it is drawn (the footer), every cell's character."""
    strips = app.screen._compositor.render_strips()
    return "".join(segment.text for segment in strips[-1])


# By hand: each key takes its key, a space, its word and a space; at 80 columns "▏^p palette" takes the
# last 12, which leaves 68 for these (65 columns; "M Mem" would make 71). At 200 every main key fits.
FOOTER_AT = {
    80: "⏎ Open s Sort / Filter d Shutdown x Off p Pause m Migrate ? Help",
    200: "⏎ Open s Sort / Filter M Mem P Pools N Nets d Shutdown b Reboot x Off p Pause m Migrate v Devs "
    "c Console X XML q Quit ? Help",
}


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
async def test_the_dashboard_footer_shows_whole_keys_and_help_at_80_and_200_columns(size: tuple[int, int]) -> None:
    # libvirt's test driver: its running guest "test" offers every key; the footer's layout is the UI's own.
    app = VmtuiApp([HostEntry("t", "test:///default")], interval=1.0)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.selected_uuid() is not None)
        await wait_for(pilot, lambda: "d Shutdown" in bottom_line(app))  # the domain's keys are in
        await pilot.pause()
        line = bottom_line(app)
        keys, palette = line.split("▏")
        assert palette.strip() == "^p palette"
        assert keys.rstrip() == FOOTER_AT[size[0]]


async def test_the_devices_and_sr_iov_hint_lines_name_their_keys_of_today() -> None:
    # They read "v: selected device to virtio   V: all" and "c: VF count …   r: refresh" after the keys
    # moved to t/T, C/n and Ctrl+R. libvirt's test driver: its guest "test" has devices, its host no PF.
    app = VmtuiApp([HostEntry("t", "test:///default")], interval=1.0)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: app.selected_uuid() is not None)
        await pilot.press("v")
        await wait_for(pilot, lambda: "Add NIC" in screen_text(app))
        assert (
            "t: To virtio   T: All to virtio   a: Add disk   n: Add NIC   g: Grow disk   i: SR-IOV   ctrl+r: Refresh"
            in (screen_text(app))
        )
        await pilot.press("i")
        await wait_for(pilot, lambda: "Take VF back" in screen_text(app))
        assert "C: VF count   n: New pool   a: Give VF to VM   d: Take VF back   ctrl+r: Refresh" in screen_text(app)


async def test_every_screens_footer_ends_whole_with_help_at_80x24() -> None:
    # The domain screen's read "… v Devs c Consol▏^p palettee" at 80 columns (found by the tmux walk).
    app = VmtuiApp([HostEntry("t", "test:///default")], interval=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.selected_uuid() is not None)
        for keys, screen in (
            (["enter"], "DomainScreen"),
            (["v"], "DevicesScreen"),
            (["i"], "SriovScreen"),
            (["escape", "escape", "X"], "XmlScreen"),
            (["escape", "M"], "MemoryScreen"),
            (["escape", "P"], "StorageScreen"),
            (["escape", "N"], "NetworksScreen"),
            (["escape", "ctrl+n"], "NotificationsScreen"),
        ):
            await pilot.press(*keys)
            await wait_for(pilot, lambda: type(app.screen).__name__ == screen)  # noqa: B023 (awaited here)
            await wait_for(pilot, lambda: "Back" in bottom_line(app))  # the screen's own keys are in
            keys_part, palette = bottom_line(app).split("▏")
            assert keys_part.rstrip().endswith(" ? Help"), (screen, keys_part)
            assert palette.strip() == "^p palette", screen
