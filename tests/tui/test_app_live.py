"""Pilot tests of the TUI against real libvirt: local KVM guests and a private daemon we kill."""

from __future__ import annotations

import contextlib

import pytest

from tests.tui.conftest import Guests, PrivateDaemon, Recorder, offered, wait_for
from tests.tui_reading import visible_uuids
from vmtui.app import VmtuiApp
from vmtui.errors import VmtuiError
from vmtui.models import HostEntry
from vmtui.monitor.events import HostDisconnected
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.domain import DomainScreen
from vmtui.tui.messages import ActionRequested, JobFinished, MonitorReported
from vmtui.widgets.domain_table import DomainTable
from vmtui.widgets.hosts_pane import HostsPane

pytestmark = pytest.mark.timeout(120)


def _table(app: VmtuiApp) -> DomainTable:
    return app.host_screen.query_one(DomainTable)


def _state(app: VmtuiApp, uuid: str) -> str | None:
    row = _table(app).row(uuid)
    return row.state if row else None


def _has_rates(app: VmtuiApp, uuid: str) -> bool:
    row = _table(app).row(uuid)
    return row is not None and row.cpu is not None


async def test_filter_sort_and_open_domain(local_guests: Guests) -> None:
    app = VmtuiApp([HostEntry("local", local_guests.uri)], interval=0.3)
    async with app.run_test(size=(200, 50)) as pilot:
        table = _table(app)
        await wait_for(pilot, lambda: all(_has_rates(app, u) for u in local_guests.uuids.values()))
        assert app.fleet.hosts["local"].status == "connected"

        await pilot.press("slash")
        await pilot.press(*f"state:running host:local {local_guests.prefix}")
        await pilot.pause()
        mine = set(local_guests.uuids.values())
        assert set(visible_uuids(table)) == mine
        await pilot.press("enter")  # keeps the filter, back to the rows

        assert table.sort_key == "name"
        first_two = [table.row(u).name for u in visible_uuids(table)]  # type: ignore[union-attr]
        assert first_two == sorted(first_two)
        await pilot.press("S")
        assert [table.row(u).name for u in visible_uuids(table)] == sorted(first_two, reverse=True)  # type: ignore[union-attr]

        # Clicking a header sorts by that column.
        shown = [c.key for c in table.columns]
        x = sum(c.width + 1 for c in table.columns[: shown.index("cpu")]) + 2
        await pilot.click(DomainTable, offset=(x, 0))
        assert table.sort_key == "cpu"

        # A regex on the name alone (other tests' guests may run too), then open the e1000 guest.
        await pilot.press("escape", "slash", *f"^{local_guests.prefix}.*e1000$", "enter")
        assert [table.row(u).name for u in visible_uuids(table)] == [local_guests.names[0]]  # type: ignore[union-attr]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DomainScreen)
        await wait_for(pilot, lambda: "e1000" in str(app.screen.query_one("#findings").render()))
        findings = str(app.screen.query_one("#findings").render())
        assert "emulated" in findings
        assert "fix:" in findings
        await pilot.press("escape")
        assert not isinstance(app.screen, DomainScreen)


async def test_pause_resume_and_force_off_change_state(local_guests: Guests) -> None:
    app = VmtuiApp([HostEntry("local", local_guests.uri)], interval=0.5)
    target = local_guests.uuids[local_guests.names[1]]
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: _state(app, target) == "running")
        await pilot.press("slash", *local_guests.names[1], "enter")
        assert _table(app).cursor_uuid == target

        await pilot.press("p")
        await wait_for(pilot, lambda: _state(app, target) == "paused")
        await pilot.press("r")
        await wait_for(pilot, lambda: _state(app, target) == "running")

        await pilot.press("x")  # destructive: asks first
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmModal))
        assert app.jobs.jobs == {}  # No: nothing was started
        assert _state(app, target) == "running"

        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))  # a `y` before it would be lost
        await pilot.press("y")
        # QEMU's end takes seconds on a loaded 2-core CI host: the state is what is asserted, not the speed.
        await wait_for(pilot, lambda: _state(app, target) == "shut-off", within=45.0)
        await wait_for(pilot, lambda: seen.said("Force off"))


async def test_read_only_host_offers_no_action_and_refuses_a_request(local_guests: Guests) -> None:
    app = VmtuiApp([HostEntry("ro", local_guests.uri, read_only=True)], interval=0.3)
    target = local_guests.uuids[local_guests.names[0]]
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: _state(app, target) == "running")
        assert "RO" in str(app.host_screen.query_one(HostsPane).render())
        await pilot.press("slash", *local_guests.names[0], "enter")
        assert _table(app).cursor_uuid == target
        assert not {"u", "d", "b", "x", "p", "r"} & offered(app.screen)  # not offered
        await pilot.press("p")
        # A request that gets through anyway (the palette, a script) is refused before any job starts.
        app.post_message(ActionRequested(target, "suspend"))
        await wait_for(pilot, lambda: seen.said("read-only"))
        assert app.jobs.jobs == {}
        assert seen.of(JobFinished) == []
        assert _state(app, target) == "running"


async def test_stale_marker_then_recovery(private_daemon: PrivateDaemon) -> None:
    app = VmtuiApp([HostEntry("priv", private_daemon.uri)], interval=0.2, backoff=(0.3, 1.0))
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        table = _table(app)
        await wait_for(pilot, lambda: len(visible_uuids(table)) == 2)
        assert all(table.row(u).stale_since is None for u in visible_uuids(table))  # type: ignore[union-attr]

        private_daemon.kill()
        await wait_for(pilot, lambda: app.fleet.hosts["priv"].status == "disconnected")
        await wait_for(pilot, lambda: all(table.row(u).stale_since for u in visible_uuids(table)))  # type: ignore[union-attr]
        pane = str(app.host_screen.query_one(HostsPane).render())
        assert "disconnected since" in pane
        # Stays responsive while the host is down: the UI still moves.
        await pilot.press("S")
        assert table.sort_reverse
        # Several failed reconnects (each one a report from the poller)...
        await wait_for(pilot, lambda: sum(isinstance(m, MonitorReported) and isinstance(m.event, HostDisconnected)
                                          for m in seen.messages) >= 3)  # fmt: skip
        lost = [n for n in seen.notes() if "host lost" in n.title]
        assert len(lost) == 1  # ...but one notification per state change

        private_daemon.start()
        await wait_for(pilot, lambda: app.fleet.hosts["priv"].status == "connected", within=20)
        await wait_for(pilot, lambda: all(table.row(u).stale_since is None for u in visible_uuids(table)))  # type: ignore[union-attr]
        assert seen.said("reconnected")


async def test_lifecycle_events_show_at_once_not_at_the_next_poll(local_guests: Guests) -> None:
    """Another tool pauses a guest: the row follows within seconds though the next poll is a minute away."""
    from vmtui.drivers import connect

    target = local_guests.uuids[local_guests.names[1]]
    app = VmtuiApp([HostEntry("local", local_guests.uri)], interval=60.0)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: _state(app, target) == "running")
        with connect(local_guests.uri) as other_tool:
            try:
                other_tool.lifecycle(target, "suspend")
                await wait_for(pilot, lambda: _state(app, target) == "paused", within=5)
            finally:
                other_tool.lifecycle(target, "resume")
            await wait_for(pilot, lambda: _state(app, target) == "running", within=5)


async def test_a_dead_daemon_is_noticed_at_once_not_at_the_next_poll(private_daemon: PrivateDaemon) -> None:
    """The connection's close callback wakes the poller: rows go stale within seconds, not a minute.

    (Events after a reconnect are tested over ssh in tests/lab/test_tui_over_ssh.py: the test driver
    keeps a private state per connection, so another client's changes never reach this one.)
    """
    app = VmtuiApp([HostEntry("priv", private_daemon.uri)], interval=60.0, backoff=(0.3, 1.0))
    async with app.run_test(size=(200, 50)) as pilot:
        table = _table(app)
        await wait_for(pilot, lambda: len(visible_uuids(table)) == 2)
        private_daemon.kill()
        await wait_for(pilot, lambda: app.fleet.hosts["priv"].status == "disconnected", within=10)
        private_daemon.start()
        await wait_for(pilot, lambda: app.fleet.hosts["priv"].status == "connected", within=20)


async def test_acting_on_a_domain_another_tool_just_removed(local_guests: Guests) -> None:
    """RELIABILITY #10: the row is still there when the key is pressed; the action reports the domain gone,
    nothing crashes, and the row goes once libvirt's event arrives."""
    from vmtui.drivers import connect
    from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml

    with connect(local_guests.uri) as other_tool:
        spec = GuestSpec(name=f"{local_guests.prefix}-doomed", role="test", domain_type="kvm", nic_model=None)
        doomed = other_tool.define_and_start(build_guest_xml(spec)).uuid
        try:
            app = VmtuiApp([HostEntry("local", local_guests.uri)], interval=60.0)
            seen = Recorder()
            async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
                await wait_for(pilot, lambda: _state(app, doomed) == "running")
                other_tool.destroy_and_undefine(doomed)
                app.post_message(ActionRequested(doomed, "suspend"))  # may arrive before or after the events
                # Either the job hears libvirt say so, or the events got there first: "gone" either way.
                await wait_for(pilot, lambda: seen.said("no domain") or seen.said("it is gone"))
                await wait_for(pilot, lambda: _table(app).row(doomed) is None, within=5)
        finally:
            with contextlib.suppress(VmtuiError):
                other_tool.destroy_and_undefine(doomed)
