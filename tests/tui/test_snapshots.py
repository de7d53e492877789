"""Snapshot tests from a recording of real KVM guests (tests/fixtures/tui-recording.jsonl).

A replay posts every recorded sample (none are coalesced away), so the table, the hosts pane and
the history graphs are the same on every run; the terminal size is fixed and no clock is shown.
Update with `pytest tests/tui/test_snapshots.py --snapshot-update` after checking the report.
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from tests.tui.conftest import RECORDING, Recorder, offered, wait_for
from tests.tui_reading import replay_finished
from vmtui.app import VmtuiApp
from vmtui.drivers.replay import replay_entries
from vmtui.screens.confirm import ConfirmModal
from vmtui.tui.messages import JobFinished

SIZE = (200, 50)


def replay_app() -> VmtuiApp:
    # A short interval only makes the replay finish sooner; every sample is still delivered.
    return VmtuiApp(replay_entries(RECORDING), interval=0.05, clock=lambda: 1_800_000_000.0)


async def finished(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, VmtuiApp)
    await wait_for(pilot, lambda: replay_finished(app))
    await pilot.pause()


def test_dashboard(snap_compare: Any) -> None:
    assert snap_compare(replay_app(), terminal_size=SIZE, run_before=finished)


def test_filtered_and_sorted(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await finished(pilot)
        await pilot.press("slash", *"state:running host:lab1 tui", "enter", "s", "s", "s", "s", "s")
        await pilot.pause()

    assert snap_compare(replay_app(), terminal_size=SIZE, run_before=run_before)


def test_domain_screen(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await finished(pilot)
        await pilot.press("slash", *"tui-a$", "enter", "enter")
        await pilot.pause()

    assert snap_compare(replay_app(), terminal_size=SIZE, run_before=run_before)


def test_dashboard_at_80x24(snap_compare: Any) -> None:
    """The smallest usual terminal: name and state whole, the columns that fit, the footer not cut."""
    assert snap_compare(replay_app(), terminal_size=(80, 24), run_before=finished)


def test_domain_screen_at_80x24(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await finished(pilot)
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(replay_app(), terminal_size=(80, 24), run_before=run_before)


def test_help_at_80x24(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await finished(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(replay_app(), terminal_size=(80, 24), run_before=run_before)


def test_help(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await finished(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(replay_app(), terminal_size=SIZE, run_before=run_before)


async def test_no_actions_in_replay() -> None:
    """A replay has no live host: the action keys are not offered, and pressing one starts nothing."""
    app = replay_app()
    seen = Recorder()
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await finished(pilot)
        keys = offered(app.screen)
        assert not {"u", "d", "b", "x", "p", "r"} & keys
        assert "a" not in keys  # nothing to add to a replay
        await pilot.press("p", "x")
        await pilot.pause()
        assert app.jobs.jobs == {}
        assert not isinstance(app.screen, ConfirmModal)
        assert seen.of(JobFinished) == []
