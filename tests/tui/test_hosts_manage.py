"""Adding and removing a host from the TUI, as `vmtui hosts add` / `hosts rm` do, on the local libvirtd."""

from __future__ import annotations

import pytest
from textual.command import CommandList
from textual.widgets import Input, Label

from tests.conftest import need
from tests.tui.conftest import SYSTEM_URI, _libvirt_ready, wait_for
from tests.tui_reading import visible_uuids
from vmtui.app import VmtuiApp
from vmtui.config import HostStore
from vmtui.screens.add_host import AddHostModal
from vmtui.screens.confirm import ConfirmModal
from vmtui.widgets.domain_table import DomainTable

pytestmark = pytest.mark.timeout(120)


async def test_add_a_host_then_remove_it() -> None:
    need(_libvirt_ready(), "needs the local libvirtd (qemu:///system)")
    app = VmtuiApp([], interval=0.5)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, AddHostModal)

        # A bad name: the dialog says why and keeps what was typed; nothing is saved.
        await pilot.press(*"my host", "enter", *SYSTEM_URI, "enter")
        await pilot.pause()
        assert app.screen is dialog
        assert "invalid host name" in str(dialog.query_one("#add-host-error", Label).render())
        assert dialog.query_one("#host-uri", Input).value == SYSTEM_URI
        assert HostStore().load() == []

        dialog.query_one("#host-name", Input).value = "local"
        await pilot.click("#save")
        await pilot.pause()
        assert app.screen is not dialog
        assert [(e.name, e.uri, e.read_only) for e in HostStore().load()] == [("local", SYSTEM_URI, False)]
        await wait_for(pilot, lambda: app.fleet.hosts["local"].status == "connected")

        # The same name again is refused in the dialog.
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"local", "enter", *SYSTEM_URI, "enter")
        await pilot.pause()
        assert "already" in str(app.screen.query_one("#add-host-error", Label).render())
        await pilot.press("escape")

        # Remove it from the command palette, confirmed.
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"remove host local")

        def offered() -> bool:  # the palette searches asynchronously: Enter only once the hit is highlighted
            hits = app.screen.query(CommandList)
            index = hits.first().highlighted if hits else None
            return index is not None and "Remove host local" in str(hits.first().get_option_at_index(index).prompt)

        await wait_for(pilot, offered, within=10)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), within=5)
        poller = app.pollers["local"]
        await pilot.press("y")
        await wait_for(pilot, lambda: "local" not in app.fleet.hosts, within=5)
        assert HostStore().load() == []
        table = app.host_screen.query_one(DomainTable)
        assert all(r.host != "local" for u in visible_uuids(table) if (r := table.row(u)))
        # A sample the poller had in flight must not bring the host back: wait for its thread to end,
        # then for the queue to drain.
        await wait_for(pilot, lambda: not poller.is_alive(), within=10)
        await pilot.pause()
        assert "local" not in app.fleet.hosts
