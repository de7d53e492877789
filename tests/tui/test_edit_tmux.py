"""`e` in a real terminal: the TUI hands the terminal to $EDITOR, libvirt refuses the first edit (nothing
changes), the TUI offers the same file again, and the second edit is defined. An editor that cannot run
or fails gives the terminal back with the reason; one whose terminal is killed leaves no XML behind."""

from __future__ import annotations

import os
import shutil
import signal
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


def _start(session: str, guest: DiskGuest, home: Path, editor: str, tmpdir: Path | None = None) -> None:
    """vmtui in a 200x50 tmux pane, on the guest's domain screen, with `editor` as $EDITOR."""
    env = f"TMPDIR={tmpdir} " if tmpdir is not None else ""
    command = f"env -u COLUMNS -u LINES -u VISUAL {env}VMTUI_HOME={home} EDITOR='{editor}' {VMTUI} -c {LOCAL_URI}"
    _tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", command)
    _tmux("resize-window", "-t", session, "-x", "200", "-y", "50")
    _wait_screen(session, guest.name)
    _tmux("send-keys", "-t", session, "-l", f"/{guest.name.split('-')[2]}")
    _wait_gone(session, "/ Filter")  # the filter line has the keys (the footer offers / only outside it)
    _tmux("send-keys", "-t", session, "Enter")
    _wait_screen(session, "/ Filter")  # the table has them back
    _tmux("send-keys", "-t", session, "Enter")
    _wait_screen(session, "Snapshots")  # the domain screen


def _press_edit(session: str, expect: str) -> str:
    """`e` until `expect` shows: it is offered while the host's samples are fresh, and on a loaded machine
    one may come late."""
    for _attempt in range(6):
        _tmux("send-keys", "-t", session, "e")
        try:
            return _wait_screen(session, expect, within=10)
        except AssertionError:
            continue
    return _wait_screen(session, expect)


def _session_ends(session: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode == 0:
        if time.monotonic() > deadline:
            screen = _tmux("capture-pane", "-p", "-t", session)
            raise AssertionError(f"vmtui did not quit; last screen:\n{screen}")
        time.sleep(0.2)


def test_edit_refused_offered_again_then_defined(
    guest: DiskGuest, session: str, tmp_path: Path, vmtui_home: Path
) -> None:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    before = virsh("dumpxml", "--inactive", guest.uuid)
    _start(session, guest, vmtui_home, f"{sys.executable} {script} {tmp_path / 'count'}")
    screen = _press_edit(session, "Edit again?")
    assert f"libvirt refused the edit of {guest.name}" in screen  # the name as it is: "[b]x", not bold x
    assert (tmp_path / "count").read_text() == "1"
    assert virsh("dumpxml", "--inactive", guest.uuid) == before  # the refused edit changed nothing

    _tmux("send-keys", "-t", session, "y")
    _wait_screen(session, "new definition saved")
    assert (tmp_path / "count").read_text() == "2"
    assert "<description>edited in the TUI</description>" in virsh("dumpxml", "--inactive", guest.uuid)
    _tmux("send-keys", "-t", session, "Escape", "q")


@pytest.mark.parametrize(
    ("editor", "said"),
    [("/nonexistent/ed", "'/nonexistent/ed':"), ("false", "exited")],
    ids=["missing", "exits-1"],
)
def test_editor_that_fails_gives_the_terminal_back(
    guest: DiskGuest, session: str, tmp_path: Path, vmtui_home: Path, editor: str, said: str
) -> None:
    """Before, the TUI stayed blank and deaf for good (Textual's suspend does not resume after an error)."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    before = virsh("dumpxml", "--inactive", guest.uuid)
    _start(session, guest, vmtui_home, editor, tmpdir)
    _press_edit(session, said)  # the reason, in a notification on the screen that came back
    _wait_screen(session, "Snapshots")
    assert virsh("dumpxml", "--inactive", guest.uuid) == before
    assert list(tmpdir.iterdir()) == []  # the XML went with the failed edit
    _tmux("send-keys", "-t", session, "q")
    _session_ends(session)


SLOW_EDITOR = """import pathlib, sys, time
pathlib.Path(sys.argv[1]).write_text(sys.argv[2])
time.sleep(120)
"""


def _vmtui_pid(session: str) -> int:
    """The vmtui process of the pane (the pane runs it through a shell, which may or may not exec it)."""
    pending = [int(_tmux("display-message", "-p", "-t", session, "#{pane_pid}"))]
    while pending:
        pid = pending.pop()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if any(arg.endswith(b"/vmtui") for arg in argv[:2]):
            return pid
        for task in Path(f"/proc/{pid}/task").iterdir():
            pending.extend(int(c) for c in (task / "children").read_text().split())
    raise AssertionError("no vmtui process in the pane")


def _ended(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("kill", ["hangup", "sigterm"])
def test_killed_while_editing_leaves_no_xml(
    guest: DiskGuest, session: str, tmp_path: Path, vmtui_home: Path, kill: str
) -> None:
    """The editor's terminal closed (tmux kills the pane: SIGHUP) or vmtui killed while the editor runs:
    the domain's XML (and whatever the editor wrote beside it) is removed before vmtui ends."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    script, started = tmp_path / "editor.py", tmp_path / "started"
    script.write_text(SLOW_EDITOR)
    _start(session, guest, vmtui_home, f"{sys.executable} {script} {started}", tmpdir)
    pid = _vmtui_pid(session)
    for _attempt in range(6):
        _tmux("send-keys", "-t", session, "e")
        deadline = time.monotonic() + 10
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if started.exists():
            break
    edited = Path(started.read_text())
    assert f"<uuid>{guest.uuid}</uuid>" in edited.read_text()  # the editor has the domain's XML
    (edited.parent / f".{edited.name}.swp").write_text("an editor's copy")  # as vim makes one beside it
    if kill == "hangup":
        _tmux("kill-session", "-t", session)
    else:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while not _ended(pid):
        assert time.monotonic() < deadline, "vmtui did not end"
        time.sleep(0.1)
    assert list(tmpdir.iterdir()) == []
