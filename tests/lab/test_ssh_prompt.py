"""RELIABILITY #4: ssh that would ask for a passphrase must fail fast, never prompt on the terminal vmtui owns.

A key with a passphrase is authorized on lab2; vmtui runs in tmux (a real terminal, where ssh could prompt).
With vmtui's `no_tty=1` the command ends at once with one line and a hint; with the user's own `no_tty=0`
ssh does prompt (the contrast shows the guard is what keeps the terminal clean).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from fixtures_lab import VMTUI, LabHandle

pytestmark = [pytest.mark.lab, pytest.mark.timeout(180)]


def _screen(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def _wait(session: str, text: str, within: float = 30) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        screen = _screen(session)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared:\n{_screen(session)}")


def test_a_key_with_a_passphrase_fails_fast_instead_of_prompting(lab: LabHandle, tmp_path: Path) -> None:
    assert shutil.which("tmux"), "needs tmux"
    host = lab.host("lab2")
    key = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(key)], check=True)
    authorized = lab.root / "ssh" / "authorized_keys"
    original = authorized.read_text()
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host {host.address}\n  User root\n  IdentityFile {key}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {lab.known_hosts}\n  StrictHostKeyChecking yes\n"
    )  # no BatchMode: only vmtui's no_tty stands between ssh and the terminal
    wrapper = tmp_path / "ssh-wrap"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {shlex.quote(str(config))} "$@"\n')
    wrapper.chmod(0o755)
    uri = f"qemu+ssh://root@{host.address}/system?command={quote(str(wrapper), safe='/')}"
    session = f"vmtui-prompt-{uuid.uuid4().hex[:6]}"
    env = f"env -u COLUMNS -u LINES VMTUI_HOME={lab.home} SSH_AUTH_SOCK= "
    try:
        authorized.write_text(original + " ".join(key.with_suffix(".pub").read_text().split()[:2]) + "\n")
        command = f"{env}{VMTUI} list -c '{uri}'; echo EXIT=$?"
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "20", command + "; sleep 60"],
                       check=True)  # fmt: skip
        screen = _wait(session, "EXIT=")
        assert "Enter passphrase" not in screen  # ssh never prompted
        assert "vmtui: error:" in screen
        assert "EXIT=4" in screen or "EXIT=5" in screen
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
        # The contrast: the user's own no_tty=0 lets ssh ask, on this terminal.
        asked = f"{env}{VMTUI} list -c '{uri}&no_tty=0'"
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "20", asked], check=True)
        _wait(session, "Enter passphrase")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)
        authorized.write_text(original)
