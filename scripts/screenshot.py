"""Render the TUI from a recording into SVG screenshots for the README.

    .venv/bin/vmtui record /tmp/lab.jsonl --duration 20      # on a running lab
    .venv/bin/python scripts/screenshot.py /tmp/lab.jsonl docs/

Writes docs/dashboard.svg (the fleet view) and docs/domain.svg (the domain screen of the first
e1000 guest), exactly as a 200x50 terminal shows them.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from vmtui.app import VmtuiApp
from vmtui.drivers.replay import replay_entries


async def shoot(recording: Path, out: Path) -> None:
    app = VmtuiApp(replay_entries(recording), interval=0.05)
    async with app.run_test(size=(200, 50)) as pilot:
        while not app.sub_title.startswith("replay finished"):  # set when the last recording has played out
            await pilot.pause(0.05)
        await pilot.pause()
        app.save_screenshot("dashboard.svg", str(out))
        await pilot.press("slash", *"e1000", "enter", "enter")
        await pilot.pause(0.2)
        app.save_screenshot("domain.svg", str(out))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    target = Path(sys.argv[2])
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(shoot(Path(sys.argv[1]), target))
