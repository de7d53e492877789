"""Pilot tests of the storage and network screens and the domain screen's guest facts, on the local
libvirtd with a pool, a network and a guest of their own (`res_lab`); virsh is the witness."""

from __future__ import annotations

import asyncio
import threading

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Label

from tests.fixtures_resources import Lab, virsh, virsh_fields, vol_names
from tests.tui.conftest import SYSTEM_URI, Recorder, wait_for
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.present import size
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.domain import DomainScreen
from vmtui.screens.form import FormModal
from vmtui.screens.guest_panel import GuestPanel
from vmtui.screens.networks import NetworksScreen
from vmtui.screens.storage import StorageScreen

pytestmark = pytest.mark.timeout(180)


def _cells(screen: StorageScreen | NetworksScreen, table_id: str, row: int) -> list[str]:
    return [str(getattr(c, "plain", c)) for c in screen.query_one(table_id, DataTable).get_row_at(row)]


async def _go_to(pilot: Pilot[None], screen: StorageScreen | NetworksScreen, table_id: str, row: int) -> None:
    """Focus a table and put its cursor on `row` with the keys a user presses."""
    table = screen.query_one(table_id, DataTable)
    table.focus()
    await wait_for(pilot, lambda: screen.focused is table)  # focus moves later: keys before it go elsewhere
    await pilot.press(*["up"] * table.cursor_row, *["down"] * row)
    assert table.cursor_row == row


async def _storage_of(pilot: Pilot[None], app: VmtuiApp, pool: str) -> StorageScreen:
    """Once connected, P opens the storage screen; the cursor then goes to `pool`."""
    await wait_for(pilot, lambda: app.fleet.hosts["local"].status == "connected")
    await pilot.press("P")
    await wait_for(pilot, lambda: isinstance(app.screen, StorageScreen) and bool(app.screen.pools))
    screen = app.screen
    assert isinstance(screen, StorageScreen)
    await _go_to(pilot, screen, "#pools", [p.name for p in screen.pools].index(pool))
    return screen


async def test_storage_screen_creates_refuses_and_deletes_volumes(res_lab: Lab) -> None:
    app = VmtuiApp([HostEntry("local", SYSTEM_URI)], interval=0.5)
    said = Recorder()
    async with app.run_test(size=(200, 50), message_hook=said) as pilot:
        screen = await _storage_of(pilot, app, res_lab.pool)
        row = [p.name for p in screen.pools].index(res_lab.pool)
        await wait_for(pilot, lambda: screen.view is not None and screen.view.pool == res_lab.pool)
        await wait_for(pilot, lambda: bool(screen.volumes))

        info = virsh_fields("pool-info", res_lab.pool, "--bytes")
        capacity, allocation = (int(info[k].split()[0]) for k in ("Capacity", "Allocation"))
        cells = _cells(screen, "#pools", row)
        assert cells[:4] == [res_lab.pool, "running", "no", "dir"]
        assert cells[5:7] == [size(capacity), size(allocation)]
        assert cells[8].endswith(f" {100 * allocation / capacity:.1f}%")
        assert set(cells[8].split()[0]) <= {"█", "░"}
        disk_row = [v.name for v in screen.volumes].index(res_lab.disk)
        assert _cells(screen, "#volumes", disk_row)[5] == res_lab.guest  # "used by"

        # n: a new volume; the name keeps its brackets (never read as markup).
        name = "[b]new[i] vol.qcow2"
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormModal))
        await pilot.press(*name, "enter", *"12", "enter", "enter")  # the format field says qcow2
        # A bare number is refused in place, as on the command line; with a unit it is taken.
        error = app.screen.query_one("#form-error", Label)
        await wait_for(pilot, lambda: "size '12' has no unit" in str(error.render()))
        assert isinstance(app.screen, FormModal)
        app.screen.query_one("#form-size", Input).value = "12MiB"
        await pilot.press("enter")
        await wait_for(pilot, lambda: name in vol_names(res_lab.pool, res_lab.pool_dir))
        await wait_for(pilot, lambda: name in [v.name for v in screen.volumes])
        assert virsh_fields("vol-info", "--pool", res_lab.pool, name, "--bytes")["Capacity"] == f"{12 * 2**20} bytes"
        new_row = [v.name for v in screen.volumes].index(name)
        assert _cells(screen, "#volumes", new_row)[:3] == [name, "qcow2", "12 MiB"]

        # delete on the guest's disk: refused at once, naming the guest; nothing asked, nothing deleted.
        await _go_to(pilot, screen, "#volumes", [v.name for v in screen.volumes].index(res_lab.disk))
        await pilot.press("delete")
        await wait_for(pilot, lambda: said.said(f"domain {res_lab.guest} uses it"))
        assert not isinstance(app.screen, ConfirmModal)
        assert res_lab.disk in vol_names(res_lab.pool, res_lab.pool_dir)

        # delete on the new one: asked first, then gone.
        await _go_to(pilot, screen, "#volumes", [v.name for v in screen.volumes].index(name))
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert name in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("y")
        await wait_for(pilot, lambda: name not in vol_names(res_lab.pool, res_lab.pool_dir))
        await wait_for(pilot, lambda: name not in [v.name for v in screen.volumes])


async def test_storage_screen_delete_of_a_base_the_pool_has_not_seen_used_is_refused_by_the_job(res_lab: Lab) -> None:
    base, overlay = "base.raw", "ov.qcow2"
    virsh("vol-create-as", res_lab.pool, base, "8M", "--format", "raw")
    app = VmtuiApp([HostEntry("local", SYSTEM_URI)], interval=0.5)
    said = Recorder()
    try:
        async with app.run_test(size=(200, 50), message_hook=said) as pilot:
            screen = await _storage_of(pilot, app, res_lab.pool)
            await wait_for(pilot, lambda: base in [v.name for v in screen.volumes])
            # An overlay made behind the pool's back, as an external snapshot makes it: the screen
            # still shows the base unused, so the question is asked; the job asks the host again.
            made = await asyncio.create_subprocess_exec(
                "qemu-img", "create", "-q", "-f", "qcow2", "-b", str(res_lab.pool_dir / base), "-F", "raw",
                str(res_lab.pool_dir / overlay),
            )  # fmt: skip
            assert await made.wait() == 0
            await _go_to(pilot, screen, "#volumes", [v.name for v in screen.volumes].index(base))
            await pilot.press("delete")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.press("y")
            await wait_for(pilot, lambda: said.said(f"it is the backing file of volume {overlay}"))
            assert (res_lab.pool_dir / base).exists()
            # ctrl+r rescans the pool: the overlay shows, on its base.
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: overlay in [v.name for v in screen.volumes])
            assert next(v for v in screen.volumes if v.name == overlay).backing == str(res_lab.pool_dir / base)
    finally:
        for name in (overlay, base):
            virsh("vol-delete", "--pool", res_lab.pool, name, check=False)
            (res_lab.pool_dir / name).unlink(missing_ok=True)


async def test_a_change_waits_for_the_read_after_the_last_one(res_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """`A` pressed again right after "done", before the screen has read the network again, is refused:
    decided from the row it still showed ("no"), it would have asked "autostart on" a second time."""
    from vmtui.ops import networks as networks_ops

    gate = threading.Event()
    gate.set()
    real = networks_ops.networks

    def gated(conn: object) -> object:
        gate.wait(30)  # the read itself is the real one; only its answer is held back
        return real(conn)  # type: ignore[arg-type]

    monkeypatch.setattr(networks_ops, "networks", gated)
    recorder = Recorder()
    app = VmtuiApp([HostEntry("local", SYSTEM_URI)], interval=0.5)
    async with app.run_test(size=(200, 50), message_hook=recorder) as pilot:
        await wait_for(pilot, lambda: app.fleet.hosts["local"].status == "connected")
        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(app.screen, NetworksScreen) and bool(app.screen.networks))
        nets = app.screen
        assert isinstance(nets, NetworksScreen)
        row = [n.name for n in nets.networks].index(res_lab.net)
        await _go_to(pilot, nets, "#networks", row)
        assert _cells(nets, "#networks", row)[2] == "no"
        try:
            gate.clear()
            await pilot.press("A")
            await wait_for(pilot, lambda: recorder.said(f"Autostart on for network {res_lab.net}: done"))
            assert virsh_fields("net-info", res_lab.net)["Autostart"] == "yes"
            assert _cells(nets, "#networks", row)[2] == "no"  # the read after the change is held back
            await pilot.press("A")
            await wait_for(pilot, lambda: recorder.said("still reading the host"))
            gate.set()
            await wait_for(pilot, lambda: _cells(nets, "#networks", row)[2] == "yes")
            await pilot.press("A")
            await wait_for(pilot, lambda: virsh_fields("net-info", res_lab.net)["Autostart"] == "no")
            done = [n.message for n in recorder.notes() if n.message.endswith(": done")]
            assert done == [
                f"Autostart on for network {res_lab.net}: done",
                f"Autostart off for network {res_lab.net}: done",
            ]
        finally:
            gate.set()
            if virsh_fields("net-info", res_lab.net)["Autostart"] != "no":
                virsh("net-autostart", res_lab.net, "--disable")


async def test_networks_screen_and_guest_facts_with_autostart(res_lab: Lab) -> None:
    app = VmtuiApp([HostEntry("local", SYSTEM_URI)], interval=0.5)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: app.fleet.hosts["local"].status == "connected")
        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(app.screen, NetworksScreen) and bool(app.screen.networks))
        nets = app.screen
        assert isinstance(nets, NetworksScreen)
        row = [n.name for n in nets.networks].index(res_lab.net)
        await _go_to(pilot, nets, "#networks", row)
        assert _cells(nets, "#networks", row)[:7] == [
            res_lab.net, "yes", "no", "isolated", res_lab.bridge, f"{res_lab.subnet}.1/24", "no",
        ]  # fmt: skip
        try:
            await pilot.press("A")
            await wait_for(pilot, lambda: virsh_fields("net-info", res_lab.net)["Autostart"] == "yes")
            await wait_for(pilot, lambda: _cells(nets, "#networks", row)[2] == "yes")
            await pilot.press("A")
            await wait_for(pilot, lambda: virsh_fields("net-info", res_lab.net)["Autostart"] == "no")
        finally:
            if virsh_fields("net-info", res_lab.net)["Autostart"] != "no":
                virsh("net-autostart", res_lab.net, "--disable")

        await pilot.press("escape", "slash", *res_lab.guest, "enter", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        panel = app.screen.query_one(GuestPanel)
        await wait_for(pilot, lambda: panel.facts is not None)
        assert panel.facts is not None
        text = str(panel.render())
        assert "agent absent" in text
        assert "no guest agent" in text
        assert "asked: agent: absent; lease: none" in text
        try:
            await pilot.press("A")
            await wait_for(pilot, lambda: virsh_fields("dominfo", res_lab.guest)["Autostart"] == "enable")
            await wait_for(pilot, lambda: panel.facts is not None and panel.facts.autostart is True)
            await pilot.press("A")
            await wait_for(pilot, lambda: virsh_fields("dominfo", res_lab.guest)["Autostart"] == "disable")
        finally:
            if virsh_fields("dominfo", res_lab.guest)["Autostart"] != "disable":
                virsh("autostart", res_lab.guest, "--disable")
