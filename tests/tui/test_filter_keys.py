"""Keys typed or pasted in one burst after "/" belong to the filter, never to the table's actions.

A terminal delivers a fast burst as consecutive key events. Before the fix, "/tuip" left the filter
empty and sent "u" (start) and "p" (pause) to the table's selected domain.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from tests.tui.conftest import Recorder, wait_for
from tests.tui.test_snapshots import SIZE, finished, replay_app


def _burst(text: str) -> list[events.Key]:
    names = {"/": "slash", "-": "minus"}
    return [events.Key(names.get(ch, ch), ch) for ch in text]


async def test_a_burst_after_slash_goes_to_the_filter() -> None:
    app = replay_app()
    seen = Recorder()
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await finished(pilot)
        box = app.host_screen.query_one("#filter", Input)
        for key in _burst("/tuip"):  # as the driver posts them: all at once
            app.post_message(key)
        await wait_for(pilot, lambda: len(box.value) == 4, within=5)  # 4 keys reached the filter...
        assert box.value == "tuip"  # ...in order
        assert app.focused is box
        assert seen.notes() == []  # no action ran (or was refused) on the selected domain

        for key in _burst("/x"):  # inside the filter, "/" is a character
            app.post_message(key)
        await wait_for(pilot, lambda: len(box.value) == 6, within=5)
        assert box.value == "tuip/x"


async def test_a_filter_that_cannot_mean_anything_is_said_under_the_line() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await finished(pilot)
        box = app.host_screen.query_one("#filter", Input)
        await pilot.press("slash", *"state:bogus")
        await pilot.pause()
        assert str(box.border_subtitle).startswith("no domain is ever 'bogus'")
        await pilot.press(*["backspace"] * len("state:bogus"), *"tui(")
        await pilot.pause()
        assert "is not a valid regex" in str(box.border_subtitle)
        await pilot.press("backspace", "escape")
        assert str(box.border_subtitle) == ""
