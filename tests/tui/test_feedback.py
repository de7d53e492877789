"""Feedback that tells the truth (issue 27, item 4): a request is said as a request and followed,
a long action shows on its row at once, and no notification is cut mid-word.

On real guests of the local libvirtd: the diskless test guests ignore ACPI, so a shutdown request is
never acted on, which is what the follow-up has to say.
"""

from __future__ import annotations

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from tests.tui.conftest import Guests, Recorder, wait_for
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.devices import COLUMNS, DevicesScreen
from vmtui.screens.domain import DomainScreen
from vmtui.screens.guest_panel import GuestPanel
from vmtui.screens.notifications import NotificationsScreen
from vmtui.tui import domains
from vmtui.tui.messages import FetchRequested
from vmtui.widgets.domain_table import DomainTable

pytestmark = pytest.mark.timeout(120)


def _state(app: VmtuiApp, uuid: str) -> str | None:
    row = app.host_screen.query_one(DomainTable).row(uuid)
    return row.state if row else None


async def test_a_shutdown_is_said_as_requested_followed_then_said_not_done(
    local_guests: Guests, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(domains, "SHUTDOWN_WAIT_S", 3.0, raising=False)
    name = local_guests.names[1]
    target = local_guests.uuids[name]
    app = VmtuiApp([HostEntry("local", local_guests.uri)], interval=0.5)
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: _state(app, target) == "running")
        await pilot.press("slash", *name, "enter")
        assert app.host_screen.query_one(DomainTable).cursor_uuid == target
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await wait_for(pilot, lambda: seen.said(f"Shut down {name}: requested; the guest decides"))
        assert not seen.said(f"Shut down {name}: done")
        # The job is over, but the row still says the request is pending, and the other keys stay open.
        assert app.jobs.jobs == {}
        assert _state(app, target) == "shutting down…"
        assert app.fleet.action_refusal(target, "destroy", "local") is None
        await wait_for(pilot, lambda: seen.said(f"{name} is still running 3 s after the shutdown request"), within=10)
        warning = next(n for n in seen.notes() if "still running" in n.message)
        assert warning.severity == "warning"
        await wait_for(pilot, lambda: _state(app, target) == "running")


async def test_a_device_change_shows_at_once_and_says_both_halves_whole(local_guests: Guests) -> None:
    # The running e1000 guest has no OS to release the NIC: the config half is done, the live half fails
    # after the release wait (20 s): a partial success.
    name = local_guests.names[0]
    target = local_guests.uuids[name]
    app = VmtuiApp([HostEntry("local", local_guests.uri)], interval=0.5)
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: _state(app, target) == "running")
        await pilot.press("slash", *f"^{name}$", "enter")
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, DevicesScreen) and app.screen.report is not None)
        screen = app.screen
        assert isinstance(screen, DevicesScreen)
        assert screen.report is not None
        nic_row = next(i for i, a in enumerate(screen.report.devices) if a.device.kind == "nic")
        table = screen.query_one("#dev-table", DataTable)
        table.move_cursor(row=nic_row)
        await pilot.pause()
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await pilot.pause(0.3)
        # At once (the change takes 20 s): the dashboard's row, the devices screen's line and the NIC's row.
        assert app.fleet.shown_state(target) == "changing devices…"
        assert "changing devices…" in str(screen.query_one("#dev-detail", Static).render())
        assert str(table.get_cell_at(Coordinate(nic_row, COLUMNS.index("to virtio")))) == "changing devices…"

        await wait_for(pilot, lambda: any("virtio-nic" in n.message for n in seen.notes()), within=60)
        toast = next(n for n in seen.notes() if "virtio-nic" in n.message)
        whole = next(n.message for n in app.notes if "virtio-nic" in n.message)
        # Both halves, the one that worked first; the log keeps the whole text.
        assert "config: done (virtio from the next boot); live: failed (the guest did not release NIC" in whole
        assert whole.endswith("the NIC is gone until the next boot)")
        assert toast.severity == "error"
        # The toast is one line, cut at a word boundary: every word it shows is a whole word of the message.
        assert toast.message.endswith("…")
        assert len(toast.message) <= 160
        shown = toast.message[:-1].split()
        assert shown == whole.split()[: len(shown)]
        assert "config: done (virtio from the next boot)" in toast.message
        await wait_for(pilot, lambda: "changing" not in str(screen.query_one("#dev-detail", Static).render()))

        # The log opens with ctrl+n (and from the palette) and shows the whole text.
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, NotificationsScreen)
        shown_log = str(app.screen.query_one("#notes", Static).render())
        assert " ".join(whole.split()) in " ".join(shown_log.split())


async def test_the_domain_screen_asks_the_guests_facts_again_while_it_is_open(
    local_guests: Guests, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The periodic ask sat after a `return` since a merge: the facts came once (after the snapshot list's job
    ended) and never again, so an address or an agent that appeared later was never shown."""
    monkeypatch.setattr("vmtui.screens.domain.REFRESH_SECONDS", 0.5)
    name = local_guests.names[1]
    target = local_guests.uuids[name]
    app = VmtuiApp([HostEntry("local", local_guests.uri)], interval=0.5)
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: _state(app, target) == "running")
        await pilot.press("slash", *f"^{name}$", "enter", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        panel = app.screen.query_one(GuestPanel)

        def asks() -> int:
            return sum(1 for m in seen.messages if isinstance(m, FetchRequested) and m.key == f"guest:{target}")

        await wait_for(pilot, lambda: asks() >= 4)  # at 0.5 s: four asks in about two seconds
        assert panel.facts is not None, panel.error
        assert "agent absent" in str(panel.render())  # a diskless guest: no agent, no lease
