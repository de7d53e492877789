"""The dialogs that took the CLI's options (tests/unit/test_parity.py lists them side by side): the widgets
each declares exist, and what is typed or ticked reaches the operation.

The migrate dialog's copy-storage re-check and the drain form's options are run on the lab
(tests/lab/test_drain.py); here the local libvirtd takes a NIC added to the definition only, and the
memory screen's knobs reach the plan and the questions of its steps. KSM itself is never changed here:
its sysfs is the machine's own, shared with the lab's KSM test.
"""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from lxml import etree
from rich.console import Console
from textual.widgets import Checkbox, DataTable, Input, Static

from tests.tui.conftest import SYSTEM_URI, Recorder, _libvirt_ready, open_devices, wait_for
from vmtui.app import VmtuiApp
from vmtui.drivers import connect
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.errors import VmtuiError
from vmtui.models import HostEntry
from vmtui.ops.balloon_policy import BalloonKnobs
from vmtui.ops.ksm import KsmStatus
from vmtui.ops.ksm_policy import KsmKnobs
from vmtui.ops.migrate.precheck import Check, PrecheckReport
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.drain import DrainChoice, DrainForm
from vmtui.screens.form import FormModal
from vmtui.screens.memory import MemoryScreen
from vmtui.screens.memory_forms import KsmSettings, KsmSettingsForm, PolicyKnobsForm
from vmtui.screens.migrate import MigrateChoice, MigrateModal
from vmtui.tui.messages import JobFinished, OperationRequested

pytestmark = pytest.mark.timeout(120)


def _ok(target: str) -> PrecheckReport:
    checks = (Check("reachable", "reachable", "ok", ""), Check("storage", "storage", "ok", "no disks"))
    return PrecheckReport("g", "u", "lab1", target, checks, 1 << 20, 1 << 21)


def _declared_ids(cls: type) -> set[str]:
    return {w.split()[0] for w in vars(cls)["CLI_OPTIONS"].values() if w.startswith("#")}


async def test_each_dialog_has_the_widgets_it_declares_and_hands_them_on() -> None:
    app = VmtuiApp([])
    rechecks: list[bool] = []
    answers: list[Any] = []
    async with app.run_test(size=(120, 40)) as pilot:
        modal = MigrateModal("g", "lab1", ["lab2"], rechecks.append)
        app.push_screen(modal, answers.append)
        await pilot.pause()
        for widget_id in _declared_ids(MigrateModal):
            assert modal.query(widget_id), widget_id
        modal.show_report("lab2", _ok("lab2"))
        table = modal.query_one("#migrate-hosts", DataTable)
        modal.query_one("#opt-copy-storage", Checkbox).value = True
        await pilot.pause()
        assert rechecks == [True]  # the pre-checks again, as the migration would be asked
        assert modal.reports == {}
        assert str(table.get_row("lab2")[1]) == "checking…"
        error = modal.query_one("#migrate-error", Static)
        modal.query_one("#opt-tunnelled", Checkbox).value = True
        modal.query_one("#opt-postcopy", Checkbox).value = True
        await pilot.pause()
        assert "--tunnelled and --postcopy exclude each other" in str(error.render())
        modal.query_one("#opt-postcopy", Checkbox).value = False
        modal.query_one("#opt-max-downtime", Input).value = "70000"
        await pilot.pause()
        assert "--max-downtime 70000: must be 1 to 60000 ms" in str(error.render())
        modal.query_one("#opt-max-downtime", Input).value = "900"
        modal.query_one("#opt-bandwidth", Input).value = "64"
        modal.query_one("#opt-stall-policy", Checkbox).value = False
        await pilot.pause()
        assert str(error.render()) == ""
        modal.show_report("lab2", _ok("lab2"))
        await pilot.press("ctrl+s")
        await pilot.pause()
        (choice,) = answers
        assert isinstance(choice, MigrateChoice)
        o = choice.options
        assert (o.copy_storage, o.tunnelled, o.postcopy, o.max_downtime_ms, o.bandwidth_mib_s, o.stall_policy,
                o.parallel) == (True, True, False, 900, 64, False, None)  # fmt: skip

        form = DrainForm("lab1", ["lab2", "lab3"])
        app.push_screen(form, answers.append)
        await pilot.pause()
        for widget_id in _declared_ids(DrainForm):
            assert form.query(widget_id), widget_id
        form.query_one("#drain-to", Input).value = "lab4"
        form.submit()
        await pilot.pause()
        assert "lab4: not a target now" in str(form.query_one("#form-error").render())
        form.query_one("#drain-to", Input).value = "lab3"
        form.query_one("#drain-parallel", Input).value = "17"
        form.submit()
        await pilot.pause()
        assert "--parallel 17: must be 1 to 16" in str(form.query_one("#form-error").render())
        form.query_one("#drain-parallel", Input).value = "3"
        form.query_one("#drain-bandwidth", Input).value = "50"
        form.query_one("#drain-copy_storage", Checkbox).value = True
        form.submit()
        await pilot.pause()
        drain = answers[-1]
        assert isinstance(drain, DrainChoice)
        assert (drain.targets, drain.parallel) == (("lab3",), 3)
        assert (drain.options.copy_storage, drain.options.bandwidth_mib_s) == (True, 50)

        counters = {"pages_to_scan": 100, "sleep_millisecs": 20, "merge_across_nodes": 1}
        status = KsmStatus("h", 0.0, 1, counters, 4, None, None, None, 0.0)
        for dialog in (PolicyKnobsForm("h", BalloonKnobs(), KsmKnobs()), KsmSettingsForm("h", status)):
            app.push_screen(dialog, answers.append)
            await pilot.pause()
            for widget_id in _declared_ids(type(dialog)):
                assert dialog.query(widget_id), widget_id
        # Only what changed from the reading is asked for.
        dialog.query_one("#form-run", Input).value = "unmerge"
        dialog.query_one("#form-sleep_ms", Input).value = "50"
        dialog.submit()
        await pilot.pause()
        assert answers[-1] == KsmSettings("unmerge", {"sleep_millisecs": 50})


@pytest.fixture
def running_guest() -> Iterator[tuple[str, str]]:
    """A running diskless guest on the local libvirtd: (name, uuid); always removed."""
    if not _libvirt_ready():
        pytest.skip("needs the local libvirtd (qemu:///system) and /dev/kvm")
    name = f"vmtui-test-parity-{secrets.token_hex(3)}"
    with connect(SYSTEM_URI) as conn:
        uuid = conn.define_and_start(build_guest_xml(GuestSpec(name=name, role="test", domain_type="kvm"))).uuid
        try:
            yield name, uuid
        finally:
            with contextlib.suppress(VmtuiError):
                conn.destroy_and_undefine(uuid)


def _macs(uuid: str, *, inactive: bool) -> set[str]:
    with connect(SYSTEM_URI) as conn:
        xml = etree.fromstring(conn.domain_xml(uuid, inactive=inactive).encode())
    return {str(m.get("address")) for m in xml.iterfind("devices/interface/mac")}


async def test_a_nic_added_to_the_definition_only_with_its_mac(running_guest: tuple[str, str]) -> None:
    """The add-NIC form's --config and --mac reach the operation: virsh sees the NIC in the definition only."""
    name, uuid = running_guest
    mac = "52:54:00:7a:11:" + secrets.token_hex(1)
    app = VmtuiApp([HostEntry("local", SYSTEM_URI)], interval=0.5)
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        await open_devices(app, pilot, name, uuid)
        await pilot.press("n")
        try:
            await wait_for(pilot, lambda: isinstance(app.screen, FormModal))
        except AssertionError:
            raise AssertionError([n.message for n in seen.notes()]) from None
        form = app.screen
        assert isinstance(form, FormModal)
        form.query_one("#form-network", Input).value = "user"
        form.query_one("#form-mac", Input).value = mac
        form.query_one("#form-config", Checkbox).value = True
        form.submit()

        def done() -> list[JobFinished]:
            return [m for m in seen.of(JobFinished) if isinstance(m, JobFinished) and m.uuid == uuid]

        await wait_for(pilot, lambda: bool(done()), within=30)
        assert done()[0].ok, done()[0].message
    assert mac in _macs(uuid, inactive=True)
    assert mac not in _macs(uuid, inactive=False)


def _plain(widget: Static) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def test_memory_knobs_reach_the_plan_and_the_steps_questions() -> None:
    if not _libvirt_ready():
        pytest.skip("needs the local libvirtd (qemu:///system)")
    app = VmtuiApp([HostEntry("local", SYSTEM_URI)])
    seen = Recorder()
    async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: app.fleet.hosts["local"].tick is not None)
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen) and bool(app.ksm_history.get("local")))
        assert isinstance(app.screen, MemoryScreen)
        screen: MemoryScreen = app.screen
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, PolicyKnobsForm))
        form = app.screen
        assert isinstance(form, PolicyKnobsForm)
        for key, value in (("target", "95%"), ("floor", "40"), ("max_change", "64MiB"), ("shares", "web=0 db=2000"),
                           ("free", "30%"), ("pages_min", "100"), ("pages_max", "3000")):  # fmt: skip
            form.query_one(f"#form-{key}", Input).value = value
        form.submit()
        await wait_for(pilot, lambda: app.screen is screen and screen.knobs != BalloonKnobs())
        assert screen.knobs == BalloonKnobs(95.0, 40.0, 65536, shares={"web": 0, "db": 2000})
        assert (screen.ksm_knobs.free_pct, screen.ksm_knobs.pages_min, screen.ksm_knobs.pages_max) == (30.0, 100, 3000)
        assert "target host use 95 %" in _plain(screen.query_one("#memory-plan", Static))

        await pilot.press("E")  # the balloon step asks with the knobs it will use; no answers it
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "at most 64 MiB" in app.screen.detail
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "Under 30 % free memory" in app.screen.detail
        assert "pages_to_scan 100 to 3000" in app.screen.detail
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen)

        # Kept for the host: the screen opened again starts with them.
        await pilot.press("escape")
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen) and app.screen is not screen)
        assert app.screen.knobs.target_used_pct == 95.0

        await pilot.press("G")
        await wait_for(pilot, lambda: isinstance(app.screen, KsmSettingsForm))
        settings = app.screen
        assert isinstance(settings, KsmSettingsForm)
        now = settings.query_one("#form-pages_to_scan", Input).value
        assert now == str(app.ksm_history["local"][-1].status.get("pages_to_scan"))  # prefilled from the reading
        settings.query_one("#form-pages_to_scan", Input).value = str(int(now) + 1)
        settings.submit()
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert app.screen.question == f"KSM on local: pages_to_scan={int(now) + 1}?"
        await pilot.press("n")  # never changed here: the machine's KSM is shared with the lab's test
        assert [m for m in seen.of(JobFinished) if isinstance(m, JobFinished) and "KSM" in m.label] == []
        asked = {m.label for m in seen.of(OperationRequested) if isinstance(m, OperationRequested)}
        assert asked == {"KSM policy step on local", f"KSM on local: pages_to_scan={int(now) + 1}"}
