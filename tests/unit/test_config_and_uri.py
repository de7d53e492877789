"""The hosts file and URI handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmtui.config import HostStore
from vmtui.drivers.hostfiles import LocalFiles
from vmtui.drivers.hostprobe import FACT_PATHS, facts_from, kvm_device_problem
from vmtui.drivers.uri import is_local, is_ssh, with_no_tty
from vmtui.errors import NotFoundError, UsageError
from vmtui.models import HostEntry


def test_hosts_round_trip(tmp_path: Path) -> None:
    store = HostStore(tmp_path / "hosts.toml")
    assert store.load() == []
    store.add(HostEntry("kvm1", "qemu+ssh://root@kvm1/system"))
    store.add(HostEntry("ro", "qemu:///system", read_only=True))
    assert [e.name for e in store.load()] == ["kvm1", "ro"]
    assert store.get("ro").read_only
    with pytest.raises(UsageError, match="already saved"):
        store.add(HostEntry("kvm1", "qemu:///system"))
    store.remove("kvm1")
    assert [e.name for e in store.load()] == ["ro"]
    with pytest.raises(NotFoundError):
        store.remove("kvm1")


@pytest.mark.parametrize("name", ["", "-x", "a b", "a/b", "x" * 80, "é"])
def test_bad_host_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError):
        HostStore(tmp_path / "hosts.toml").add(HostEntry(name, "qemu:///system"))
    assert not (tmp_path / "hosts.toml").exists()


def test_no_tty_added_only_to_ssh_and_never_overrides() -> None:
    assert with_no_tty("qemu:///system") == "qemu:///system"
    out = with_no_tty("qemu+ssh://root@h/system?keyfile=/k/id&command=/bin/w")
    assert out.endswith("no_tty=1")
    assert "keyfile=/k/id" in out
    assert with_no_tty("qemu+ssh://h/system?no_tty=0") == "qemu+ssh://h/system?no_tty=0"
    assert "no_verify" not in out
    assert is_ssh("qemu+libssh2://h/system")
    assert not is_ssh("qemu+tcp://h/system")
    assert is_local("qemu:///system")
    assert not is_local("qemu+ssh://h/system")


def test_tdp_from_sysfs(tmp_path: Path) -> None:
    # The path `Host.facts` takes for a local host: LocalFiles (here rooted at a temporary tree) read by facts_from.
    def tdp(root: Path) -> bool | None:
        return facts_from(LocalFiles(root).read_many(FACT_PATHS)).tdp

    params = tmp_path / "sys" / "module" / "kvm_intel" / "parameters"
    params.mkdir(parents=True)
    (params / "ept").write_text("Y\n")
    assert tdp(tmp_path) is True
    (params / "ept").write_text("N\n")
    assert tdp(tmp_path) is False
    assert tdp(tmp_path / "nothing") is None


def test_kvm_device_problem(tmp_path: Path) -> None:
    assert "does not exist" in (kvm_device_problem(tmp_path / "kvm") or "")
    regular = tmp_path / "file"
    regular.write_text("")
    assert "not a character device" in (kvm_device_problem(regular) or "")
