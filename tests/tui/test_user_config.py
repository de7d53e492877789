"""config.toml: each mistake refused at start-up with FILE:LINE (the TUI and the CLI alike, nothing opened),
and `[keys]`: a rebound key acts, its old key does not, the help and the footer show the new one."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static

from tests.pty_run import run_in_pty
from tests.tui.conftest import Recorder, wait_for
from vmtui.app import VmtuiApp
from vmtui.config import ConfigError
from vmtui.models import HostEntry
from vmtui.screens.help import HelpModal
from vmtui.screens.host import HostScreen
from vmtui.settings.load import load_settings
from vmtui.tui.usersettings import check_settings, restore_keys

pytestmark = pytest.mark.timeout(60)

TEST_URI = "test:///default"


@pytest.fixture(autouse=True)
def shipped_keys() -> Iterator[None]:
    """The user's keys live on the screens' classes while an app runs: put the shipped ones back, always."""
    yield
    restore_keys()


def write_config(home: Path, text: str) -> Path:
    path = home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


MISTAKES = [
    # (file, the line the error must name, words it must say): each worked out by hand from the file.
    ('# mine\ncolour = "red"\n[aliases]\nok = "pools"\n', 2, "unknown key 'colour'"),
    ('[keys]\nmigrate = "g"\n[themes]\nx = 1\n', 3, "unknown key 'themes'"),
    ('[[plugins]]\nname = "viewer"\nkey = "V"\n', 1, "command = ["),
    (
        '[[plugins]]\nname = "a"\ncommand = ["x"]\n\n[[plugins]]\nname = "b"\ncommand = "virsh dumpxml $DOMAIN"\n',
        7,
        "list",
    ),
    ('[[plugins]]\nname = "a"\ncommand = ["echo", "$NAME"]\n', 3, "unknown variable $NAME"),
    ('[[plugins]]\nname = "a"\ncommand = ["x"]\nshell = true\n', 4, "unknown key 'shell'"),
    ('[[plugins]]\nname = "a"\ncommand = ["x"]\nmode = "window"\n', 4, "terminal"),
    ('[[plugins]]\nname = "a"\ncommand = ["x"]\nscreens = ["dashboard", "nowhere"]\n', 4, "no screen 'nowhere'"),
    ('[[plugins]]\nname = "a"\nkey = "m"\ncommand = ["x"]\n', 3, "'Migrate' on the Dashboard"),
    ('[keys]\nmigrate = "g"\nxml = "g"\n', 3, "keys.xml: 'g' is already 'Migrate'"),
    ('[keys]\nmigrate = "c"\n', 2, "'Console' on the Dashboard"),
    ('[keys]\nmigrate = "g"\nmigrate = "h"\n', 3, "not valid TOML"),
    ('[keys]\nfrobnicate = "g"\n', 2, "no key does 'frobnicate'"),
    ('[keys]\nmigrate = "ctrl+"\n', 2, "one key"),
    # The rule of tests/tui/test_keymap.py holds for the user's keys: destroy on `l` (live/definition in
    # the XML view) would make one letter destructive here and harmless there; so would a dangerous plugin.
    ('[keys]\n\ndestroy = "l"\n', 3, "destructive here but 'Live / definition'"),
    ('[[plugins]]\nname = "wipe"\nkey = "l"\ndangerous = true\ncommand = ["x"]\n', 3, "destructive here"),
    ('[[plugins]]\nname = "peek"\nkey = "R"\ncommand = ["x"]\nscreens = ["pools"]\n', 3, "harmless here but 'Revert'"),
    ('[[plugins]]\nname = "x"\ncommand = ["bash", "-c", "virsh dumpxml $DOMAIN"]\n', 3, "inside the shell's -c text"),
    ('[aliases]\nprod = "nosuch host:kvm1"\n', 2, "'nosuch' is not a command"),
    ('[aliases]\n# mine\nnets = "pools"\n', 3, "'nets' is already a command"),
    ("[aliases]\nprod = 3\n", 2, "command line in quotes"),
]


@pytest.mark.parametrize(("text", "line", "words"), MISTAKES)
def test_each_config_mistake_is_refused_with_file_and_line(vmtui_home: Path, text: str, line: int, words: str) -> None:
    path = write_config(vmtui_home, text)
    with pytest.raises(ConfigError) as raised:
        check_settings(load_settings(), VmtuiApp)
    message = str(raised.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert words in message
    assert "\n" not in message


def test_the_shipped_example_config_is_accepted(vmtui_home: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "config.example.toml"
    write_config(vmtui_home, example.read_text(encoding="utf-8"))
    settings = load_settings()
    check_settings(settings, VmtuiApp)
    assert [p.name for p in settings.plugins] == ["viewer", "ssh", "dumpxml", "dominfo", "reset"]
    assert [a.name for a in settings.aliases] == ["prod", "only", "busy"]
    levels = {k: (v.warn, v.critical) for k, v in settings.thresholds.limits.items()}
    assert (levels["cpu"], levels["overhead"], levels["disk_latency"]) == ((80, 95), (10, 40), (30, 100))
    assert levels["steal"] == (5, 20)  # not in the example: the default


def test_the_tui_and_the_cli_refuse_to_start_on_a_config_mistake(vmtui_home: Path) -> None:
    path = write_config(vmtui_home, '[keys]\nmigrate = "c"\n')
    env = {**os.environ, "VMTUI_HOME": str(vmtui_home)}
    vmtui = str(Path(sys.executable).with_name("vmtui"))
    # The TUI, on a terminal: one line in the shell, before the screen is taken (no escape codes).
    code, printed = run_in_pty([vmtui, "-c", TEST_URI], env=env, timeout=30)
    assert code == 2
    assert f"vmtui: error: {path}:2: keys.migrate: 'c' is already 'Console'" in printed
    assert "\x1b[?1049h" not in printed  # the alternate screen was never entered
    # A CLI command refuses a file it cannot read right, as well (its shape: the keys are the TUI's).
    write_config(vmtui_home, '[[plugins]]\nname = "viewer"\n')
    code, printed = run_in_pty([vmtui, "-c", TEST_URI, "list"], env=env, timeout=30)
    assert code == 2
    assert f"vmtui: error: {path}:1: plugin 'viewer': command = [" in printed


async def test_a_rebound_key_acts_the_old_one_does_not_and_help_shows_it(vmtui_home: Path) -> None:
    write_config(vmtui_home, '[keys]\nmigrate = "g"\n')
    app = VmtuiApp([HostEntry("t", TEST_URI)], interval=1.0, settings=load_settings())
    said = Recorder()
    async with app.run_test(size=(160, 40), message_hook=said) as pilot:
        await wait_for(pilot, lambda: app.host_screen.selected_uuid() is not None)
        await pilot.pause()
        # The footer's key for Migrate is the user's.
        shown = {key: b.binding.action for key, b in app.screen.active_bindings.items()}
        assert shown.get("g") == "migrate"
        assert shown.get("m") is None
        # With one host, Migrate answers that there is nowhere to go: the answer shows the key acted.
        await pilot.press("m")
        await pilot.pause(0.3)
        assert not said.said("Migrate test")
        await pilot.press("g")
        await wait_for(pilot, lambda: said.said("Migrate test: no other connected, writable host"))
        while not isinstance(app.screen, HostScreen):
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpModal))
        table = app.screen.query_one("#help-screen-keys", Static).content
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(table)
        rows = [line.split() for line in console.export_text().splitlines()]
        assert ["g", "Migrate"] in rows
        assert not any(row[:1] == ["m"] for row in rows)
        # And above the shipped list of every key: what the user moved.
        console.print(app.screen.query_one("#help-your-keys", Static).content)
        assert "g Migrate (instead of m)" in " ".join(console.export_text().split())
