"""[[plugins]] on a real guest: variables put in per argument (a hostile domain name reaches the program as
ONE argument, never through a shell), the output shown literally in a panel, and a `dangerous` plugin
refused on a read-only host (by its key and by `:NAME` alike)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.conftest import need
from tests.tui.conftest import RECORDING, SYSTEM_URI, Recorder, _libvirt_ready, wait_for
from tests.tui.test_edit_tmux import VMTUI, _tmux, _wait_gone, _wait_screen
from vmtui.app import VmtuiApp
from vmtui.drivers.replay import replay_entries
from vmtui.models import HostEntry
from vmtui.ops.plugins import plugin_values, run_on_terminal
from vmtui.screens.command_line import CommandLineModal
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.domain import DomainScreen
from vmtui.screens.plugin_output import PluginOutputScreen
from vmtui.settings.load import load_settings
from vmtui.settings.plugins import Plugin
from vmtui.tui.usersettings import restore_keys

pytestmark = pytest.mark.timeout(90)

HOSTILE = 'vmtui-test-plug-{tag} a\'b "c" $(touch vmtui-pwned-{tag}); echo `id` $UUID'
"""A name a shell would split, quote, run and expand: the plugin must see it unchanged, as one argument."""

ARGV_SCRIPT = """import json, sys
with open(sys.argv[1], "w") as out:
    json.dump(sys.argv[2:], out)
print("[b]seen[/b]", sys.argv[2])
"""


@pytest.fixture
def hostile_guest() -> Iterator[tuple[str, str]]:
    """A small diskless guest on qemu:///system with a hostile name: (name, UUID), always removed."""
    need(_libvirt_ready(), "needs the local libvirtd (qemu:///system) and /dev/kvm")
    from vmtui.drivers import connect
    from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml

    name = HOSTILE.format(tag=uuid.uuid4().hex[:6])
    conn = connect(SYSTEM_URI)
    made = None
    try:
        made = conn.define_and_start(build_guest_xml(GuestSpec(name=name, role="test", nic_model=None)))
        yield name, made.uuid
    finally:
        if made is not None:
            conn.destroy_and_undefine(made.uuid)
        conn.close()


@pytest.fixture(autouse=True)
def shipped_keys() -> Iterator[None]:
    yield
    restore_keys()


async def test_a_plugin_gets_each_variable_as_one_argument_and_a_dangerous_one_is_refused_read_only(
    vmtui_home: Path, tmp_path: Path, hostile_guest: tuple[str, str]
) -> None:
    name, dom_uuid = hostile_guest
    script = tmp_path / "argv.py"
    script.write_text(ARGV_SCRIPT, encoding="utf-8")
    seen, wiped, asked = tmp_path / "seen.json", tmp_path / "wiped.json", tmp_path / "asked.json"
    config = vmtui_home / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        f"""
[[plugins]]
name = "argv"
key = "W"
mode = "panel"
command = [{json.dumps(sys.executable)}, {json.dumps(str(script))}, {json.dumps(str(seen))},
           "$DOMAIN", "$UUID", "$HOST", "$URI", "$SSH_TARGET", "--name=$DOMAIN"]

[[plugins]]
name = "wipe"
key = "Z"
mode = "panel"
dangerous = true
command = [{json.dumps(sys.executable)}, {json.dumps(str(script))}, {json.dumps(str(wiped))}, "$DOMAIN"]

[[plugins]]
name = "ask"
mode = "panel"
confirm = true
command = [{json.dumps(sys.executable)}, {json.dumps(str(script))}, {json.dumps(str(asked))}, "$UUID"]
""",
        encoding="utf-8",
    )
    app = VmtuiApp([HostEntry("local", SYSTEM_URI, read_only=True)], interval=1.0, settings=load_settings())
    said = Recorder()
    async with app.run_test(size=(160, 40), message_hook=said) as pilot:
        await wait_for(pilot, lambda: app.fleet.find(dom_uuid) is not None)
        # `:domain` + Tab completes the hostile name as the fleet shows it; Enter opens it.
        await pilot.press("colon", *"domain vmtui-test-plug", "tab")
        assert isinstance(app.screen, CommandLineModal)
        assert app.screen.line.value == f"domain {name}"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        await pilot.press("W")
        await wait_for(pilot, lambda: isinstance(app.screen, PluginOutputScreen))
        # By hand: what each variable is for this guest on this host.
        assert json.loads(seen.read_text(encoding="utf-8")) == [
            name,
            dom_uuid,
            "local",
            "qemu:///system",
            "localhost",
            f"--name={name}",
        ]
        assert not list(Path.cwd().glob("vmtui-pwned-*"))  # no shell ran the name's $(...)
        shown = app.screen.query_one("#plugin-output", Static).content
        assert f"[b]seen[/b] {name}" in str(shown)  # the program's words, never read as markup
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        # Dangerous on a read-only host: its key says why, `:wipe` says the same; nothing runs.
        await pilot.press("Z")
        reason = "plugin wipe: a dangerous plugin changes things: local is connected read-only"
        await wait_for(pilot, lambda: said.said(reason))
        count = sum(reason in n.message for n in said.notes())
        await pilot.press("colon", *"wipe", "enter")
        await wait_for(pilot, lambda: sum(reason in n.message for n in said.notes()) == count + 1)
        await pilot.pause(0.3)
        assert not wiped.exists()
        # `confirm`: asked first; No runs nothing, Yes runs it.
        await pilot.press("colon", *"ask", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
        await pilot.pause(0.3)
        assert not asked.exists()
        await pilot.press("colon", *"ask", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, PluginOutputScreen))
        assert json.loads(asked.read_text(encoding="utf-8")) == [dom_uuid]
        await pilot.press("escape")
        # A key refused on a read-only host is refused by `:` with the same words (one table, one refusal).
        await pilot.press("colon", *"destroy", "enter")
        await wait_for(pilot, lambda: any(n.title == "not offered" and "read-only" in n.message for n in said.notes()))


async def test_every_plugin_is_refused_in_a_replay(vmtui_home: Path, tmp_path: Path) -> None:
    ran = tmp_path / "ran.json"
    config = vmtui_home / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    argv = f'[{json.dumps(sys.executable)}, "-c", "open({str(ran)!r}, \'w\')"]'
    config.write_text(
        f'[[plugins]]\nname = "peek"\ncommand = {argv}\n'
        f'[[plugins]]\nname = "wipe"\ndangerous = true\ncommand = {argv}\n',
        encoding="utf-8",
    )
    app = VmtuiApp(replay_entries(RECORDING), interval=0.05, settings=load_settings())
    said = Recorder()
    async with app.run_test(size=(160, 40), message_hook=said) as pilot:
        await wait_for(pilot, lambda: app.host_screen.selected_uuid() is not None)
        await pilot.press("colon", *"wipe", "enter")
        await wait_for(
            pilot, lambda: said.said("plugin wipe: a dangerous plugin changes things: a replay has no live host")
        )
        await pilot.press("colon", *"peek", "enter")
        await wait_for(pilot, lambda: said.said("plugin peek: a replay has no live host to run it on"))
        await pilot.pause(0.3)
        assert not ran.exists()


def test_a_terminal_plugin_gets_the_terminal_and_gives_it_back(vmtui_home: Path, tmp_path: Path) -> None:
    """`mode = "terminal"` in a real terminal (tmux): the TUI is suspended, the program writes its arguments
    and waits for Enter, then the dashboard is back and still answers its keys."""
    need(shutil.which("tmux") is not None and VMTUI.exists(), "needs tmux and the installed vmtui entry point")
    config = vmtui_home / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        '[[plugins]]\nname = "show"\nkey = "W"\n'
        'command = ["sh", "-c", \'printf "ARGS<%s|%s>" "$1" "$2"; read answer\', "sh", "$DOMAIN", "$HOST"]\n',
        encoding="utf-8",
    )
    session = f"vmtui-plugin-{uuid.uuid4().hex[:6]}"
    command = f"env -u COLUMNS -u LINES VMTUI_HOME={vmtui_home} {VMTUI} -c test:///default"
    try:
        _tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "40", command)
        _wait_screen(session, "running")  # the test driver's domain "test" runs
        _tmux("send-keys", "-t", session, "W")
        _wait_screen(session, "ARGS<test|test:///default>")
        _tmux("send-keys", "-t", session, "Enter")
        _wait_gone(session, "ARGS<")
        _wait_screen(session, "running")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)


def test_a_terminal_plugin_runs_on_the_terminal_with_its_arguments(tmp_path: Path) -> None:
    """`mode = "terminal"`: the program writes to the terminal given (the TUI hands over its own)."""
    out = tmp_path / "terminal.txt"
    plugin = Plugin(name="echo", command=("printf", "%s|", "$DOMAIN", "$SSH_TARGET"), mode="terminal")
    values = plugin_values(domain="a b;$(x) $UUID", uuid="u", host="h", uri="qemu+ssh://root@kvm1:2222/system")
    with out.open("wb") as terminal:
        ended = run_on_terminal(plugin, values, terminal=terminal.fileno())
    assert ended.returncode == 0
    # By hand: the name as it is ($UUID in it not replaced: one pass), ssh's URL form of the URI's host.
    assert out.read_text(encoding="utf-8") == "a b;$(x) $UUID|ssh://root@kvm1:2222|"
    assert plugin_values(domain="d", uuid="u", host="h", uri="qemu+ssh://kvm1/system")["SSH_TARGET"] == "ssh://kvm1"
    assert plugin_values(domain="d", uuid="u", host="h", uri="qemu:///system")["SSH_TARGET"] == "localhost"
