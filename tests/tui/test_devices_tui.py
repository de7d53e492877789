"""Pilot tests of the devices screen (a real guest of the local libvirtd) and the SR-IOV screen (libvirt's test
driver with a PF and its VFs, and a sysfs tree under VMTUI_SYSFS_ROOT)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from textual.widgets import Input

from tests.sriov_host import GUEST, PF, make_sriov_host
from tests.tui.conftest import SYSTEM_URI, Recorder, open_devices, wait_for
from vmtui.app import VmtuiApp
from vmtui.drivers import connect
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.errors import VmtuiError
from vmtui.models import HostEntry
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.devices import DevicesScreen
from vmtui.screens.form import FormModal
from vmtui.screens.sriov import SriovScreen
from vmtui.tui.messages import JobFinished

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def shut_off_e1000() -> Iterator[tuple[str, str]]:
    """A defined, shut-off guest with an e1000 NIC on the local libvirtd: (name, uuid); always removed."""
    name = f"vmtui-tui-{secrets.token_hex(3)}-off"
    with connect(SYSTEM_URI) as conn:
        spec = GuestSpec(name=name, role="test", domain_type="kvm", nic_model="e1000")
        uuid = conn.define_and_start(build_guest_xml(spec)).uuid
        try:
            conn.lifecycle(uuid, "destroy")
            yield name, uuid
        finally:
            with contextlib.suppress(VmtuiError):
                conn.destroy_and_undefine(uuid)


def _done(seen: Recorder) -> list[JobFinished]:
    # The app's own scan for migrations in flight at connect is a job too: only the device changes count.
    return [m for m in seen.of(JobFinished) if isinstance(m, JobFinished) and not m.label.startswith("Migrations")]


async def test_devices_screen_switches_a_nic_to_virtio(shut_off_e1000: tuple[str, str]) -> None:
    name, uuid = shut_off_e1000
    app = VmtuiApp([HostEntry("local", SYSTEM_URI)], interval=0.5)
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        await open_devices(app, pilot, name, uuid)
        screen = app.screen
        assert isinstance(screen, DevicesScreen)
        assert screen.report is not None
        (nic,) = [a for a in screen.report.devices if a.device.kind == "nic"]
        assert (nic.device.model, nic.switch) == ("e1000", "next-boot")  # shut off: the config only
        assert screen.selected() == nic
        await pilot.press("t")  # to virtio (v opened the screen)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        # This domain's job: another job of the app (a scan, a fetch) may end in the same moment.
        await wait_for(pilot, lambda: any(m.uuid == uuid for m in _done(seen)), within=30)
        (finished,) = [m for m in _done(seen) if m.uuid == uuid]
        assert finished.ok, (finished.message, [(m.label, m.message) for m in _done(seen)])
        assert seen.said("config: done (virtio from the next boot)")
        await wait_for(pilot, lambda: screen.report is not None and screen.report.devices[0].device.model == "virtio")
        with connect(SYSTEM_URI) as conn:
            xml = etree.fromstring(conn.domain_xml(uuid, inactive=True).encode())
        assert xml.find("devices/interface/model").get("type") == "virtio"  # type: ignore[union-attr]


async def test_sriov_screen_refuses_a_count_while_a_guest_holds_a_vf(tmp_path: Path) -> None:
    host = make_sriov_host(tmp_path)
    app = VmtuiApp([HostEntry("sriov", host.uri)], interval=0.5)
    seen = Recorder()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VMTUI_SYSFS_ROOT", str(host.sysfs))
        async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
            await wait_for(pilot, lambda: bool(app.fleet.hosts["sriov"].domains))
            await pilot.press("i")
            await wait_for(pilot, lambda: isinstance(app.screen, SriovScreen) and app.screen.report is not None)
            screen = app.screen
            assert isinstance(screen, SriovScreen)
            rendered = [str(c) for c in screen.query_one("#sriov-table").get_row_at(2)]  # type: ignore[attr-defined]
            assert GUEST in " ".join(rendered)
            await pilot.press("C")
            await wait_for(pilot, lambda: isinstance(app.screen, FormModal))
            app.screen.query_one(Input).value = "4"
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.press("y")
            await wait_for(pilot, lambda: bool(_done(seen)), within=30)
            assert not _done(seen)[0].ok
            assert seen.said(f"held by running domain {GUEST}")
            assert host.numvfs.read_text().strip() == "2"


async def test_sriov_screen_sets_the_vf_count_through_zero(tmp_path: Path) -> None:
    host = make_sriov_host(tmp_path, holder=False)
    app = VmtuiApp([HostEntry("sriov", host.uri)], interval=0.5)
    seen = Recorder()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VMTUI_SYSFS_ROOT", str(host.sysfs))
        async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
            await wait_for(pilot, lambda: bool(app.fleet.hosts["sriov"].domains))
            await pilot.press("i")
            await wait_for(pilot, lambda: isinstance(app.screen, SriovScreen) and app.screen.report is not None)
            await pilot.press("C")
            await wait_for(pilot, lambda: isinstance(app.screen, FormModal))
            app.screen.query_one(Input).value = "4"
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.press("y")
            await wait_for(pilot, lambda: bool(_done(seen)), within=30)
            assert _done(seen)[0].ok
            assert seen.said(f"{PF}: 2 -> 4 VFs (wrote 0, then 4)")
            assert host.numvfs.read_text().strip() == "4"
