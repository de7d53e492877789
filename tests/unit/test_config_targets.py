"""Where vmtui's files go (`paths`), and which hosts a command talks to (`resolve_targets`, as virsh decides)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmtui.config import ConfigError, HostStore, paths, resolve_targets
from vmtui.drivers.replay import replay_uri
from vmtui.errors import NotFoundError, UsageError
from vmtui.models import HostEntry

RECORDING = Path(__file__).parent.parent / "fixtures" / "qemu-kvm-tcg-3guests.jsonl"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A VMTUI_HOME of this test alone."""
    home = tmp_path / "home"
    monkeypatch.setenv("VMTUI_HOME", str(home))
    return home


def test_vmtui_home_moves_every_file_under_it(home: Path) -> None:
    p = paths()
    assert (p.config, p.state, p.cache) == (home / "config", home / "state", home / "cache")
    assert p.hosts_file == home / "config" / "hosts.toml"
    assert p.log_file == home / "state" / "vmtui.log"
    assert HostStore().path == home / "config" / "hosts.toml"


def test_a_relative_vmtui_home_is_taken_from_where_vmtui_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VMTUI_HOME", "rel")
    assert paths().config == tmp_path / "rel" / "config"


def test_a_vmtui_home_that_is_a_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("")
    monkeypatch.setenv("VMTUI_HOME", str(a_file))
    with pytest.raises(ConfigError) as raised:
        paths()
    assert raised.value.message == f"VMTUI_HOME={a_file} is not a directory"
    assert raised.value.hint == "point it at a directory (made if missing)"


def test_without_vmtui_home_the_xdg_directories_are_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VMTUI_HOME", raising=False)
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    p = paths()  # computes paths only: nothing is read or written there
    assert p.config == tmp_path / "xdg_config_home" / "vmtui"
    assert p.state == tmp_path / "xdg_state_home" / "vmtui"
    assert p.cache == tmp_path / "xdg_cache_home" / "vmtui"
    assert not (tmp_path / "xdg_config_home").exists()
    monkeypatch.setenv("VMTUI_HOME", "")  # empty: as if unset
    assert paths().config == tmp_path / "xdg_config_home" / "vmtui"


def _save(*entries: HostEntry) -> None:
    store = HostStore()
    for e in entries:
        store.add(e)


def test_with_nothing_saved_libvirts_default_uri_is_used(home: Path) -> None:
    assert resolve_targets(None, None) == [HostEntry("default", "", read_only=False)]
    assert resolve_targets([], [], read_only=True) == [HostEntry("default", "", read_only=True)]


def test_with_no_choice_every_saved_host_keeps_its_own_read_only(home: Path) -> None:
    _save(HostEntry("a", "qemu+ssh://a/system"), HostEntry("ro", "qemu+ssh://ro/system", read_only=True))
    assert resolve_targets(None, None) == [
        HostEntry("a", "qemu+ssh://a/system", False),
        HostEntry("ro", "qemu+ssh://ro/system", True),
    ]
    # --read-only makes every host read-only; it never makes a saved read-only host writable.
    assert [t.read_only for t in resolve_targets(None, None, read_only=True)] == [True, True]


def test_uris_and_saved_names_as_given(home: Path) -> None:
    _save(HostEntry("a", "qemu+ssh://a/system"), HostEntry("ro", "qemu+ssh://ro/system", read_only=True))
    assert resolve_targets(["test:///default"], ["ro"]) == [
        HostEntry("test:///default", "test:///default", False),
        HostEntry("ro", "qemu+ssh://ro/system", True),
    ]
    assert resolve_targets(None, ["a"], read_only=True) == [HostEntry("a", "qemu+ssh://a/system", True)]
    assert resolve_targets(["test:///default"], None, read_only=True) == [
        HostEntry("test:///default", "test:///default", True)
    ]
    with pytest.raises(NotFoundError, match="no saved host named 'nope'"):
        resolve_targets(None, ["nope"])


def test_the_same_host_twice_is_refused(home: Path) -> None:
    _save(HostEntry("a", "qemu+ssh://a/system"))
    with pytest.raises(UsageError) as raised:
        resolve_targets(None, ["a", "a"])
    assert raised.value.message == "the same host is named twice"
    with pytest.raises(UsageError, match="named twice"):
        resolve_targets(["test:///default", "test:///default"], None)


def test_a_replay_is_the_recordings_hosts_read_only_and_alone(home: Path) -> None:
    assert resolve_targets(None, None, replay=RECORDING) == [
        HostEntry("qemu:///system", replay_uri(RECORDING, "qemu:///system"), read_only=True)
    ]
    for connect, hosts in ((["test:///default"], None), (None, ["a"])):
        with pytest.raises(UsageError) as raised:
            resolve_targets(connect, hosts, replay=RECORDING)
        assert raised.value.message == "--replay reads a recording; it cannot be combined with -c or --host"
