"""`:` commands: the palette's table by word, Tab completion of words, hosts and domains, the user's aliases."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from tests.tui.conftest import Recorder, wait_for
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.screens.command_line import CommandLineModal
from vmtui.screens.domain import DomainScreen
from vmtui.screens.host import HostScreen
from vmtui.screens.storage import StorageScreen
from vmtui.settings.load import load_settings
from vmtui.widgets.hosts_pane import HostsPane

pytestmark = pytest.mark.timeout(60)

TEST_URI = "test:///default"
"""libvirt's test driver: one running domain called "test"."""


def write_config(home: Path, text: str) -> Path:
    path = home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


async def test_colon_completes_words_hosts_and_domains_and_runs_aliases(vmtui_home: Path) -> None:
    write_config(vmtui_home, '[aliases]\nbusy = "sort cpu"\nonly = "filter"\n')
    app = VmtuiApp([HostEntry("t", TEST_URI)], interval=1.0, settings=load_settings())
    said = Recorder()
    async with app.run_test(size=(120, 40), message_hook=said) as pilot:
        await wait_for(pilot, lambda: "test" in {d.name for d in app.fleet.hosts["t"].domains.values()})

        async def typed(*keys: str) -> Input | None:
            """Keys pressed; the `:` line after them (None once Enter closed it)."""
            await pilot.press(*keys)
            await pilot.pause()
            if keys[-1] == "enter":
                return None
            assert isinstance(app.screen, CommandLineModal)
            return app.screen.line

        # A word: "po" + Tab is "pools"; Enter opens storage, as P does.
        line = await typed("colon", "p", "o", "tab")
        assert line is not None
        assert line.value == "pools"
        await pilot.press("escape")
        # A word that takes a name gets its space; then the domain name as the fleet shows it.
        line = await typed("colon", "d", "o", "m", "tab")
        assert line is not None
        assert line.value == "domain "
        line = await typed("t", "tab")
        assert line is not None
        assert line.value == "domain test"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        # `:host NAME` from any screen: back on the dashboard, the hosts pane on that host.
        line = await typed("colon", "h", "o", "s", "t", "space", "tab")
        assert line is not None
        assert line.value == "host t"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HostScreen) and isinstance(app.focused, HostsPane))
        # Aliases: `busy` is `sort cpu`; `only test` is `filter test` (the words after an alias follow it).
        table = app.host_screen.table
        assert table.sort_key != "cpu"
        await typed("colon", *"busy", "enter")
        await wait_for(pilot, lambda: table.sort_key == "cpu")
        await typed("colon", *"only state:shutoff", "enter")
        await wait_for(pilot, lambda: app.host_screen.query_one("#filter", Input).value == "state:shutoff")
        await wait_for(pilot, lambda: table.cursor_uuid is None)  # "test" runs: the filter hides it
        # An unknown word is said, nothing else happens.
        await typed("colon", *"frobnicate", "enter")
        await wait_for(pilot, lambda: said.said("unknown command 'frobnicate'"))
        await typed("colon", *"pools", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, StorageScreen))
