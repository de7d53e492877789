"""Thresholds and a host's colour in the TUI (issue 24): a busy guest's cells coloured by their level, its
host's alerts counted in the hosts pane, one notification per crossing into critical (its name shown
literally), at the levels of the user's config.toml; and a saved host's colour on its rows' HOST cell and its
screens' header.

The busy guest is a recording (tests/busy_recording.py: real samples of a real 1-vCPU guest, its CPU
set by hand per second) replayed through the real replay driver and pollers.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from rich.color import Color as RichColor
from textual.color import Color
from textual.widgets import Header

from tests.busy_recording import IDLE, write_busy_recording
from tests.conftest import MARKUP_NAME
from tests.tui.conftest import wait_for
from tests.tui.test_colours import colour, style_of
from tests.tui.test_fits_80x24 import screen_text
from tests.tui_reading import replay_finished
from vmtui.app import VmtuiApp
from vmtui.drivers.replay import replay_entries
from vmtui.screens.domain import DomainScreen
from vmtui.settings.load import load_settings
from vmtui.widgets.domain_table import DomainTable

pytestmark = pytest.mark.timeout(120)

# The busy guest's CPU per second, % of its one vCPU (critical from 50 in the config below, 90 by default):
# critical at the 2nd second and through the 3rd (one note), only warn at the 4th and critical again at the
# 5th (no note: it never came back below warn), ok at the 6th, critical again at the 7th (the second note).
CPU = [10, 97, 97, 20, 97, 5, 97]
LEVELS = "[thresholds]\ncpu = { warn = 15, critical = 50 }\n"


async def test_a_busy_guest_is_coloured_counted_and_told_once_per_crossing(tmp_path: Path, vmtui_home: Path) -> None:
    recording = write_busy_recording(tmp_path / "busy.jsonl", CPU, busy_name=MARKUP_NAME)
    entries = [replace(e, colour="magenta") for e in replay_entries(recording)]
    (vmtui_home / "config").mkdir(parents=True)
    (vmtui_home / "config" / "config.toml").write_text(LEVELS)
    app = VmtuiApp(entries, interval=0.2, clock=lambda: 1_800_000_000.0, settings=load_settings())
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(pilot, lambda: replay_finished(app), within=30)
        await pilot.pause()
        critical = [n for n in app.notes if n.title == "critical"]
        said = f"{MARKUP_NAME} on lab1: CPU 97 % of its vCPUs (critical from 50)"
        assert [(n.severity, n.message) for n in critical] == [("error", said)] * 2, list(app.notes)

        table = app.query_one(DomainTable)
        table.blur()  # the cursor's background is not under test
        table.sort_by("name")
        await pilot.pause()
        lines = [table.render_line(y) for y in (1, 2)]
        busy, idle = sorted(lines, key=lambda s: IDLE in s.text)
        assert colour(style_of(busy, "97.0")) == "red"  # CPU% (of one core) at the last second
        assert colour(style_of(busy, MARKUP_NAME[:10])) == "red"  # the row's worst level, on its name
        assert colour(style_of(idle, IDLE)) not in ("red", "yellow")  # the text's own colour
        assert colour(style_of(idle, " 0.0")) not in ("red", "yellow")
        for line in (busy, idle):
            assert colour(style_of(line, "lab1")) == "magenta"
        assert "1 critical" in screen_text(app)  # the hosts pane: one guest critical on lab1

        uuid = table.cursor_uuid
        assert uuid is not None
        table.action_select()
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        await pilot.pause()
        header = app.screen.query_one(Header)
        assert header.styles.background == Color.from_rich_color(RichColor.parse("magenta"))
