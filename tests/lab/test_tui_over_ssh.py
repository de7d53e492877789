"""The TUI on a lab host reached over qemu+ssh whose libvirtd dies and comes back."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from fixtures_lab import LabHandle
from textual.pilot import Pilot

from vmtui.app import VmtuiApp
from vmtui.drivers import connect
from vmtui.lab import netns
from vmtui.models import HostEntry
from vmtui.widgets.domain_table import DomainTable

pytestmark = [pytest.mark.lab, pytest.mark.timeout(180)]


async def _until(pilot: Pilot[None], condition: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.1)


async def test_stale_then_back_and_events_still_arrive(lab: LabHandle) -> None:
    uri = lab.uris["lab2"]
    # A minute between polls: whatever shows up faster came from libvirt's close callback or events.
    app = VmtuiApp([HostEntry("lab2", uri)], interval=60.0, backoff=(0.5, 2.0))
    async with app.run_test(size=(200, 50)) as pilot:
        table = app.host_screen.query_one(DomainTable)

        def uuid_of(name: str) -> str | None:
            return next((u for u in table.visible_uuids if (r := table.row(u)) and r.name == name), None)

        def state_of(name: str) -> str | None:
            uuid = uuid_of(name)
            row = table.row(uuid) if uuid else None
            return row.state if row else None

        await _until(pilot, lambda: state_of("lab2-tcg-e1000") == "running", 30)
        libvirtd = netns.read_pidfile(lab.pidfile("lab2", "libvirtd"))
        assert libvirtd
        os.kill(libvirtd, 9)
        try:
            await _until(pilot, lambda: app.fleet.hosts["lab2"].status == "disconnected", 20)
            await _until(pilot, lambda: all(table.row(u).stale_since for u in table.visible_uuids), 5)  # type: ignore[union-attr]
        finally:
            lab.restore()  # brings lab2 back (rebuilt, with its guests)
        await _until(pilot, lambda: app.fleet.hosts["lab2"].status == "connected", 30)
        await _until(pilot, lambda: state_of("lab2-tcg-e1000") == "running", 30)

        target = uuid_of("lab2-tcg-e1000")
        assert target
        with connect(uri) as other_tool:
            try:
                other_tool.lifecycle(target, "suspend")
                await _until(pilot, lambda: state_of("lab2-tcg-e1000") == "paused", 10)
            finally:
                other_tool.lifecycle(target, "resume")
