"""Feedback that tells the truth (issue 27, item 4): a request is said as a request and followed,
a long action shows on its row at once, and no notification is cut mid-word.

On real guests of the local libvirtd: the diskless test guests ignore ACPI, so a shutdown request is
never acted on, which is what the follow-up has to say.
"""

from __future__ import annotations

import pytest

from tests.tui.conftest import Guests, Recorder, wait_for
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.screens.confirm import ConfirmModal
from vmtui.tui import domains
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
