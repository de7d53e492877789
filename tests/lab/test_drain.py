"""`vmtui host drain` over the lab: plan, migrations N at once, maintenance, Ctrl-C; checked with virsh.

The CLI's drain and the TUI's (the hosts pane's O) are both run. lab1 holds the lab's three guests plus
this module's two: an idle diskless one and one with a local
disk (a qcow2 volume in a pool of lab1's own /var/lib/libvirt, which lab2 does not see; lab2 has a pool
at the same path for libvirt to create the copy in). Every guest the drain moved is migrated back, the
test guests, volumes and pools are removed from both hosts, and lab1 is taken out of maintenance at the
end, also on failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures_lab import VMTUI, LabHandle, Live
from textual.pilot import Pilot
from textual.widgets import Checkbox, DataTable, Input

from vmtui.app import VmtuiApp
from vmtui.config import HostStore
from vmtui.drivers import connect
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.drain import DrainForm, DrainScreen
from vmtui.screens.migrate import MigrateChoice, MigrateModal
from vmtui.widgets.hosts_pane import HostsPane

pytestmark = [pytest.mark.lab, pytest.mark.timeout(300)]

POOL = "vmtui-test-drain"
POOL_DIR = f"/var/lib/libvirt/images/{POOL}"


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _running(lab: LabHandle, host: str) -> set[str]:
    out = lab.virsh(host, "list", "--name")  # running (and paused) domains only
    assert out.returncode == 0, out.stderr
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def _defined(lab: LabHandle, host: str) -> set[str]:
    out = lab.virsh(host, "list", "--all", "--name")
    assert out.returncode == 0, out.stderr
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def _each_runs_on_one_host(lab: LabHandle, names: set[str]) -> dict[str, str]:
    """Where each guest runs, asserting by virsh on both hosts that it runs on exactly one of them."""
    running = {host: _running(lab, host) for host in ("lab1", "lab2")}
    where = {}
    for name in names:
        hosts = [h for h, there in running.items() if name in there]
        assert len(hosts) == 1, f"{name} runs on {hosts}"
        where[name] = hosts[0]
    return where


def _plan_and_summary(lines: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    plan = next(line for line in lines if line.get("type") == "plan")
    summary = next((line for line in lines if line.get("type") == "summary"), None)
    return plan, summary


def _print_forecast_against_outcome(summary: dict[str, Any]) -> None:
    """The plan's forecast beside what happened (shown with -s or on failure; a record, not an assertion)."""
    print(f"\ndrain of {summary['host']}: forecast {summary['forecast_seconds']} s, took {summary['seconds']} s")
    for g in summary["guests"]:
        print(f"  {g['domain']}: {g['outcome']}, forecast {g['forecast_seconds']} s / downtime "
              f"{g['forecast_downtime_ms']} ms, took {g['seconds']} s / downtime {g['downtime_ms']} ms")  # fmt: skip


@pytest.fixture(scope="module")
def pools(lab: LabHandle) -> Iterator[None]:
    """A directory pool at the same path on both hosts (each its own directory): lab2 creates the copy in it."""
    try:
        for host in ("lab1", "lab2"):
            for args in (("pool-define-as", POOL, "dir", "--target", POOL_DIR), ("pool-build", POOL),
                         ("pool-start", POOL)):  # fmt: skip
                made = lab.virsh(host, *args)
                assert made.returncode == 0, made.stderr
        yield
    finally:
        for host in ("lab1", "lab2"):
            lab.virsh(host, "pool-destroy", POOL)
            lab.virsh(host, "pool-delete", POOL)  # the directory, with any volume left in it
            lab.virsh(host, "pool-undefine", POOL)


@pytest.fixture
def drain_guests(lab: LabHandle, pools: None) -> Iterator[dict[str, str]]:
    """An idle diskless guest and a guest with a local disk on lab1; everything put back at the end."""
    before = {host: _running(lab, host) for host in ("lab1", "lab2")}
    prefix = f"vmtui-test-drain-{secrets.token_hex(2)}"
    names = {"idle": f"{prefix}-idle", "disk": f"{prefix}-disk"}
    try:
        made = lab.virsh("lab1", "vol-create-as", POOL, f"{prefix}.qcow2", "8M", "--format", "qcow2")
        assert made.returncode == 0, made.stderr
        with connect(lab.uris["lab1"]) as conn:
            kind = "kvm" if conn.host_info(probe=False).kvm_usable else "qemu"
            conn.define_and_start(build_guest_xml(GuestSpec(names["idle"], domain_type=kind, role="test")))
            conn.define_and_start(build_guest_xml(GuestSpec(names["disk"], domain_type=kind, role="test",
                                                            disk=Path(f"{POOL_DIR}/{prefix}.qcow2"))))  # fmt: skip
        yield names
    finally:
        lab.vmtui("host", "undrain", "lab1")
        for host in ("lab1", "lab2"):
            with connect(lab.uris[host]) as conn:
                for name in names.values():
                    conn.destroy_and_undefine(name)
            lab.virsh(host, "vol-delete", f"{prefix}.qcow2", "--pool", POOL)
        # The lab's own guests back where they ran, all at once.
        moved = before["lab1"] & _running(lab, "lab2")
        back = [subprocess.Popen([*lab.vmtui_argv(), "migrate", name, "lab1", "-H", "lab2"], env=lab.env(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for name in moved]  # fmt: skip
        for proc in back:
            proc.wait(timeout=120)
        assert {host: _running(lab, host) for host in ("lab1", "lab2")} == before


async def _until(pilot: Pilot[None], condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {within} s: {what}")
        await pilot.pause(0.1)


async def _migrate_dialog_copy_storage(app: VmtuiApp, pilot: Pilot[None], disk: str) -> None:
    """The disk guest's target picker: lab2 refused for its local disk; copy-storage ticked, the row says
    "checking…" and lab2's storage pre-check passes; Enter hands copy_storage=True to the migration job."""
    await pilot.press("slash", *disk, "enter")
    await pilot.pause()
    await pilot.press("m")
    await _until(pilot, lambda: isinstance(app.screen, MigrateModal), 10, "the target picker")
    modal = app.screen
    assert isinstance(modal, MigrateModal)
    await _until(pilot, lambda: "lab2" in modal.reports, 60, "lab2's pre-checks")
    storage = {c.key: c for c in modal.reports["lab2"].checks}["storage"]
    assert storage.status == "fail", storage
    modal.query_one("#opt-copy-storage", Checkbox).value = True
    await pilot.pause()
    table = modal.query_one("#migrate-hosts", DataTable)
    assert "lab2" not in modal.reports
    assert str(table.get_row("lab2")[1]) == "checking…"
    await _until(pilot, lambda: "lab2" in modal.reports, 60, "lab2's pre-checks with copy-storage")
    storage = {c.key: c for c in modal.reports["lab2"].checks}["storage"]
    assert storage.status == "ok", storage
    assert modal.reports["lab2"].ok, modal.reports["lab2"].summary()
    # In place, before Enter: the combination the CLI refuses.
    modal.query_one("#opt-tunnelled", Checkbox).value = True
    modal.query_one("#opt-parallel", Input).value = "4"
    await pilot.pause()
    assert "--tunnelled and --parallel exclude each other" in str(modal.query_one("#migrate-error").render())
    modal.query_one("#opt-tunnelled", Checkbox).value = False
    modal.query_one("#opt-max-downtime", Input).value = "700"
    await pilot.pause()
    started: list[MigrateChoice] = []
    # The job itself is not run: this module's drains need the guest where it is (the CLI's copy-storage
    # migration is tests/lab/test_migration.py's); what is checked is what reaches it.
    app.migrations.start_migration = lambda uuid, target, options: started.append(  # type: ignore[method-assign]
        MigrateChoice(target, options)
    )
    await pilot.press("enter")
    await _until(pilot, lambda: bool(started), 10, "the migration asked for")
    assert started[0].target == "lab2"
    options = started[0].options
    assert (options.copy_storage, options.parallel, options.max_downtime_ms, options.tunnelled) == (True, 4, 700, False)


async def _answering(app: VmtuiApp, pilot: Pilot[None], host: str) -> None:
    """The host's samples come again: a plan's dirty-rate measurements hold its guests' QEMU monitors (and
    so the poller's sample) for seconds, and the TUI refuses a change to a host that has not answered."""
    await _until(pilot, lambda: app.fleet.write_refusal(app.fleet.hosts[host]) is None, 30, f"{host} answering")


async def _drain_plan(app: VmtuiApp, pilot: Pilot[None], *, parallel: str, copy_storage: bool) -> ConfirmModal:
    """D on lab1 (the hosts pane focused), the drain form filled in, and the plan's confirmation."""
    await _answering(app, pilot, "lab1")
    await pilot.press("D")
    await _until(pilot, lambda: isinstance(app.screen, DrainForm), 10, "the drain form")
    form = app.screen
    assert isinstance(form, DrainForm)
    form.query_one("#drain-to", Input).value = "lab2"
    form.query_one("#drain-parallel", Input).value = parallel
    form.query_one("#drain-copy_storage", Checkbox).value = copy_storage
    form.submit()
    await _until(pilot, lambda: isinstance(app.screen, ConfirmModal), 60, "the plan to confirm")
    confirm = app.screen
    assert isinstance(confirm, ConfirmModal)
    return confirm


def _cli_json(lab: LabHandle, *args: str) -> tuple[int, list[dict[str, Any]]]:
    proc = lab.vmtui(*args, "--json", timeout=240)
    return proc.returncode, _json_lines(proc.stdout)


async def test_drain_plan_ctrl_c_tui_drain_copy_storage_place_and_undrain(
    lab: LabHandle, drain_guests: dict[str, str]
) -> None:
    """One pass through a host's maintenance, in the order an operator meets it (one lab round trip of
    the guests: each drain that moves guests costs their way back)."""
    lab_guests = _running(lab, "lab1") - set(drain_guests.values())
    everyone = _running(lab, "lab1") | _running(lab, "lab2")
    disk, idle = drain_guests["disk"], drain_guests["idle"]
    began = time.monotonic()

    def phase(done: str) -> None:
        print(f"{done}: {time.monotonic() - began:.1f} s in")  # where the test's time goes (with -s)

    # 1. The plan alone (CLI): the local disk needs --copy-storage; nothing moves, no maintenance.
    rc, lines = await asyncio.to_thread(_cli_json, lab, "host", "drain", "lab1", "--to", "lab2", "--dry-run")
    assert rc == 0, lines[-1:]
    plan, _ = _plan_and_summary(lines)
    by_name = {g["domain"]: g for g in plan["guests"]}
    assert by_name[disk]["action"] == "refused"
    assert "--copy-storage" in by_name[disk]["reason"]
    assert all(by_name[n]["action"] == "move" and by_name[n]["target"] == "lab2" for n in lab_guests | {idle})
    assert not HostStore().get("lab1").maintenance

    phase("plan")

    # 2. Ctrl-C during a drain (CLI, as a terminal sends it), while the lab's 256 MiB TCG Linux guest is on
    # its way at 1 MiB/s (minutes): the running jobs abort (a KVM guest's zero pages may be through
    # already), the queued ones never start; every guest runs on exactly one host, wherever it ended.
    live = Live(lab, "host", "drain", "lab1", "--to", "lab2", "--parallel", "2", "--bandwidth", "1", "--yes",
                "--json")  # fmt: skip
    try:
        await asyncio.to_thread(live.until, lambda line: line.get("type") == "progress" and line.get("domain")
                                == "lab1-linux" and line.get("fraction", 0) > 0, 120)  # fmt: skip
        live.ctrl_c()
        rc = await asyncio.to_thread(live.finish, 90)
    finally:
        if live.proc.poll() is None:
            live.kill()
    assert rc == 130, live.lines[-3:]
    summary = next(line for line in live.lines if line.get("type") == "summary")
    _print_forecast_against_outcome(summary)
    outcomes = {g["domain"]: g["outcome"] for g in summary["guests"]}
    assert outcomes[disk] == "refused"
    assert outcomes["lab1-linux"] == "cancelled"
    assert set(outcomes.values()) <= {"cancelled", "refused", "moved"}, outcomes
    where = _each_runs_on_one_host(lab, everyone)
    assert all(where[name] == ("lab2" if outcome == "moved" else "lab1") for name, outcome in outcomes.items())
    assert lab.virsh("lab1", "domjobinfo", "lab1-linux").stdout.split()[2] == "None"  # no job left behind
    assert HostStore().get("lab1").maintenance  # a cancelled drain leaves the host in maintenance
    assert (await asyncio.to_thread(lab.vmtui, "host", "undrain", "lab1")).returncode == 0
    lab_guests &= _running(lab, "lab1")  # what the TUI's drain will move, with the idle guest
    assert idle in _running(lab, "lab1")
    phase("Ctrl-C")

    # 3. The TUI: the migrate dialog's copy-storage runs the pre-checks again and reaches the migration it
    # starts; the drain form's options reach the plan; then a drain from the hosts pane moves the diskless guests.
    app = VmtuiApp(HostStore().load(), interval=1.0)
    async with app.run_test(size=(200, 50)) as pilot:
        pane = app.host_screen.query_one(HostsPane)
        await _until(pilot, lambda: all(v.status == "connected" for v in app.fleet.hosts.values()), 60, "both hosts")
        await _migrate_dialog_copy_storage(app, pilot, disk)
        phase("TUI migrate dialog")

        await pilot.press("tab")
        await _until(pilot, lambda: pane.has_focus, 5, "the hosts pane focused")
        pane.select("lab1")
        # The form's copy-storage: the disk guest may move in the plan; no answers nothing and moves nothing.
        confirm = await _drain_plan(app, pilot, parallel="1", copy_storage=True)
        shown = {line.split(" (", 1)[0]: line for line in confirm.listed}
        assert " -> lab2" in shown[disk]
        assert "1 at once" in confirm.listed[-1]
        await pilot.press("n")
        await _until(pilot, lambda: not isinstance(app.screen, ConfirmModal), 10, "the confirmation closed")
        pane.focus()
        confirm = await _drain_plan(app, pilot, parallel="2", copy_storage=False)
        shown = {line.split(" (", 1)[0]: line for line in confirm.listed}
        assert "CANNOT MOVE" in shown[disk]
        assert "--copy-storage" in shown[disk]
        assert " -> lab2" in shown[idle]
        assert _running(lab, "lab1") >= set(drain_guests.values())  # nothing moved before the yes
        await _answering(app, pilot, "lab1")
        await pilot.press("y")
        try:
            await _until(pilot, lambda: isinstance(app.screen, DrainScreen), 10, "the drain's progress")
        except AssertionError:
            raise AssertionError(f"{app.screen_stack} {[n.message for n in app.notes]}") from None
        screen = app.screen
        assert isinstance(screen, DrainScreen)
        assert screen.plan.parallel == 2
        await _until(pilot, lambda: screen.ended is not None, 120, "the drain's end")
        assert {g.domain for g in screen.plan.moving} == lab_guests | {idle}
        assert all(screen.fractions[g.uuid] == 1.0 for g in screen.plan.moving)  # every bar full: all moved
        assert app.fleet.hosts["lab1"].maintenance
        assert "MAINTENANCE" in str(pane.render())
        assert "lab1" not in app.migrations.candidates("lab2")  # no migrate target while in maintenance
        where = _each_runs_on_one_host(lab, everyone)
        assert {n for n, h in where.items() if h == "lab1"} == {disk}
        assert not (lab_guests | {idle}) & _defined(lab, "lab1")  # undefined on the source

        phase("TUI drain")

        # 4. In maintenance (CLI): `vmtui hosts` says so, `place` does not offer lab1, not even asked.
        listed = await asyncio.to_thread(lab.vmtui, "hosts", "--json")
        assert {h["name"]: h["maintenance"] for h in json.loads(listed.stdout)} == {"lab1": True, "lab2": False}
        placed = json.loads((await asyncio.to_thread(lab.vmtui, "place", idle, "--json")).stdout)
        lab1 = next(h for h in placed["hosts"] if h["host"] == "lab1")
        assert lab1["maintenance"] is True
        assert lab1["score"] is None
        assert lab1["prechecks"] is None

        phase("hosts and place")

        # 5. Drained again with --copy-storage (CLI; a host in maintenance may be): the disk guest moves.
        rc, lines = await asyncio.to_thread(
            _cli_json, lab, "host", "drain", "lab1", "--to", "lab2", "--copy-storage", "--yes"
        )
        assert rc == 0, lines[-1:]
        _, copied = _plan_and_summary(lines)
        assert copied is not None
        _print_forecast_against_outcome(copied)
        assert [(g["domain"], g["outcome"]) for g in copied["guests"]] == [(disk, "moved")]
        where = _each_runs_on_one_host(lab, everyone)
        assert all(where[n] == "lab2" for n in lab_guests | set(drain_guests.values()))
        assert _running(lab, "lab1") == set()

        phase("copy-storage drain")

        # 6. O again on the host in maintenance: undrain after a yes; place offers lab1 again.
        await pilot.press("escape")
        pane.focus()
        await pilot.press("D")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10, "the undrain question")
        await pilot.press("y")
        await _until(pilot, lambda: not app.fleet.hosts["lab1"].maintenance, 10, "lab1 out of maintenance")
        assert not HostStore().get("lab1").maintenance
        assert "lab1" in app.migrations.candidates("lab2")
    placed = json.loads((await asyncio.to_thread(lab.vmtui, "place", idle, "--json")).stdout)
    lab1 = next(h for h in placed["hosts"] if h["host"] == "lab1")
    assert lab1["maintenance"] is False
    assert lab1["score"] is not None


def test_a_drain_asked_at_a_terminal_waits_for_the_answer_and_no_moves_nothing(lab: LabHandle) -> None:
    """Without --yes at a real terminal (its foreground job, as a shell starts it) the drain asks and waits.

    The drain's worker runs in a process group of its own (so that Ctrl-C does not kill the ssh of
    qemu+ssh); reading the terminal from there stopped it (SIGTTIN), and the command hung at its question.
    """
    from pty_run import run_in_pty

    on_lab1 = _running(lab, "lab1")
    assert on_lab1, "lab1 runs none of the lab's guests: nothing to ask about"
    env = {**os.environ, "VMTUI_HOME": str(lab.home), "COLUMNS": "200"}
    code, out = run_in_pty(
        [str(VMTUI), "host", "drain", "lab1", "--to", "lab2"], [("[y/N]", "n\r")], env=env, timeout=90,
        controlling=True,
    )  # fmt: skip
    assert (code, out.strip().splitlines()[-1]) == (2, "vmtui: error: not confirmed; nothing done"), out
    assert _running(lab, "lab1") == on_lab1
    assert not any(e.maintenance for e in HostStore().load() if e.name == "lab1")
