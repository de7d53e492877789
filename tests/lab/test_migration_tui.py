"""Migration in the TUI over the lab: the target picker's pre-checks, the progress view, abort, and a
migration another tool started, shown as migrating and refused other actions until it ends."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from fixtures_lab import LabHandle
from textual.pilot import Pilot
from textual.widgets import Input

from tests.tui_reading import visible_uuids
from vmtui.app import VmtuiApp
from vmtui.drivers import connect
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.lab import image
from vmtui.models import HostEntry
from vmtui.screens.migrate import MigrateModal, MigrationScreen
from vmtui.widgets.domain_table import DomainTable

pytestmark = [pytest.mark.lab, pytest.mark.timeout(240)]


async def _until(pilot: Pilot[None], condition: Callable[[], bool], within: float, what: str = "") -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {within} s: {what}")
        await pilot.pause(0.1)


@pytest.fixture
def dirty_guest(lab: LabHandle) -> Iterator[str]:
    """A Linux guest rewriting 32 MiB at 16 MiB/s on lab1 (a 16 MiB/s migration of it never ends)."""
    linux = image.find_image()
    assert linux is not None
    name = f"mig-tui-{secrets.token_hex(2)}"
    spec = GuestSpec(name, memory_mib=128, domain_type="qemu", role="test", kernel=linux.kernel,
                     initrd=linux.initrd, cmdline=linux.cmdline(32, 16))  # fmt: skip
    try:
        with connect(lab.uris["lab1"]) as conn:
            conn.define_and_start(build_guest_xml(spec))
        lab.wait_dirtying("lab1", name)
        yield name
    finally:
        for host in lab.names:
            with connect(lab.uris[host]) as conn:
                conn.destroy_and_undefine(name)


async def test_pick_a_target_watch_abort_then_a_foreign_migration(lab: LabHandle, dirty_guest: str) -> None:
    app = VmtuiApp([HostEntry(h.name, h.uri) for h in lab.hosts], interval=1.0)
    async with app.run_test(size=(200, 50)) as pilot:
        table = app.host_screen.query_one(DomainTable)

        def states() -> dict[str, str]:
            """host column -> state of the guest's row (one row: "lab1→lab2" while it migrates)."""
            return {
                r.host if r.target is None else f"{r.host}→{r.target}": r.state
                for u in visible_uuids(table)
                if (r := table.row(u)) and r.name == dirty_guest
            }

        await _until(pilot, lambda: states().get("lab1") == "running", 60, "the guest's row")
        await pilot.press("slash", *dirty_guest, "enter")
        await pilot.pause()
        await pilot.press("m")
        await _until(pilot, lambda: isinstance(app.screen, MigrateModal), 10, "the target picker")
        modal = app.screen
        assert isinstance(modal, MigrateModal)
        await _until(pilot, lambda: "lab2" in modal.reports, 60, "lab2's pre-checks")
        assert modal.reports["lab2"].ok, modal.reports["lab2"].summary()
        modal.query_one("#opt-bandwidth", Input).value = "16"
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, MigrationScreen), 10, "the progress view")
        view = app.screen
        assert isinstance(view, MigrationScreen)
        uuid = next(u for u in visible_uuids(table) if (r := table.row(u)) and r.name == dirty_guest)
        # One row for both halves (the target holds the incoming one), filtered in by either host,
        # and other actions refused until the job ends.
        await _until(pilot, lambda: states() == {"lab1→lab2": "migrating…"}, 60, f"{states()}")
        incoming = lambda: dirty_guest in lab.virsh("lab2", "list", "--all", "--name").stdout  # noqa: E731
        await _until(pilot, incoming, 60, "the incoming half on lab2")
        assert states() == {"lab1→lab2": "migrating…"}
        assert app.fleet.action_refusal(uuid, "suspend") == "migrating… still running"
        await pilot.press("x")
        await _until(pilot, lambda: view.ended is not None, 60, "the job's end")
        assert view.ended == "failed"  # aborted: not completed
        await pilot.press("escape")
        await _until(pilot, lambda: states() == {"lab1": "running"}, 30, f"{states()}")
        assert lab.virsh("lab1", "domstate", dirty_guest).stdout.strip() == "running"

        # Another tool starts a migration: the TUI notices (iteration events), watches it, refuses actions.
        foreign = subprocess.Popen(  # noqa: ASYNC220 (virsh runs beside the app, not awaited)
            ["virsh", "-c", lab.uris["lab1"], "migrate", "--live", "--p2p", "--persistent", "--undefinesource",
             "--bandwidth", "16", dirty_guest, lab.uris["lab2"]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            # Named lab1→lab2 once libvirt's incoming-migration event from lab2 came in.
            await _until(pilot, lambda: states() == {"lab1→lab2": "migrating…"}, 60, f"{states()}")
            await pilot.press("m")  # on a migrating domain: its job, where `x` aborts it
            await _until(pilot, lambda: isinstance(app.screen, MigrationScreen), 10, "the watched job's view")
            watched = app.screen
            assert isinstance(watched, MigrationScreen)
            await pilot.press("x")
            await _until(pilot, lambda: watched.ended is not None, 60, "the watched job's end")
            assert foreign.wait(timeout=60) != 0  # virsh saw its migration aborted
        finally:
            if foreign.poll() is None:
                foreign.kill()
        await pilot.press("escape")
        await _until(pilot, lambda: states() == {"lab1": "running"}, 30, f"{states()}")
