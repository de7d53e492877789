"""The saved-hosts file, message by message as the CLI prints them, and how it is written."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vmtui.config import ConfigError, HostStore, validate_host_name
from vmtui.errors import NotFoundError, UsageError, VmtuiError
from vmtui.models import HostEntry


def _said(exc: pytest.ExceptionInfo[VmtuiError]) -> tuple[str, str | None]:
    return exc.value.message, exc.value.hint


def test_names_uris_and_missing_hosts_are_refused_with_a_hint(tmp_path: Path) -> None:
    store = HostStore(tmp_path / "hosts.toml")
    with pytest.raises(UsageError) as bad:
        validate_host_name("a b")
    hint = "use letters, digits, '.', '_' or '-', starting with a letter or digit"
    assert _said(bad) == ("invalid host name 'a b'", hint)
    assert validate_host_name("kvm-1.lab_2") == "kvm-1.lab_2"
    store.add(HostEntry("a", "qemu+ssh://a/system"))
    with pytest.raises(UsageError) as twice:
        store.add(HostEntry("a", "qemu+ssh://other/system"))
    assert _said(twice) == ("a host named 'a' is already saved", "remove it first")
    with pytest.raises(UsageError) as same_uri:
        store.add(HostEntry("b", "qemu+ssh://a/system"))
    assert _said(same_uri) == ("qemu+ssh://a/system is already saved as 'a'", "one name per host")
    for action in (store.get, store.remove):
        with pytest.raises(NotFoundError) as missing:
            action("zz")
        assert _said(missing) == ("no saved host named 'zz'", "see `vmtui hosts`")


def test_replace_overwrites_one_host_and_keeps_the_others(tmp_path: Path) -> None:
    store = HostStore(tmp_path / "hosts.toml")
    store.add(HostEntry("a", "qemu+ssh://a/system"))
    store.add(HostEntry("b", "qemu+ssh://b/system"))
    store.add(HostEntry("a", "qemu+ssh://a2/system", read_only=True), replace=True)
    assert store.load() == [HostEntry("b", "qemu+ssh://b/system"), HostEntry("a", "qemu+ssh://a2/system", True)]
    # Replacing a host by itself (same URI) is not "already saved as".
    store.add(HostEntry("b", "qemu+ssh://b/system", read_only=True), replace=True)
    assert store.get("b").read_only is True
    assert store.remove("b") == HostEntry("b", "qemu+ssh://b/system", True)
    assert store.load() == [HostEntry("a", "qemu+ssh://a2/system", True)]


def test_the_file_is_made_with_its_directories_and_written_through_a_temporary_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "new" / "config" / "hosts.toml"
    store = HostStore(path)
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def recording_replace(src: str, dst: str) -> None:
        renames.append((src, str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", recording_replace)
    store.add(HostEntry("a", "qemu:///system"))
    ((src, dst),) = renames
    # A rename within one directory is atomic; across file systems it would not even work.
    assert Path(src).parent == path.parent
    assert Path(src).name.startswith(".hosts.")
    assert Path(src).name.endswith(".toml")  # a leftover after a crash says what it is
    assert dst == str(path)
    assert sorted(os.listdir(path.parent)) == [".hosts.toml.lock", "hosts.toml"]  # the lock stays, empty
    assert path.read_text() == '[hosts.a]\nuri = "qemu:///system"\nread_only = false\n'


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = HostStore(tmp_path / "hosts.toml")
    store.add(HostEntry("a", "qemu:///system"))
    before = store.path.read_bytes()

    def full_disk(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        store.add(HostEntry("b", "test:///default"))
    assert store.path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [".hosts.toml.lock", "hosts.toml"]


def _add_and_remove(path: Path, who: str, count: int) -> None:
    """Add hosts `who`-0..count-1, then remove the odd ones: what one writer does."""
    store = HostStore(path)
    for i in range(count):
        store.add(HostEntry(f"{who}-{i}", f"qemu+ssh://{who}-{i}/system"))
    for i in range(1, count, 2):
        store.remove(f"{who}-{i}")


def _expected(writers: list[str], count: int) -> list[str]:
    return sorted(f"{w}-{i}" for w in writers for i in range(0, count, 2))


def test_concurrent_writers_in_threads_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "hosts.toml"
    writers = [f"t{n}" for n in range(12)]
    with ThreadPoolExecutor(max_workers=len(writers)) as pool:
        list(pool.map(lambda w: _add_and_remove(path, w, 12), writers))
    assert sorted(e.name for e in HostStore(path).load()) == _expected(writers, 12)


def test_concurrent_writers_in_processes_and_threads_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "hosts.toml"
    script = (
        "import sys; from concurrent.futures import ThreadPoolExecutor; "
        "from test_config_store import _add_and_remove; from pathlib import Path; "
        "ws = sys.argv[2:]; "
        "list(ThreadPoolExecutor(len(ws)).map(lambda w: _add_and_remove(Path(sys.argv[1]), w, 10), ws))"
    )
    groups = [[f"p{p}t{t}" for t in range(3)] for p in range(5)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), *g], env=env) for g in groups]
    assert [p.wait(timeout=120) for p in procs] == [0] * len(procs)
    assert sorted(e.name for e in HostStore(path).load()) == _expected([w for g in groups for w in g], 10)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # No line to point at: the file alone is named.
        ("hosts = 5\n", ": 'hosts' must be a table of [hosts.NAME] tables"),
        ("[hosts]\na = 5\n", ': hosts.a: must be a table with uri = "..."'),
        ('[hosts]\na = {uri = 5}\n', ": hosts.a.uri: must be a string, not 5"),
        # The key is not on a line of its own (a dotted table): the host's header line is named.
        ('[hosts.a]\nuri.x = 1\n\n[hosts.b]\nuri = "test:///default"\n',
         ":1: hosts.a.uri: must be a string, not {'x': 1}"),
        ('[hosts.a]\nuri = "qemu:///system"\nreadonly = true\n',
         ":3: hosts.a.readonly: unknown key (known: uri, read_only, maintenance, colour)"),
        ('[hosts.a]\nuri = "qemu:///system"\nread_only = "no"\n',
         ":3: hosts.a.read_only: must be true or false (without quotes), not 'no'"),
        # How vmtui behaves is config.toml's; a table of another name here is a mistake, at its line.
        ("# mine\n[timeout]\nx = 1\n", ":2: unknown top-level key 'timeout' (known: [hosts.NAME])"),
    ],
)  # fmt: skip
def test_each_mistake_is_named_with_its_line_when_there_is_one(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "hosts.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as raised:
        HostStore(path).load()
    assert raised.value.message == f"{path}{expected}"


def test_what_a_person_writes_by_hand_loads(tmp_path: Path) -> None:
    path = tmp_path / "hosts.toml"
    path.write_text("")
    assert HostStore(path).load() == []
    path.write_text(
        '# mine\n[hosts.a]\nuri = "qemu+ssh://a/system"\n\n[hosts."b.lab"]\nuri = "qemu:///system"\nread_only = true\n'
    )
    # No read_only line: writable, as `vmtui hosts add` without --read-only saves it.
    assert HostStore(path).load() == [
        HostEntry("a", "qemu+ssh://a/system", False),
        HostEntry("b.lab", "qemu:///system", True),
    ]


def test_a_hosts_file_that_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigError) as raised:
        HostStore(tmp_path / "dir.toml").load()
    assert raised.value.message == f"{tmp_path / 'dir.toml'} is a directory, not a hosts file"
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError) as raised:
        HostStore(tmp_path / "file" / "hosts.toml").load()
    assert raised.value.message == f"cannot read {tmp_path / 'file' / 'hosts.toml'}: Not a directory"
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError) as raised:
        HostStore(binary).load()
    assert raised.value.message == f"{binary} is not UTF-8 text (a TOML file is expected)"
