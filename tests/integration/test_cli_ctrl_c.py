"""Ctrl-C during a change on the real local libvirtd: the operation is cancelled cleanly (`vmtui.cli.runner`).

`vmtui start` asks every saved host whether the domain already runs there before it starts it. A saved
host that accepts the connection and never answers keeps that check busy for its timeout: the moment
to press Ctrl-C. The command must then stop before the start (the domain stays shut off), say that it
stops, and end as cancelled: exit 130 and, with --json, `{"error": {"kind": "cancelled", ...}}`.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LOCAL_URI, VMTUI
from pty_run import ctrl_c_and_finish, run_as_foreground_job

from vmtui.config import HostStore
from vmtui.drivers.libvirt.driver import Connection
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.models import HostEntry


@pytest.fixture
def shut_off_guest(local_conn: Connection) -> Iterator[str]:
    """A defined, never started TCG guest; undefined at the end whatever happened."""
    name = f"vmtui-test-{secrets.token_hex(3)}-ctrlc"
    local_conn._conn.defineXML(build_guest_xml(GuestSpec(name, domain_type="qemu", nic_model=None, role="test")))
    try:
        yield name
    finally:
        local_conn.destroy_and_undefine(name)


class SilentHost:
    """A TCP port that accepts libvirt's connection and never says a word; counts the connections."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.held.append(conn)
            self.accepted.set()

    def close(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def home_with_silent_host(tmp_path: Path) -> Iterator[tuple[Path, SilentHost]]:
    silent = SilentHost()
    home = tmp_path / "home"
    HostStore(home / "config" / "hosts.toml").add(
        HostEntry("silent", f"qemu+tcp://127.0.0.1:{silent.port}/system", True)
    )
    try:
        yield home, silent
    finally:
        silent.close()


def _state(name: str) -> str:
    out = subprocess.run(["virsh", "-c", LOCAL_URI, "domstate", name], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_ctrl_c_during_start_cancels_it_cleanly(
    shut_off_guest: str, home_with_silent_host: tuple[Path, SilentHost]
) -> None:
    home, silent = home_with_silent_host
    env = {**os.environ, "VMTUI_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("LIBVIRT_DEFAULT_URI", None)
    assert HostStore(home / "config" / "hosts.toml").load()[0].name == "silent"  # where vmtui reads it
    proc = run_as_foreground_job([VMTUI, "start", shut_off_guest, "-c", LOCAL_URI, "--json"], env=env)
    try:
        assert silent.accepted.wait(30), "vmtui never asked the saved host"
        time.sleep(0.3)  # inside the running-elsewhere check, well before its 5 s timeout
    finally:
        out, err = ctrl_c_and_finish(proc)
    assert proc.returncode == 130, (out, err)
    assert "vmtui: stopping after the current step" in err
    body = json.loads(out)
    assert body["error"]["kind"] == "cancelled"
    assert body["error"]["message"] == f"start {shut_off_guest}: cancelled"
    assert _state(shut_off_guest) == "shut off"  # stopped before the start, not after it


@pytest.fixture
def two_shut_off_guests(local_conn: Connection) -> Iterator[tuple[str, str, str]]:
    """Two defined, never started TCG guests sharing a prefix; undefined at the end whatever happened."""
    prefix = f"vmtui-test-{secrets.token_hex(3)}-bulkc"
    names = (f"{prefix}-1", f"{prefix}-2")
    try:
        for name in names:
            local_conn._conn.defineXML(
                build_guest_xml(GuestSpec(name, domain_type="qemu", nic_model=None, role="test"))
            )
        yield prefix, *names
    finally:
        for name in names:
            local_conn.destroy_and_undefine(name)


def test_ctrl_c_during_a_bulk_start_starts_nothing_more_and_names_what_never_started(
    two_shut_off_guests: tuple[str, str, str], home_with_silent_host: tuple[Path, SilentHost]
) -> None:
    """One at a time (--parallel 1): Ctrl-C while the first start asks the silent host; neither starts."""
    prefix, first, second = two_shut_off_guests
    home, silent = home_with_silent_host
    env = {**os.environ, "VMTUI_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("LIBVIRT_DEFAULT_URI", None)
    argv = [VMTUI, "start", "--filter", prefix, "--yes", "--parallel", "1", "-c", LOCAL_URI, "--json"]
    proc = run_as_foreground_job(argv, env=env)
    try:
        assert silent.accepted.wait(30), "vmtui never asked the saved host"
        time.sleep(0.3)  # inside the first start's running-elsewhere check
    finally:
        out, err = ctrl_c_and_finish(proc)
    assert proc.returncode == 130, (out, err)
    assert "vmtui: stopping after the current step" in err
    *outcomes, error = [json.loads(line) for line in out.splitlines()]
    assert [(o["name"], o["result"], o["reason"]) for o in outcomes] == [
        (first, "not-started", "cancelled before it started"),
        (second, "not-started", "cancelled before it started"),
    ]
    assert error["error"]["kind"] == "cancelled"
    assert error["error"]["message"] == f"start: cancelled; never started: {first}, {second}"
    assert (_state(first), _state(second)) == ("shut off", "shut off")


def test_a_question_after_the_ctrl_c_shield_is_asked_and_answered_at_a_terminal() -> None:
    """`shield` moves the command's worker out of the terminal's foreground (Ctrl-C must not reach the ssh
    of qemu+ssh); a question it asks from there must still reach the user. Reading the terminal from a
    background group stopped the worker (SIGTTIN) and `vmtui host drain` without --yes hung at its
    question. Run as a shell runs a command: the terminal is its controlling terminal."""
    import sys

    from pty_run import run_in_pty

    script = (
        "from vmtui.cli.migrate_terminal import shield\n"
        "from vmtui.cli.common import confirm\n"
        "shield()\n"
        "confirm('Drain kvm1: migrate 2 guests to kvm2?', yes=False, as_json=False)\n"
        "print('answered yes')\n"
    )
    code, out = run_in_pty(
        [sys.executable, "-c", script], [("[y/N]", "y\r")], env=dict(os.environ), timeout=15, controlling=True
    )
    assert code == 0, out
    assert out.replace("\r", "").splitlines()[-1] == "answered yes", out
