"""What a hostile first hour broke in the TUI: names read as markup, actions racing, a quit that waited.

Real libvirt: guests on the local libvirtd, and a private libvirtd (test driver) that the test freezes.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from textual.command import CommandList
from textual.widgets import Label

from tests.tui.conftest import SYSTEM_URI, Guests, PrivateDaemon, Recorder, offered, wait_for
from tests.tui_reading import visible_uuids
from vmtui.app import VmtuiApp
from vmtui.drivers import connect
from vmtui.drivers.base import Hypervisor
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.errors import VmtuiError
from vmtui.models import HostEntry
from vmtui.monitor.poller import open_host
from vmtui.screens.confirm import ConfirmModal
from vmtui.tui.messages import ActionRequested, JobFinished
from vmtui.widgets.domain_table import DomainTable

pytestmark = pytest.mark.timeout(120)
MARKUP = "[b]bold[reverse]r[link=x]y[@click=app.quit]z"


@pytest.fixture
def markup_guest() -> Iterator[tuple[str, str]]:
    """A running guest whose name is full of Rich/Textual markup: (name, uuid)."""
    name = f"vmtui-tui-{uuid.uuid4().hex[:6]}-{MARKUP}"
    with connect(SYSTEM_URI) as conn:
        spec = GuestSpec(name=name, role="test", domain_type="qemu", nic_model=None)
        made = conn.define_and_start(build_guest_xml(spec)).uuid
        try:
            yield name, made
        finally:
            with contextlib.suppress(VmtuiError):
                conn.destroy_and_undefine(made)


def _state(app: VmtuiApp, dom: str) -> str | None:
    row = app.host_screen.query_one(DomainTable).row(dom)
    return row.state if row else None


async def test_a_name_full_of_markup_is_shown_as_typed(markup_guest: tuple[str, str]) -> None:
    name, dom = markup_guest
    app = VmtuiApp([HostEntry("local", SYSTEM_URI)], interval=0.5)
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: _state(app, dom) == "running")
        await pilot.press("slash", *"vmtui-tui", "enter")
        app.host_screen.query_one(DomainTable).move_cursor(
            visible_uuids(app.host_screen.query_one(DomainTable)).index(dom)
        )
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        question = str(app.screen.query_one("#confirm-question", Label).render())
        assert question == f"Force off {name} on local?"
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmModal))
        assert app.is_running  # "[@click=app.quit]" did not quit the app

        await pilot.press("p")
        await wait_for(pilot, lambda: seen.said(f"Pause {name}: done"))
        assert all(not n.markup for n in seen.notes())

        await pilot.press("ctrl+p")
        await pilot.press(*"resume")

        def offered() -> str | None:
            hits = app.screen.query(CommandList)
            index = hits.first().highlighted if hits else None
            return None if index is None else str(hits.first().get_option_at_index(index).prompt)

        await wait_for(pilot, lambda: (offered() or "").startswith("Resume"), within=10)
        assert f"Resume {name}" in (offered() or "")
        await pilot.press("enter")
        await wait_for(pilot, lambda: _state(app, dom) == "running")


class SlowHost:
    """Opens a real connection, slowly: what a host far away or under load does to each job."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __call__(self, entry: HostEntry) -> Hypervisor:
        if threading.current_thread().name.startswith("job "):
            time.sleep(self.delay)
        return open_host(entry)


async def test_one_action_at_a_time_per_domain(local_guests: Guests) -> None:
    target = local_guests.uuids[local_guests.names[1]]
    app = VmtuiApp([HostEntry("local", local_guests.uri)], interval=0.5, connector=SlowHost(1.5))
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: _state(app, target) == "running")
        await pilot.press("slash", *local_guests.names[1], "enter")
        await pilot.press("p")
        await wait_for(pilot, lambda: _state(app, target) == "pausing…")  # the row says what runs
        keys = offered(app.screen)
        assert not {"p", "x", "r", "d"} & keys  # nothing else is offered while it runs
        await pilot.press("p", "x")  # a double p, then x: both ignored
        app.post_message(ActionRequested(target, "destroy"))  # and a request from elsewhere is refused
        await wait_for(pilot, lambda: seen.said("pausing… still running"))
        await wait_for(pilot, lambda: _state(app, target) == "paused")
        finished = [
            m for m in seen.of(JobFinished) if isinstance(m, JobFinished) and not m.label.startswith("Migrations")
        ]
        assert [(m.label.split()[0], m.ok) for m in finished] == [("Pause", True)]
        await pilot.press("r")
        await wait_for(pilot, lambda: _state(app, target) == "running")


async def test_quit_is_immediate_with_an_action_stuck_on_a_frozen_host(private_daemon: PrivateDaemon) -> None:
    app = VmtuiApp([HostEntry("priv", private_daemon.uri)], interval=0.3, backoff=(0.3, 1.0))
    assert private_daemon.proc is not None
    pid = private_daemon.proc.pid
    try:
        async with app.run_test(size=(200, 50)) as pilot:
            await wait_for(pilot, lambda: len(visible_uuids(app.host_screen.query_one(DomainTable))) == 2)
            os.kill(pid, signal.SIGSTOP)  # the host freezes: every call to it now hangs
            target = visible_uuids(app.host_screen.query_one(DomainTable))[0]
            app.post_message(ActionRequested(target, "suspend"))
            await wait_for(pilot, lambda: bool(app.jobs.jobs))
            (job,) = app.jobs.jobs.values()
            await pilot.press("q")
        assert job.thread is not None
        assert job.thread.is_alive()  # the call still hangs: quit did not wait for it
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.mark.parametrize("keys", [["ctrl+c"], ["x", "q"]], ids=["ctrl-c", "q-in-a-question"])
async def test_ctrl_c_and_q_in_a_question_quit(local_guests: Guests, keys: list[str]) -> None:
    app = VmtuiApp([HostEntry("local", local_guests.uri)], interval=0.5)
    target = local_guests.uuids[local_guests.names[0]]
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: _state(app, target) == "running")
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await wait_for(pilot, lambda: not app.is_running)
    assert _state_virsh(local_guests.names[0]) == "running"  # q in the question answered nothing


def _state_virsh(name: str) -> str:
    import subprocess

    out = subprocess.run(["virsh", "-c", SYSTEM_URI, "domstate", name], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _screen_text(app: VmtuiApp) -> str:
    """What the terminal shows, as plain text (the SVG screenshot without its tags)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


@pytest.mark.parametrize(
    ("keys", "screen"),
    [
        (["enter"], "DomainScreen"),
        (["X"], "XmlScreen"),
        (["v"], "DevicesScreen"),
        (["M"], "MemoryScreen"),
    ],
)
async def test_every_screen_shows_a_markup_name_as_typed(
    markup_guest: tuple[str, str], keys: list[str], screen: str
) -> None:
    """The full screens added after the first hour show the name literally (a full screen hides the table, so
    the name on screen is the screen's own)."""
    name, dom = markup_guest
    app = VmtuiApp([HostEntry("local", SYSTEM_URI)], interval=0.5)
    async with app.run_test(size=(220, 50)) as pilot:
        await wait_for(pilot, lambda: _state(app, dom) == "running")
        await pilot.press("slash", *"vmtui-tui", "enter")
        table = app.host_screen.query_one(DomainTable)
        table.move_cursor(visible_uuids(table).index(dom))
        await pilot.press(*keys)
        await wait_for(pilot, lambda: type(app.screen).__name__ == screen)
        await wait_for(pilot, lambda: MARKUP in _screen_text(app), within=30)
        assert app.is_running
