"""The TUI's memory screen on the lab: balloons from the pollers' samples, KSM from its worker, and `b`.

The balloon is checked with virsh, not with what the screen says; the guest is put back at 256 MiB
whatever happens.
"""

from __future__ import annotations

import io
import re
import subprocess
import time
from collections.abc import Callable

import pytest
from fixtures_lab import LabHandle
from rich.console import Console
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.screens.memory import BalloonModal, MemoryScreen
from vmtui.tui.messages import JobFinished, JobProgressed

pytestmark = [pytest.mark.lab, pytest.mark.timeout(180)]
LINUX = "lab1-linux"


async def _wait(pilot: Pilot[None], condition: Callable[[], bool], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await pilot.pause(0.1)


def _text(widget: Static) -> str:
    """What a Static shows, as plain text (its content may be a rich Table)."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def _actual(lab: LabHandle) -> int:
    uri = f"qemu+tcp://{lab.host('lab1').address}/system"
    out = subprocess.run(["virsh", "-c", uri, "dommemstat", LINUX], capture_output=True, text=True, check=True)
    return next(int(line.split()[1]) for line in out.stdout.splitlines() if line.startswith("actual "))


def _setmem(lab: LabHandle, kib: int) -> None:
    uri = f"qemu+tcp://{lab.host('lab1').address}/system"
    subprocess.run(["virsh", "-c", uri, "setmem", LINUX, str(kib), "--live"], check=True, capture_output=True)


async def test_memory_screen_shows_plan_and_ksm_and_balloons_a_guest(lab: LabHandle) -> None:
    _setmem(lab, 256 * 1024)
    app = VmtuiApp([HostEntry("lab1", lab.uris["lab1"])], interval=0.5)
    seen: list[Message] = []
    try:
        async with app.run_test(size=(200, 60), message_hook=seen.append) as pilot:

            def linux_reports() -> bool:
                view = app.fleet.hosts["lab1"]
                return view.tick is not None and any(
                    m.name == LINUX and m.guest_usable_kib is not None for m in view.tick.domains.values()
                )

            await _wait(pilot, linux_reports)
            await pilot.press("M")
            await _wait(pilot, lambda: isinstance(app.screen, MemoryScreen))
            screen = app.screen
            assert isinstance(screen, MemoryScreen)
            await _wait(pilot, lambda: len(app.ksm_history.get("lab1", ())) >= 2)
            ksm_panel = _text(screen.query_one("#memory-ksm", Static))
            assert "saved" in ksm_panel
            assert "ksmd" in ksm_panel
            plan = _text(screen.query_one("#memory-plan", Static))
            assert "lab1-tcg-e1000" in plan
            assert "no guest balloon driver" in plan
            table = screen.query_one(DataTable)
            uuid = next(u for u, d in app.fleet.hosts["lab1"].domains.items() if d.name == LINUX)
            table.move_cursor(row=table.get_row_index(uuid))
            await pilot.press("B")
            await _wait(pilot, lambda: isinstance(app.screen, BalloonModal))
            await pilot.press(*"200MiB", "enter")

            # The balloon's job, not another (the host's in-flight migration scan also ends in a JobFinished).
            def balloon_done() -> JobFinished | None:
                return next((m for m in seen if isinstance(m, JobFinished) and m.uuid == uuid), None)

            await _wait(pilot, lambda: balloon_done() is not None)
            done = balloon_done()
            assert done is not None
            assert done.ok, done.message
            assert _actual(lab) == 200 * 1024
            # The screen follows the pollers' samples: the guest's row reaches 200 MiB too.
            await _wait(pilot, lambda: "200 MiB" in str(table.get_row(uuid)[2]))
    finally:
        _setmem(lab, 256 * 1024)


def _row(table: DataTable[object], uuid: str, column: int) -> str:
    return str(table.get_row(uuid)[column])


async def test_the_row_shows_the_new_balloon_and_target_after_b_and_after_a_plan_step(lab: LabHandle) -> None:
    """Issue 27 item 3: "balloon now" (sampled) and "target set" (what vmtui set) are right after each
    action; before, the second column was <currentMemory>, which trails the balloon by an action."""
    _setmem(lab, 256 * 1024)
    app = VmtuiApp([HostEntry("lab1", lab.uris["lab1"])], interval=0.5)
    seen: list[Message] = []
    try:
        async with app.run_test(size=(200, 60), message_hook=seen.append) as pilot:
            uuid = ""

            def linux_reports() -> bool:
                nonlocal uuid
                view = app.fleet.hosts["lab1"]
                found = [u for u, m in (view.tick.domains if view.tick else {}).items() if m.name == LINUX]
                uuid = found[0] if found else ""
                return bool(found) and view.tick is not None and view.tick.domains[uuid].guest_usable_kib is not None

            await _wait(pilot, linux_reports)
            await pilot.press("M")
            await _wait(pilot, lambda: isinstance(app.screen, MemoryScreen))
            table = app.screen.query_one(DataTable)
            await _wait(pilot, lambda: uuid in {str(k.value) for k in table.rows})
            table.move_cursor(row=table.get_row_index(uuid))
            assert _row(table, uuid, 3) == "-"  # nothing set yet in this session
            await pilot.press("B")
            await _wait(pilot, lambda: isinstance(app.screen, BalloonModal))
            await pilot.press(*"200MiB", "enter")

            def ended(count: int) -> bool:
                return sum(1 for m in seen if isinstance(m, JobFinished) and m.label.startswith("Balloon")) >= count

            await _wait(pilot, lambda: ended(1))
            done = next(m for m in seen if isinstance(m, JobFinished) and m.uuid == uuid)
            assert isinstance(done, JobFinished)
            assert done.ok, done.message
            await pilot.pause()
            assert _row(table, uuid, 3) == "200 MiB"  # at once, when the job ends
            assert _actual(lab) == 200 * 1024  # virsh: the balloon is there
            await _wait(pilot, lambda: _row(table, uuid, 2) == "200 MiB")

            # One step of the plan: its move of the guest (if it has one) is what the job reported.
            await pilot.press("E")
            await _wait(pilot, lambda: not isinstance(app.screen, MemoryScreen))
            await pilot.press("y")
            await _wait(pilot, lambda: ended(2))
            await pilot.pause()
            step = next(m for m in seen if isinstance(m, JobFinished) and m.label.startswith("Balloon policy"))
            assert isinstance(step, JobFinished)
            assert step.ok, step.message
            said = [m.step.text for m in seen if isinstance(m, JobProgressed) and m.step.text.startswith(LINUX)]
            move = re.search(r"-> (\d+) MiB", said[-1]) if said else None
            assert _row(table, uuid, 3) == (f"{move.group(1)} MiB" if move else "200 MiB")
            # The sampled balloon reaches what virsh says, within the screen's refreshes.
            await _wait(pilot, lambda: _row(table, uuid, 2) == f"{_actual(lab) // 1024} MiB")
    finally:
        _setmem(lab, 256 * 1024)
