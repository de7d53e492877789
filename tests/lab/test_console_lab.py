"""Consoles on the lab's hosts over qemu+ssh: the Linux guest's serial console through the TUI in a real
terminal (tmux), and a VNC display reached through the SSH tunnel `vmtui display` prints."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures_lab import LabHandle
from guest_disks import guest_xml, virsh

from vmtui.drivers import connect
from vmtui.lab.guests import LINUX_GUEST

pytestmark = [pytest.mark.lab, pytest.mark.timeout(180)]
VMTUI = Path(sys.executable).with_name("vmtui")


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def _screen(session: str) -> str:
    return _tmux("capture-pane", "-p", "-t", session)


def _wait_screen(session: str, text: str, within: float = 30.0) -> str:
    deadline = time.monotonic() + within
    while True:
        screen = _screen(session)
        if text in screen:
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared; last screen:\n{screen}")
        time.sleep(0.2)


def _wait_gone(session: str, text: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while text in (screen := _screen(session)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never went; last screen:\n{screen}")
        time.sleep(0.2)


@pytest.fixture
def tmux_session() -> Iterator[str]:
    if shutil.which("tmux") is None or not VMTUI.exists():
        pytest.skip("needs tmux and the installed vmtui entry point")
    name = f"vmtui-console-{secrets.token_hex(3)}"
    yield name
    # kill-session also ends the vmtui (and any virsh console) inside it.
    subprocess.run(["tmux", "kill-session", "-t", name], check=False, capture_output=True)


def test_serial_console_through_the_tui_and_back(lab: LabHandle, tmux_session: str) -> None:
    uri = lab.uris["lab1"]
    assert LINUX_GUEST in virsh("list", "--name", uri=uri).split(), "the lab's Linux guest must run on lab1"
    command = f"env -u COLUMNS -u LINES VMTUI_HOME={lab.home} {VMTUI} -c '{uri}'"
    _tmux("new-session", "-d", "-s", tmux_session, "-x", "200", "-y", "50", command)
    _tmux("resize-window", "-t", tmux_session, "-x", "200", "-y", "50")
    _wait_screen(tmux_session, LINUX_GUEST)
    _tmux("send-keys", "-t", tmux_session, "-l", f"/{LINUX_GUEST}$")
    _wait_gone(tmux_session, "/ Filter")  # the filter line has the keys (the footer offers / only outside it)
    _tmux("send-keys", "-t", tmux_session, "Enter")
    screen = _wait_screen(tmux_session, "/ Filter")  # the table has them back
    assert LINUX_GUEST in screen

    _tmux("send-keys", "-t", tmux_session, "c")
    _wait_screen(tmux_session, "Escape character is ^]")
    _tmux("send-keys", "-t", tmux_session, "Enter")
    _wait_screen(tmux_session, "/ #")  # the guest's shell on ttyS0
    # The shell works it out: the answer is on the screen only if a shell ran the line.
    _tmux("send-keys", "-t", tmux_session, "-l", "echo vmtui-$((6*7))-console")
    _tmux("send-keys", "-t", tmux_session, "Enter")
    _wait_screen(tmux_session, "vmtui-42-console")

    _tmux("send-keys", "-t", tmux_session, "C-]")
    screen = _wait_screen(tmux_session, "EXITS/s")  # the table, as it was: filter and row still there
    assert LINUX_GUEST in screen
    assert f"{LINUX_GUEST}$" in screen  # the filter line, still there
    assert "vmtui-42-console" not in screen
    _tmux("send-keys", "-t", tmux_session, "q")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_vnc_display_of_a_remote_guest_through_the_printed_tunnel(lab: LabHandle) -> None:
    uri = lab.uris["lab2"]
    name = f"vmtui-test-{secrets.token_hex(3)}-vnc"
    with connect(uri) as conn:
        info = conn.define_and_start(guest_xml(name, None, kvm=False, vnc=True))
        tunnel: subprocess.Popen[bytes] | None = None
        try:
            local = _free_port()
            proc = lab.vmtui("display", name, "-c", uri, "--local-port", str(local), "--json")
            assert proc.returncode == 0, proc.stderr
            (shown,) = json.loads(proc.stdout)["displays"]
            port = 5900 + int(virsh("domdisplay", info.uuid, uri=uri).strip().rsplit(":", 1)[1])
            assert shown["port"] == port
            assert shown["uri"] is None  # it listens on lab2's loopback: not reachable from here directly
            assert shown["tunnel_uri"] == f"vnc://127.0.0.1:{local}"
            argv = shown["tunnel"]
            assert argv[argv.index("-L") + 1] == f"127.0.0.1:{local}:127.0.0.1:{port}"
            tunnel = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
            banner = b""
            deadline = time.monotonic() + 20
            while not banner.startswith(b"RFB ") and time.monotonic() < deadline:
                assert tunnel.poll() is None, tunnel.stderr.read() if tunnel.stderr else b""
                try:
                    with socket.create_connection(("127.0.0.1", local), timeout=5) as viewer:
                        banner = viewer.recv(12)  # empty while ssh is still connecting its end
                except ConnectionRefusedError:
                    time.sleep(0.2)
            assert banner.startswith(b"RFB "), banner  # QEMU's VNC server, through the tunnel
            listening = subprocess.run(["ss", "-Hltn", f"sport = :{local}"], capture_output=True, text=True).stdout
            assert [line.split()[3] for line in listening.splitlines()] == [f"127.0.0.1:{local}"]  # loopback only
        finally:
            if tunnel is not None:
                os.killpg(tunnel.pid, signal.SIGTERM)  # our own ssh, by its process group
                tunnel.wait(timeout=10)
            conn.destroy_and_undefine(info.uuid)
