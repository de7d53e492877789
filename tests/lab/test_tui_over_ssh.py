"""The TUI on the lab's hosts over qemu+ssh: a fleet of two, and a host whose libvirtd dies and comes back."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import pytest
from fixtures_lab import LabHandle
from textual.pilot import Pilot

from tests.tui_reading import visible_uuids
from vmtui.app import VmtuiApp
from vmtui.drivers import connect
from vmtui.lab import netns
from vmtui.models import HostEntry
from vmtui.screens.domain import DomainScreen
from vmtui.settings.load import Settings
from vmtui.thresholds import parse_thresholds
from vmtui.widgets.domain_table import DomainTable

pytestmark = [pytest.mark.lab, pytest.mark.timeout(180)]


async def _until(pilot: Pilot[None], condition: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.1)


async def test_fleet_filter_open_and_pause_over_ssh(lab: LabHandle) -> None:
    app = VmtuiApp([HostEntry(h.name, h.uri) for h in lab.hosts], interval=1.0)
    async with app.run_test(size=(200, 50)) as pilot:
        table = app.host_screen.query_one(DomainTable)

        def rows() -> dict[str, tuple[str, str]]:
            # name -> (host, state) of the visible rows
            return {r.name: (r.host, r.state) for u in visible_uuids(table) if (r := table.row(u))}

        # Both hosts' guests in one table, with rates once a second sample arrived.
        await _until(pilot, lambda: {"lab1-tcg-e1000", "lab2-tcg-e1000"} <= set(rows()), 30)
        await _until(pilot, lambda: all(r.cpu is not None for u in visible_uuids(table) if (r := table.row(u))), 15)

        await pilot.press("slash", *"host:lab2 state:running", "enter")
        await pilot.pause()
        assert {host for host, _ in rows().values()} == {"lab2"}  # not empty, and lab2 only

        await pilot.press("escape", "slash", *"lab2-tcg-e1000", "enter")
        await pilot.pause()
        assert list(rows()) == ["lab2-tcg-e1000"]
        await pilot.press("p")
        try:
            await _until(pilot, lambda: rows()["lab2-tcg-e1000"][1] == "paused", 15)
        finally:
            await pilot.press("r")
        await _until(pilot, lambda: rows()["lab2-tcg-e1000"][1] == "running", 15)

        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DomainScreen)
        await _until(pilot, lambda: "e1000" in str(screen.query_one("#findings").render()), 15)
        assert "fix:" in str(screen.query_one("#findings").render())


async def test_stale_then_back_and_events_still_arrive(lab: LabHandle) -> None:
    uri = lab.uris["lab2"]
    # A minute between polls: whatever shows up faster came from libvirt's close callback or events.
    app = VmtuiApp([HostEntry("lab2", uri)], interval=60.0, backoff=(0.5, 2.0))
    async with app.run_test(size=(200, 50)) as pilot:
        table = app.host_screen.query_one(DomainTable)

        def uuid_of(name: str) -> str | None:
            return next((u for u in visible_uuids(table) if (r := table.row(u)) and r.name == name), None)

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
            await _until(pilot, lambda: all(table.row(u).stale_since for u in visible_uuids(table)), 5)  # type: ignore[union-attr]
        finally:
            lab.restore()  # brings lab2 back (rebuilt, with its guests)
        await _until(pilot, lambda: app.fleet.hosts["lab2"].status == "connected", 30)
        old = uuid_of("lab2-tcg-e1000")

        with connect(uri) as other_tool:
            # The rebuilt host defined its guests anew: libvirt names the UUID to expect. Until the
            # first poll after the reconnect the table may still hold the old row (stale): wait for
            # the new one, fresh, and for the old one to go (one row per guest, never two).
            target = other_tool.domain("lab2-tcg-e1000").uuid

            def fresh(state: str) -> bool:
                row = table.row(target)
                return row is not None and row.state == state and row.stale_since is None

            await _until(pilot, lambda: fresh("running"), 30)
            await _until(pilot, lambda: [uuid_of("lab2-tcg-e1000")] == [target] and (old == target or
                         table.row(old or "") is None), 10)  # fmt: skip
            try:
                other_tool.lifecycle(target, "suspend")
                await _until(pilot, lambda: fresh("paused"), 10)
            finally:
                other_tool.lifecycle(target, "resume")


async def test_a_libvirtd_restart_keeps_the_same_rows(lab: LabHandle) -> None:
    """`vmtui lab restart`: the guests keep running, the TUI goes stale, reconnects, and the same UUIDs return."""
    uri = lab.uris["lab1"]
    app = VmtuiApp([HostEntry("lab1", uri)], interval=0.5, backoff=(0.5, 2.0))
    async with app.run_test(size=(200, 50)) as pilot:
        table = app.host_screen.query_one(DomainTable)
        await _until(pilot, lambda: len(visible_uuids(table)) >= 3, 30)
        before = set(visible_uuids(table))
        restart = await asyncio.to_thread(lab.vmtui, "lab", "restart", "lab1")
        assert restart.returncode == 0, restart.stderr
        await _until(pilot, lambda: app.fleet.hosts["lab1"].reason == "end of file" or
                     app.fleet.hosts["lab1"].status == "connected", 20)  # fmt: skip
        await _until(pilot, lambda: app.fleet.hosts["lab1"].status == "connected", 30)
        await _until(pilot, lambda: all(table.row(u).stale_since is None for u in visible_uuids(table)), 20)  # type: ignore[union-attr]
        assert set(visible_uuids(table)) == before
        assert all(table.row(u).state == "running" for u in before)  # type: ignore[union-attr]


async def test_a_busy_lab_guest_is_coloured_counted_and_told_once(lab: LabHandle) -> None:
    """Thresholds on live lab guests over qemu+ssh: with CPU critical from 0.5 % of the vCPUs (levels of the
    test's own, not the user's), lab1's Linux guest (its dirtier keeps one vCPU a few % busy under TCG) has
    its CPU cell and name in red, lab1's pane line counts it critical, and it is told once, not per tick."""
    settings = Settings(levels=parse_thresholds({"cpu": {"warn": 0.2, "critical": 0.5}}))
    app = VmtuiApp([HostEntry(h.name, h.uri) for h in lab.hosts], interval=1.0, settings=settings)
    guest = "lab1-linux"
    async with app.run_test(size=(200, 50)) as pilot:
        table = app.host_screen.query_one(DomainTable)

        def told() -> list[str]:
            return [n.message for n in app.notes if n.title == "critical" and n.message.startswith(f"{guest} on lab1:")]

        await _until(pilot, lambda: bool(told()), 45)
        row = next(r for u in visible_uuids(table) if (r := table.row(u)) and r.name == guest)
        # From the first notification on, every figure the row shows. Told again only after a sample with no
        # figure even at warn (the hysteresis): a TCG guest on a loaded machine may have such a second, and
        # then a second notification is right. Told per tick above the line would be about one a second.
        figures: list[float | None] = [row.cpu]

        async def record() -> None:
            seen = row
            while True:
                await asyncio.sleep(0.1)
                now = table.row(row.uuid)
                if now is not None and now is not seen:
                    seen = now
                    figures.append(now.cpu)

        recording = asyncio.create_task(record())
        assert row.cpu is not None
        assert row.cpu > 0.5, f"{guest} is not busy ({row.cpu:.2f} % of its vCPUs): nothing to colour"
        assert app.fleet.alert_counts("lab1")[1] >= 1  # (warn, critical): the pane's count
        table.blur()  # the cursor's background is not under test
        table.sort_by("name")
        await pilot.pause()
        line = next(
            strip for y in range(len(visible_uuids(table)) + 1) if guest in (strip := table.render_line(y)).text
        )
        name_styles = [seg.style for seg in line if guest in seg.text and seg.style is not None]
        assert name_styles, [seg.text for seg in line]
        drawn = name_styles[0].color
        assert drawn is not None
        assert drawn.name == "red"  # the row's worst level, on its name
        await pilot.pause(6)  # six more samples
        recording.cancel()
        dips = sum(1 for before, now in zip(figures, figures[1:], strict=False) if _below(now) and not _below(before))
        assert 1 <= len(told()) <= 1 + dips, (told(), figures)
        if dips == 0:
            assert len(told()) == 1, (told(), figures)


def _below(cpu: float | None) -> bool:
    """Below the test's warn level (0.2 %), or no figure: what ends a crossing."""
    return cpu is None or cpu < 0.2
