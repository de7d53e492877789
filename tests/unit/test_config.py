"""hosts.toml is validated: a typo never changes what vmtui does, and every error names file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_vmtui

from vmtui.config import ConfigError, HostStore, paths
from vmtui.errors import UsageError
from vmtui.models import HostEntry


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A VMTUI_HOME of this test alone: the session's stays clean for the others."""
    home = tmp_path / "home"
    monkeypatch.setenv("VMTUI_HOME", str(home))
    return home


BAD_FILES = [
    # (file body, the error's file:line and text)
    ('[hosts.a]\nuri = "qemu:///system"\nreadonly = true\n', ":3: hosts.a.readonly: unknown key"),
    ('[hosts.a]\nuri = "qemu:///system"\nread_only = "false"\n', ":3: hosts.a.read_only: must be true or false"),
    ('[hosts.a]\nuri = "qemu:///system"\nread_only = 1\n', ":3: hosts.a.read_only: must be true or false"),
    ('[hosts."bad name"]\nuri = "qemu:///system"\n', ":1: hosts.'bad name': invalid host name"),
    (
        '[hosts.a]\nuri = "qemu:///system"\n\n[hosts.b]\nuri = "qemu:///system"\n',
        ":5: hosts.b.uri: the same URI as host 'a'",
    ),
    ('[hosts.a]\nuri = "not a uri"\n', ":2: hosts.a.uri: URI 'not a uri' contains ' '"),
    ("[hosts.a]\nread_only = true\n", ':1: hosts.a: uri = "..." is missing'),
    ("[hosts.a]\nuri = 5\n", ":2: hosts.a.uri: must be a string"),
    ('timeout = 3\n[hosts.a]\nuri = "qemu:///system"\n', ":1: unknown top-level key 'timeout'"),
    ("[hosts.a\n", ": not valid TOML"),
]


@pytest.mark.parametrize(("body", "expected"), BAD_FILES)
def test_a_wrong_hosts_file_is_refused_naming_where(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "hosts.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as raised:
        HostStore(path).load()
    assert str(raised.value).startswith(f"{path}{expected}")
    assert raised.value.exit_code == 2


@pytest.mark.cli
def test_the_cli_says_it_in_one_line_with_exit_2_and_changes_nothing(own_home: Path) -> None:
    hosts = paths().hosts_file
    hosts.parent.mkdir(parents=True, exist_ok=True)
    body = '[hosts.lab]\nuri = "test:///default"\nreadonly = true\n'
    hosts.write_text(body)
    for args in (("list",), ("hosts", "add", "x", "test:///default"), ("hosts", "rm", "lab"), ("suspend", "test")):
        proc = run_vmtui(*args)
        assert proc.returncode == 2, args
        known = "uri, read_only, maintenance, colour"
        assert proc.stderr == f"vmtui: error: {hosts}:3: hosts.lab.readonly: unknown key (known: {known})\n"
        assert hosts.read_text() == body


@pytest.mark.cli
def test_a_binary_hosts_file_and_a_home_that_is_a_file(own_home: Path, tmp_path: Path) -> None:
    hosts = paths().hosts_file
    hosts.parent.mkdir(parents=True, exist_ok=True)
    hosts.write_bytes(b"\xff\xfe\x00\x01")
    proc = run_vmtui("list")
    assert (proc.returncode, proc.stderr) == (2, f"vmtui: error: {hosts} is not UTF-8 text (a TOML file is expected)\n")
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("")
    proc = run_vmtui("list", env_extra={"VMTUI_HOME": str(a_file)})
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"vmtui: error: VMTUI_HOME={a_file} is not a directory")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("uri", ["not a uri", "qemu:///system\nx", 'qemu:///sys"tem', "", "qemu+ssh://h:0x/system"])
def test_hosts_add_refuses_what_libvirt_could_never_open(tmp_path: Path, uri: str) -> None:
    store = HostStore(tmp_path / "hosts.toml")
    with pytest.raises(UsageError):
        store.add(HostEntry("a", uri))
    assert not store.path.exists()


def test_one_uri_is_saved_under_one_name(tmp_path: Path) -> None:
    store = HostStore(tmp_path / "hosts.toml")
    store.add(HostEntry("a", "qemu:///system"))
    before = store.path.read_text()
    with pytest.raises(UsageError, match="already saved as 'a'"):
        store.add(HostEntry("b", "qemu:///system"))
    assert store.path.read_text() == before


def test_a_saved_read_only_host_stays_read_only(tmp_path: Path) -> None:
    store = HostStore(tmp_path / "hosts.toml")
    store.add(HostEntry("ro", "qemu:///system", read_only=True))
    assert store.load() == [HostEntry("ro", "qemu:///system", read_only=True)]
