"""The keys that open a host's screen (P storage, N networks, M memory, i SR-IOV) never pick a host
silently: they go by the selected row's host, or the hosts pane's when it has the focus (Tab), and ask
which host when neither says it (a filter that shows no row) and more than one host is watched; each
screen's title names its host (issue 27, item 2).

Two watched hosts on libvirt's test driver (in this process: both show its one guest, "test").
"""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from tests.tui.conftest import Recorder, wait_for
from tests.tui_reading import visible_uuids
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.screens.memory import MemoryScreen
from vmtui.screens.networks import NetworksScreen
from vmtui.screens.storage import StorageScreen
from vmtui.widgets.domain_table import DomainTable
from vmtui.widgets.hosts_pane import HostsPane

TEST_URI = "test:///default"


def asking(app: VmtuiApp) -> bool:
    """The host picker is up (by name: the test runs, and fails, where it does not exist yet)."""
    return type(app.screen).__name__ == "HostPickerModal"


def two_hosts() -> VmtuiApp:
    return VmtuiApp([HostEntry("one", TEST_URI), HostEntry("two", TEST_URI)], interval=0.5)


async def both_sampled(pilot: Pilot[None], app: VmtuiApp) -> DomainTable:
    table = app.host_screen.query_one(DomainTable)
    await wait_for(pilot, lambda: {r.host for u in visible_uuids(table) for r in table.rows_of(u)} == {"one", "two"})
    return table


async def test_with_no_row_selected_p_asks_which_host() -> None:
    app = two_hosts()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await both_sampled(pilot, app)
        await pilot.press("slash", *"host:two state:paused", "enter")  # no row left
        await wait_for(pilot, lambda: visible_uuids(table) == [])
        await pilot.press("P")
        await wait_for(pilot, lambda: asking(app))
        options = app.screen.query_one(OptionList)
        assert [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)] == ["one", "two"]
        await pilot.press("j", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, StorageScreen))
        assert isinstance(app.screen, StorageScreen)
        assert app.screen.host == "two"
        assert app.screen.title == "storage on two"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.host_screen)
        await pilot.press("N")  # Escape in the picker opens nothing
        await wait_for(pilot, lambda: asking(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.host_screen)


async def test_the_hosts_pane_takes_the_focus_and_its_host_is_the_one_opened() -> None:
    app = two_hosts()
    seen = Recorder()
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        table = await both_sampled(pilot, app)
        for index in range(2):  # the two rows of "test": the cursor on host one's
            table.move_cursor(index)
            if table.cursor_host == "one":
                break
        assert app.host_screen.selected_row_host() == "one"  # the table's selected row is on host one
        pane = app.host_screen.query_one(HostsPane)
        await pilot.press("tab")
        assert app.focused is pane
        await pilot.press("j")
        assert pane.selected == "two"
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen))
        assert isinstance(app.screen, MemoryScreen)
        assert app.screen.host == "two"
        assert app.screen.title == "memory of two"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.host_screen)
        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(app.screen, NetworksScreen))
        assert app.screen.title == "networks on two"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.host_screen)
        # The domain keys do not act on the table's row behind the pane's back.
        await pilot.press("x")
        await pilot.pause()
        assert app.screen_stack[-1] is app.host_screen  # no question asked, nothing run
        assert seen.said("the hosts pane has the focus")
        await pilot.press("tab")
        assert isinstance(app.focused, DomainTable)


async def test_one_host_watched_opens_without_asking() -> None:
    app = VmtuiApp([HostEntry("solo", TEST_URI)], interval=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.host_screen.query_one(DomainTable)
        await wait_for(pilot, lambda: len(visible_uuids(table)) == 1)
        await pilot.press("slash", *"state:paused", "enter")
        await wait_for(pilot, lambda: visible_uuids(table) == [])
        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(app.screen, NetworksScreen))
        assert app.screen.title == "networks on solo"


async def test_tab_goes_to_the_hosts_pane_and_back_past_a_kept_filter() -> None:
    # Found by the tmux walk: with a filter kept, Tab stopped in the filter line, and the next letter ("a")
    # replaced the filter instead of reaching the hosts pane.
    app = VmtuiApp([HostEntry("one", "test:///default")], interval=1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.host_screen.query_one(DomainTable)
        await wait_for(pilot, lambda: len(visible_uuids(table)) == 1)
        await pilot.press("slash", "t", "e", "enter")
        await wait_for(pilot, lambda: app.focused is table)
        for _ in range(2):
            await pilot.press("tab")
            await wait_for(pilot, lambda: isinstance(app.focused, HostsPane))
            await pilot.press("tab")
            await wait_for(pilot, lambda: app.focused is table)
        assert app.host_screen.query_one("#filter", Input).value == "te"
