"""The memory screen's KSM readings on the local libvirtd: a failure of any kind is said (never a silent
end), and the reader's thread ends when the host's memory screen closes (decided on the event loop)."""

from __future__ import annotations

import logging
import threading

import pytest

from tests.tui.conftest import SYSTEM_URI, Recorder, wait_for
from vmtui.app import VmtuiApp
from vmtui.drivers.base import Hypervisor
from vmtui.models import HostEntry
from vmtui.monitor.poller import open_host
from vmtui.screens.host import HostScreen
from vmtui.screens.memory import MemoryScreen

SIZE = (120, 40)


def _ksm_reader_alive() -> bool:
    return any(t.name == "ksm local" and t.is_alive() for t in threading.enumerate())


def _ksm_breaks(entry: HostEntry) -> Hypervisor:
    """The real connection, whose KSM counters fail as no VmtuiError would (a bug, a driver surprise)."""
    conn = open_host(entry)

    def broken() -> object:
        raise RuntimeError("ksm counters vanished")

    conn.ksm_parameters = broken  # type: ignore[attr-defined]
    return conn


async def test_a_ksm_reading_that_fails_unexpectedly_is_said_once_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    app = VmtuiApp([HostEntry("local", SYSTEM_URI)], connector=_ksm_breaks)
    with caplog.at_level(logging.ERROR):
        async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
            await wait_for(pilot, lambda: app.fleet.hosts["local"].tick is not None)
            await pilot.press("M")
            expected = "KSM on local: internal error: RuntimeError('ksm counters vanished') (traceback in the log file)"
            await wait_for(pilot, lambda: recorder.said(expected))
            (note,) = [n for n in recorder.notes() if n.message.startswith("KSM on local")]
            assert (note.message, note.severity) == (expected, "warning")
            assert isinstance(app.screen, MemoryScreen)  # the screen stays, with what it has
            assert list(app.ksm_history["local"]) == []
            await wait_for(pilot, lambda: not _ksm_reader_alive())
    (record,) = [r for r in caplog.records if r.getMessage() == "ksm local failed"]
    assert record.exc_info is not None
    assert "ksm counters vanished" in str(record.exc_info[1])


async def test_the_ksm_reader_ends_when_the_memory_screen_closes() -> None:
    app = VmtuiApp([HostEntry("local", SYSTEM_URI)])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.fleet.hosts["local"].tick is not None)
        await pilot.press("M")
        await wait_for(pilot, lambda: len(app.ksm_history.get("local", ())) >= 1)
        assert _ksm_reader_alive()
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HostScreen))
        # The cancel Event wakes the reader from its wait between readings: it ends at once, not after 2 s more.
        await wait_for(pilot, lambda: not _ksm_reader_alive(), within=1.5)
        readings = len(app.ksm_history["local"])
        await pilot.pause(2.5)
        assert len(app.ksm_history["local"]) == readings
