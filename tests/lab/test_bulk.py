"""Bulk lifecycle over the lab (issue 21): three guests on two hosts paused and resumed at once, in the CLI
(`--filter`, `--yes`) and in the TUI (marks, one question, every row's result); a guest that refuses is
reported while the others act; without `--yes` and without a terminal nothing changes. virsh, over the
same qemu+ssh URIs, is the second opinion on every state.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from fixtures_lab import LabHandle
from textual.pilot import Pilot
from textual.widgets import Label, Static

from vmtui.app import VmtuiApp
from vmtui.drivers import connect
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.models import HostEntry
from vmtui.screens.confirm import ConfirmModal
from vmtui.widgets.domain_table import DomainTable

pytestmark = [pytest.mark.lab, pytest.mark.timeout(240)]


@dataclass(frozen=True)
class Three:
    prefix: str
    hosts: dict[str, str]
    """name -> lab host: two on lab1, one on lab2."""


@pytest.fixture(scope="module")
def three(lab: LabHandle) -> Iterator[Three]:
    """Three idle guests, running; removed from every lab host at the end, also on failure."""
    prefix = f"vmtui-test-bulk-{secrets.token_hex(2)}"
    with ExitStack() as stack:
        hosts = {stack.enter_context(lab.idle_guest(host, prefix)): host for host in ("lab1", "lab1", "lab2")}
        yield Three(prefix, hosts)


def virsh_states(lab: LabHandle, three: Three) -> dict[str, str]:
    """name -> state, as virsh says it (one `virsh list` per host)."""
    states: dict[str, str] = {}
    for host in set(three.hosts.values()):
        for line in lab.virsh(host, "list", "--all").stdout.splitlines():
            _id, name, state = line.split(None, 2)
            states[name] = state.strip()
    return {name: states.get(name, "gone") for name in three.hosts}


def all_running(lab: LabHandle, three: Three) -> None:
    """Each test starts from three running guests, whatever the one before left (the fixture is shared)."""
    for name, state in virsh_states(lab, three).items():
        if state == "paused":
            assert lab.virsh(three.hosts[name], "resume", name).returncode == 0


def vmtui(lab: LabHandle, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI with no terminal on stdin (what a script or cron job has)."""
    return subprocess.run(
        [*lab.vmtui_argv(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**lab.env(), "COLUMNS": "200", "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def results(proc: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """name -> (result, state) of each JSON line."""
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    return {o["name"]: (o["result"], o["state"]) for o in lines}


def test_cli_bulk_pause_resume_refusal_and_exit_codes(lab: LabHandle, three: Three) -> None:
    all_running(lab, three)
    names = set(three.hosts)
    everyone_else = {
        "lab1-tcg-e1000": lab.virsh("lab1", "domstate", "lab1-tcg-e1000").stdout.strip(),
        "lab2-tcg-e1000": lab.virsh("lab2", "domstate", "lab2-tcg-e1000").stdout.strip(),
    }

    # Several domains, no --yes, no terminal: the answer is no, and nothing changes.
    proc = vmtui(lab, "destroy", "--filter", three.prefix)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("vmtui: error: Force off 3 domains: lab1: ")
    assert "Not asked without a terminal. (add --yes to proceed)" in proc.stderr
    assert virsh_states(lab, three) == dict.fromkeys(names, "running")

    # All of them: exit 0, one JSON line each.
    proc = vmtui(lab, "suspend", "--filter", three.prefix, "--yes", "--json", "--parallel", "2")
    assert proc.returncode == 0, proc.stderr
    assert results(proc) == dict.fromkeys(names, ("done", "paused"))
    assert virsh_states(lab, three) == dict.fromkeys(names, "paused")

    proc = vmtui(lab, "resume", "-f", three.prefix, "-y")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()[1:]]
    assert sorted((r[0], r[1], r[2], r[3]) for r in rows) == sorted(
        (host, name, "done", "running") for name, host in three.hosts.items()
    )
    assert virsh_states(lab, three) == dict.fromkeys(names, "running")

    # One already paused (by another tool): refused with its reason while the others are paused; exit 7.
    first = sorted(names)[0]
    assert lab.virsh(three.hosts[first], "suspend", first).returncode == 0
    proc = vmtui(lab, "--json", "suspend", "--yes", "-f", f"{three.prefix} state:running state:paused")
    assert proc.returncode == 7, proc.stderr
    assert results(proc) == {**dict.fromkeys(names, ("done", "paused")), first: ("refused", "paused")}
    refused = next(json.loads(line) for line in proc.stdout.splitlines() if first in line)
    assert refused["error"]["message"] == f"pause {first}: it is paused (pause needs running or blocked)"
    assert virsh_states(lab, three) == dict.fromkeys(names, "paused")

    proc = vmtui(lab, "resume", "-f", three.prefix, "--yes", "--json")
    assert proc.returncode == 0, proc.stderr
    # None can be resumed now: exit 1, each refused.
    proc = vmtui(lab, "resume", "-f", three.prefix, "--yes", "--json")
    assert proc.returncode == 1, proc.stderr
    assert results(proc) == dict.fromkeys(names, ("refused", "running"))
    assert virsh_states(lab, three) == dict.fromkeys(names, "running")
    # The lab's own guests were never touched.
    for name, state in everyone_else.items():
        assert lab.virsh(name.split("-")[0], "domstate", name).stdout.strip() == state


async def _until(
    pilot: Pilot[None], condition: Callable[[], bool], within: float, what: str, seen: Callable[[], object] = str
) -> None:
    """`seen()`: what the app showed instead, said when it fails."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {within} s: {what}; seen: {seen()}")
        await pilot.pause(0.1)


async def test_tui_marks_one_question_and_every_rows_result(lab: LabHandle, three: Three) -> None:
    all_running(lab, three)
    names = set(three.hosts)
    gone = f"{three.prefix}-gone"  # defined, shut off, marked, then undefined by another tool: it leaves the set
    with connect(lab.uris["lab2"]) as conn:
        conn.define_xml(
            build_guest_xml(GuestSpec(gone, memory_mib=64, domain_type="qemu", nic_model=None, role="test"))
        )
    try:
        app = VmtuiApp([HostEntry(h.name, h.uri) for h in lab.hosts], interval=1.0)
        async with app.run_test(size=(160, 40)) as pilot:
            table = app.host_screen.query_one(DomainTable)
            marks_line = app.host_screen.query_one("#marks", Static)

            def uuid_of(name: str) -> str | None:
                return next((r.uuid for r in table._rows.values() if r.name == name), None)

            def state(name: str) -> str | None:
                uuid = uuid_of(name)
                row = table.row(uuid) if uuid else None
                return row.state if row else None

            await _until(pilot, lambda: all(state(n) == "running" for n in names) and uuid_of(gone) is not None, 60,
                         "the three guests running and the shut-off one listed")  # fmt: skip
            uuids = {n: str(uuid_of(n)) for n in names}

            def rows_seen() -> object:
                return {n: (state(n), table.result_of(uuids[n])) for n in names}, [n.message for n in app.notes]

            # Filter down to the test's four rows, mark each with space (it moves down a row).
            await pilot.press("slash", *three.prefix, "enter")
            await pilot.pause()
            for _ in range(4):
                await pilot.press("space")
            assert table.marked == {*uuids.values(), uuid_of(gone)}
            four = "4 domains marked: the action keys act on them all (space unmarks, Esc clears)"
            await _until(pilot, lambda: str(marks_line.render()) == four, 5, "the count says 4")
            # Marks survive sorting, clearing the filter and polling (keyed by UUID).
            await pilot.press("s", "s")
            await pilot.press("slash", "escape")
            await pilot.pause(1.5)
            assert len(table.marked) == 4
            # Another tool removes one: it leaves the set.
            assert lab.virsh("lab2", "undefine", gone).returncode == 0
            await _until(pilot, lambda: len(table.marked) == 3, 30, "the undefined guest left the marks")
            assert table.marked == set(uuids.values())
            await _until(pilot, lambda: str(marks_line.render()).startswith("3 domains marked"), 5, "the count says 3")

            # One question, listing the three by host and name; nothing changes before the answer.
            await pilot.press("p")
            await _until(pilot, lambda: isinstance(app.screen, ConfirmModal), 5, "the question")
            modal = app.screen
            assert isinstance(modal, ConfirmModal)
            assert str(modal.query_one("#confirm-question", Label).render()) == "Pause 3 marked domains?"
            listed = [str(label.render()) for label in modal.query("#confirm-listed Label").results(Label)]
            assert listed == sorted(f"{host}  {name}" for name, host in three.hosts.items())
            assert virsh_states(lab, three) == dict.fromkeys(names, "running")
            await pilot.press("y")
            await _until(pilot, lambda: all(table.result_of(u) == "✓ paused" for u in uuids.values()), 60,
                         "every row says it was paused", rows_seen)  # fmt: skip
            assert virsh_states(lab, three) == dict.fromkeys(names, "paused")

            # One resumed by another tool meanwhile: it is refused, the other two are resumed.
            first = sorted(names)[0]
            assert lab.virsh(three.hosts[first], "resume", first).returncode == 0
            await _until(pilot, lambda: state(first) == "running", 30, "the resumed guest's row")
            await pilot.press("r")
            await _until(pilot, lambda: isinstance(app.screen, ConfirmModal), 5, "the question")
            await pilot.press("y")
            rest = [uuids[n] for n in names - {first}]
            await _until(pilot, lambda: all(table.result_of(u) == "✓ running" for u in rest), 60,
                         "the two paused ones resumed", rows_seen)  # fmt: skip
            assert table.result_of(uuids[first]) == "✗ refused"
            said = [note.message for note in app.notes]
            assert any(f"{first}: it is running (resume needs paused)" in m for m in said), said
            assert virsh_states(lab, three) == dict.fromkeys(names, "running")

            # Esc clears the marks (and the results); the next Esc is the filter's again.
            await pilot.press("escape")
            assert table.marked == set()
            assert table.result_of(uuids[first]) is None
            await _until(pilot, lambda: not marks_line.display, 5, "the count line hidden")
    finally:
        with connect(lab.uris["lab2"]) as conn:
            conn.destroy_and_undefine(gone)
