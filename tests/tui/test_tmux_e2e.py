"""End to end: the real `vmtui` binary in a real terminal (tmux), driven by keys, read from the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need
from tests.tui.conftest import Guests

pytestmark = pytest.mark.timeout(120)
VMTUI = Path(sys.executable).with_name("vmtui")


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def _screen(session: str) -> str:
    return _tmux("capture-pane", "-p", "-t", session)


def _wait_screen(session: str, text: str, within: float = 20.0) -> str:
    deadline = time.monotonic() + within
    while True:
        screen = _screen(session)
        if text in screen:
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared; last screen:\n{screen}")
        time.sleep(0.2)


@pytest.fixture
def tmux_session(vmtui_home: Path) -> Iterator[str]:
    need(shutil.which("tmux") is not None and VMTUI.exists(), "needs tmux and the installed vmtui entry point")
    name = f"vmtui-e2e-{uuid.uuid4().hex[:6]}"
    yield name
    # Always gone, whatever the test did: kill-session also ends the vmtui process inside it.
    subprocess.run(["tmux", "kill-session", "-t", name], check=False, capture_output=True)


def test_vmtui_in_tmux(local_guests: Guests, tmux_session: str, vmtui_home: Path) -> None:
    env_home = f"VMTUI_HOME={vmtui_home}"
    # Textual honours COLUMNS/LINES over the real terminal size; pytest may export them.
    command = f"env -u COLUMNS -u LINES {env_home} {VMTUI} -c {local_guests.uri}"
    _tmux("new-session", "-d", "-s", tmux_session, "-x", "200", "-y", "50", command)
    # A tmux server started without a client may ignore -x/-y (window-size policy): force the size.
    _tmux("resize-window", "-t", tmux_session, "-x", "200", "-y", "50")
    screen = _wait_screen(tmux_session, local_guests.names[1])
    assert "connected" in screen
    assert "EXITS/s" in screen

    # "/" and the filter in one burst, as a paste or a fast typist sends them: every key reaches the filter.
    _tmux("send-keys", "-t", tmux_session, "-l", f"/{local_guests.prefix}-e1000")
    _tmux("send-keys", "-t", tmux_session, "Enter")
    deadline = time.monotonic() + 10
    while local_guests.names[1] in (screen := _screen(tmux_session)) and time.monotonic() < deadline:
        time.sleep(0.2)  # a loaded machine may take a moment to repaint
    assert local_guests.names[0] in screen
    assert local_guests.names[1] not in screen, screen

    _tmux("send-keys", "-t", tmux_session, "Enter")
    screen = _wait_screen(tmux_session, "Why does it cost")
    assert "emulated" in screen
    assert f"{local_guests.names[0]} on {local_guests.uri}" in screen

    _tmux("send-keys", "-t", tmux_session, "Escape")
    _tmux("send-keys", "-t", tmux_session, "?")
    _wait_screen(tmux_session, "vmtui keys")
    _tmux("send-keys", "-t", tmux_session, "Escape")
    _tmux("send-keys", "-t", tmux_session, "q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        panes = subprocess.run(
            ["tmux", "list-panes", "-t", tmux_session, "-F", "#{pane_current_command}"],
            capture_output=True,
            text=True,
        )
        if panes.returncode != 0 or "vmtui" not in panes.stdout:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"vmtui did not quit on q:\n{_screen(tmux_session)}")
    assert os.path.isdir(vmtui_home)  # the app wrote its log under VMTUI_HOME, not the user's home


def test_a_console_shows_nothing_of_the_previous_one(local_guests: Guests, tmux_session: str, vmtui_home: Path) -> None:
    # Issue 27: the second guest's console showed "Connected to domain '<first guest>'" above its own banner.
    first, second = local_guests.names
    command = f"env -u COLUMNS -u LINES VMTUI_HOME={vmtui_home} {VMTUI} -c {local_guests.uri}"
    _tmux("new-session", "-d", "-s", tmux_session, "-x", "200", "-y", "50", command)
    _tmux("resize-window", "-t", tmux_session, "-x", "200", "-y", "50")
    _wait_screen(tmux_session, second)
    for name in (first, second):
        _tmux("send-keys", "-t", tmux_session, "Escape")  # clears the filter
        time.sleep(0.5)  # an Escape followed at once by "/" reads as Alt+/
        _tmux("send-keys", "-t", tmux_session, "-l", f"/^{name}$")
        _tmux("send-keys", "-t", tmux_session, "Enter")
        time.sleep(1)  # the filter applies and the cursor lands on the one row left
        _tmux("send-keys", "-t", tmux_session, "c")
        screen = _wait_screen(tmux_session, f"Connected to domain '{name}'")
        _tmux("send-keys", "-t", tmux_session, "C-]")
        _wait_screen(tmux_session, "EXITS/s")
    assert f"Connected to domain '{first}'" not in screen, screen
    _tmux("send-keys", "-t", tmux_session, "q")


def test_a_key_typed_right_after_the_filters_enter_reaches_the_table(tmux_session: str, vmtui_home: Path) -> None:
    # Found by the tmux walk: "/te⏎X" in one burst left the X in the filter line ("teX"), the focus
    # going back to the table only after the keys already read. libvirt's test driver: its guest "test".
    command = f"env -u COLUMNS -u LINES VMTUI_HOME={vmtui_home} {VMTUI} -c test:///default"
    _tmux("new-session", "-d", "-s", tmux_session, "-x", "120", "-y", "30", command)
    _tmux("resize-window", "-t", tmux_session, "-x", "120", "-y", "30")
    _wait_screen(tmux_session, "running")
    _tmux("send-keys", "-t", tmux_session, "-l", "/te")
    _tmux("send-keys", "-t", tmux_session, "Enter", "X")
    screen = _wait_screen(tmux_session, "live XML", within=10)
    assert "teX" not in screen
    _tmux("send-keys", "-t", tmux_session, "q")
