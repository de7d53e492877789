"""`vmtui host drain` refuses bad input in one line, with the README's exit code, before anything changes.

No lab: the refusals come before any host is asked (the unreachable host is a closed local port).
hosts.toml must be byte for byte what it was: no host put in maintenance by a refused drain.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_vmtui

from vmtui.config import HostStore, drain_lock
from vmtui.models import HostEntry

CLOSED = "qemu+tcp://127.0.0.1:1/system"
"""A port nothing listens on: the connection is refused at once."""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VMTUI_HOME", str(tmp_path))
    store = HostStore()
    store.add(HostEntry("h1", CLOSED))
    store.add(HostEntry("h2", "qemu+tcp://127.0.0.1:2/system"))
    store.add(HostEntry("held", "qemu+tcp://127.0.0.1:3/system", maintenance=True))
    return tmp_path


def _refused(home: Path, *args: str) -> tuple[int, dict[str, object]]:
    before = (home / "config" / "hosts.toml").read_bytes()
    proc = run_vmtui("host", "drain", *args, "--json", env_extra={"VMTUI_HOME": str(home)})
    assert (home / "config" / "hosts.toml").read_bytes() == before  # nothing changed, no maintenance
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    error = json.loads(lines[0])["error"]
    assert "\n" not in error["message"]
    return proc.returncode, error


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("nosuch",), 3, "no saved host named 'nosuch'"),
        ((CLOSED,), 2, "only a saved host can be drained"),
        (("h1", "--to", "h1"), 2, "--to h1: that is the host being drained"),
        (("h1", "--parallel", "0"), 2, "--parallel 0: must be 1 to 16"),
        (("h1", "--to", "held"), 2, "--to held: held is in maintenance"),
        (("h1", "--to", "nosuch"), 3, "no saved host named 'nosuch'"),
        (("h1",), 4, "127.0.0.1:1"),  # the drained host does not answer: nothing planned, nothing moved
    ],
)
def test_bad_input_is_one_line_with_its_exit_code(home: Path, args: tuple[str, ...], code: int, words: str) -> None:
    rc, error = _refused(home, *args)
    assert rc == code, error
    assert words in str(error["message"]), error


def test_a_host_already_draining_is_refused(home: Path) -> None:
    with drain_lock("h1"):  # what a drain running in another process holds
        rc, error = _refused(home, "h1", "--to", "h2")
        assert rc == 2
        assert str(error["message"]).startswith("h1 is already being drained (vmtui pid ")
        proc = run_vmtui("host", "undrain", "h1", env_extra={"VMTUI_HOME": str(home)})
        assert proc.returncode == 2, proc.stderr
    # Once that drain is over, the lock is free again.
    proc = run_vmtui("host", "undrain", "held", "--json", env_extra={"VMTUI_HOME": str(home)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout) == {"undrained": {"host": "held", "was_in_maintenance": True}}
    assert not HostStore().get("held").maintenance


def test_hosts_json_and_table_say_maintenance(home: Path) -> None:
    listed = {h["name"]: h for h in json.loads(run_vmtui("hosts", "--json").stdout)}
    assert {name: h["maintenance"] for name, h in listed.items()} == {"h1": False, "h2": False, "held": True}
    table = run_vmtui("hosts").stdout
    assert [line for line in table.splitlines() if "maintenance" in line and "held" in line]
    assert not [line for line in table.splitlines() if "maintenance" in line and "h1" in line]
