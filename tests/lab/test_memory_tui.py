"""The TUI's memory screen on the lab: balloons from the pollers' samples, KSM from its worker, and `b`.

The balloon is checked with virsh, not with what the screen says; the guest is put back at 256 MiB
whatever happens.
"""

from __future__ import annotations

import io
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
from vmtui.tui.messages import JobFinished

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
