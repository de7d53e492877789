"""`e` in a real terminal: the TUI hands the terminal to $EDITOR, libvirt refuses the first edit (nothing
changes), the TUI offers the same file again, and the second edit is defined."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.guest_disks import LOCAL_URI, DiskGuest, disk_guest, virsh

pytestmark = pytest.mark.timeout(120)
VMTUI = Path(sys.executable).with_name("vmtui")

EDITOR = """import sys, pathlib
count = pathlib.Path(sys.argv[1])
n = int(count.read_text()) + 1 if count.exists() else 1
count.write_text(str(n))
doc = pathlib.Path(sys.argv[2])
text = doc.read_text()
if n == 1:
    text = text.replace(">1</vcpu>", ">lots</vcpu>")  # libvirt refuses this
else:
    text = text.replace(">lots</vcpu>", ">1</vcpu>")
    text = text.replace("</devices>", "</devices><description>edited in the TUI</description>")
doc.write_text(text)
"""


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def _wait_screen(session: str, text: str, within: float = 30.0) -> str:
    deadline = time.monotonic() + within
    while True:
        screen = _tmux("capture-pane", "-p", "-t", session)
        if text in screen:
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared; last screen:\n{screen}")
        time.sleep(0.2)


def _wait_gone(session: str, text: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while text in (screen := _tmux("capture-pane", "-p", "-t", session)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never went; last screen:\n{screen}")
        time.sleep(0.2)


@pytest.fixture
def guest() -> Iterator[DiskGuest]:
    from tests.tui.conftest import _libvirt_ready

    if not _libvirt_ready() or shutil.which("tmux") is None or not VMTUI.exists():
        pytest.skip("needs the local libvirtd, tmux and the installed vmtui entry point")
    from vmtui.drivers import connect

    with connect(LOCAL_URI) as conn, disk_guest(conn) as made:
        yield made


@pytest.fixture
def session() -> Iterator[str]:
    name = f"vmtui-console-{uuid.uuid4().hex[:6]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], check=False, capture_output=True)


def test_edit_refused_offered_again_then_defined(
    guest: DiskGuest, session: str, tmp_path: Path, vmtui_home: Path
) -> None:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    before = virsh("dumpxml", "--inactive", guest.uuid)
    editor = f"{sys.executable} {script} {tmp_path / 'count'}"
    command = f"env -u COLUMNS -u LINES -u VISUAL VMTUI_HOME={vmtui_home} EDITOR='{editor}' {VMTUI} -c {LOCAL_URI}"
    _tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", command)
    _tmux("resize-window", "-t", session, "-x", "200", "-y", "50")
    _wait_screen(session, guest.name)
    _tmux("send-keys", "-t", session, "-l", f"/{guest.name.split('-')[2]}")
    _wait_gone(session, "/ Filter")  # the filter line has the keys (the footer offers / only outside it)
    _tmux("send-keys", "-t", session, "Enter")
    _wait_screen(session, "/ Filter")  # the table has them back
    _tmux("send-keys", "-t", session, "Enter")
    _wait_screen(session, "Snapshots")  # the domain screen
    # `e` is offered while the host's samples are fresh; on a loaded machine one may come late: press again.
    for _attempt in range(6):
        _tmux("send-keys", "-t", session, "e")
        try:
            screen = _wait_screen(session, "Edit again?", within=10)
            break
        except AssertionError:
            continue
    screen = _wait_screen(session, "Edit again?")
    assert f"libvirt refused the edit of {guest.name}" in screen  # the name as it is: "[b]x", not bold x
    assert (tmp_path / "count").read_text() == "1"
    assert virsh("dumpxml", "--inactive", guest.uuid) == before  # the refused edit changed nothing

    _tmux("send-keys", "-t", session, "y")
    _wait_screen(session, "new definition saved")
    assert (tmp_path / "count").read_text() == "2"
    assert "<description>edited in the TUI</description>" in virsh("dumpxml", "--inactive", guest.uuid)
    _tmux("send-keys", "-t", session, "Escape", "q")
