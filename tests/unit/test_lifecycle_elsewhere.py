"""One UUID, one running copy: start and resume ask the other hosts first (RELIABILITY row 31).

libvirt's test driver plays the hosts: `test:///default` (a private host per connection whose domain
`test` runs) and a node file holding a copy of `test` with the same UUID, shut off (the source of a
`migrate --temporary`, whose definition stays). The lab test (tests/lab/test_split_brain.py) does
the same over SSH with a real temporary migration.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_vmtui

from vmtui.drivers import connect
from vmtui.drivers.base import Hypervisor
from vmtui.drivers.libvirt.driver import Connection
from vmtui.errors import ConnectError, DeniedError, OperationError
from vmtui.models import Accelerator, DomainInfo, HostEntry
from vmtui.ops.base import Step
from vmtui.ops.lifecycle import peer_hosts, refuse_if_running_elsewhere, run

TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"
"""The UUID of `test` on libvirt's built-in test host (`virsh -c test:///default domuuid test`)."""
RUNS_ON_PEER = "copy already runs on peer (same UUID): starting it here would run it twice"


def node_file(tmp_path: Path, *, runstate: int) -> str:
    """A test-driver host holding `copy`, with the UUID of test:///default's `test`, in `runstate`."""
    path = tmp_path / f"node-{runstate}.xml"
    path.write_text(
        "<node><domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
        f"<name>copy</name><uuid>{TEST_UUID}</uuid><memory>131072</memory><vcpu>1</vcpu>"
        f"<os><type>hvm</type></os><test:runstate>{runstate}</test:runstate></domain></node>"
    )
    return f"test://{path}"


@pytest.fixture
def here(tmp_path: Path) -> Iterator[Connection]:
    """The source of a temporary migration: the definition stays, shut off (runstate 5)."""
    with connect(node_file(tmp_path, runstate=5)) as conn:
        yield conn


PEER = HostEntry("peer", "test:///default", read_only=True)


def test_start_is_refused_while_the_uuid_runs_on_a_peer_and_nothing_starts(here: Connection) -> None:
    with pytest.raises(OperationError) as raised:
        run(here, "copy", "start", peers=[PEER])
    assert raised.value.message == RUNS_ON_PEER
    assert here.domain("copy").state == "shut-off"


def test_resume_of_a_paused_copy_is_refused_too(tmp_path: Path) -> None:
    with connect(node_file(tmp_path, runstate=3)) as paused_here:  # 3: paused
        with pytest.raises(OperationError) as raised:
            run(paused_here, "copy", "resume", peers=[PEER])
        assert raised.value.message == RUNS_ON_PEER.replace("starting", "resuming")
        assert paused_here.domain("copy").state == "paused"


def test_a_peer_where_it_is_shut_off_or_absent_does_not_stop_the_start(here: Connection, tmp_path: Path) -> None:
    also_off = HostEntry("off", node_file(tmp_path / "..", runstate=5), read_only=True)
    empty = tmp_path / "empty.xml"
    empty.write_text("<node/>")
    absent = HostEntry("absent", f"test://{empty}", read_only=True)
    steps: list[Step] = []
    assert run(here, "copy", "start", peers=[also_off, absent], progress=steps.append).state == "running"
    assert [s.text for s in steps] == ["starting… copy"]


def test_an_unreachable_peer_is_said_and_does_not_stop_the_start(here: Connection) -> None:
    def refuse(entry: HostEntry) -> Hypervisor:
        raise ConnectError(f"cannot connect to {entry.uri}: Connection refused")

    steps: list[Step] = []
    dead = HostEntry("dead", "qemu+ssh://nobody@192.0.2.1/system")
    assert run(here, "copy", "start", peers=[dead], connector=refuse, progress=steps.append).state == "running"
    assert steps[0].text == (
        "dead could not be checked for a running copy of copy: cannot connect to qemu+ssh://nobody@192.0.2.1/system:"
        " Connection refused"
    )
    assert steps[0].data["type"] == "warning"


def test_a_peer_that_never_answers_holds_the_start_for_the_timeout_only(here: Connection) -> None:
    release = threading.Event()

    def hang(_entry: HostEntry) -> Hypervisor:
        release.wait(30)
        raise ConnectError("released")

    from vmtui.ops import lifecycle

    steps: list[Step] = []
    began = time.monotonic()
    try:
        info = here.domain("copy")
        lifecycle.refuse_if_running_elsewhere(
            info, here.uri, [HostEntry("silent", "qemu+ssh://x/system"), PEER], hang, progress=steps.append, timeout=0.5
        )
    finally:
        release.set()
    took = time.monotonic() - began
    assert 0.5 <= took < 2.0
    assert [s.text for s in steps] == [
        "silent could not be checked for a running copy of copy: no answer within 0.5 s",
        "peer could not be checked for a running copy of copy: no answer within 0.5 s",
    ]


def save_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str) -> None:
    """A VMTUI_HOME of the test's own with `toml` as its hosts.toml."""
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "hosts.toml").write_text(toml)
    monkeypatch.setenv("VMTUI_HOME", str(home))


def test_peers_are_the_watched_and_saved_hosts_but_this_one_each_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_hosts(
        tmp_path,
        monkeypatch,
        '[hosts.lab1]\nuri = "qemu+ssh://a/system"\n[hosts.lab2]\nuri = "qemu+ssh://b/system"\n'
        '[hosts.again]\nuri = "qemu+ssh://c/system"\n',
    )
    here = HostEntry("lab2", "qemu+ssh://b/system")
    watched = [HostEntry("qemu+ssh://c/system", "qemu+ssh://c/system"), here]
    assert peer_hosts(here, watched) == [
        HostEntry("qemu+ssh://c/system", "qemu+ssh://c/system", read_only=True),
        HostEntry("lab1", "qemu+ssh://a/system", read_only=True),
    ]


@pytest.mark.cli
def test_the_cli_refuses_the_start_naming_the_saved_host_where_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_hosts(tmp_path, monkeypatch, '[hosts.peer]\nuri = "test:///default"\n')
    source = node_file(tmp_path, runstate=5)
    proc = run_vmtui("start", "copy", "-c", source)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == (f"vmtui: error: {RUNS_ON_PEER} (stop it on peer first, or migrate it back)\n")
    proc = run_vmtui("start", "copy", "-c", source, "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["message"] == RUNS_ON_PEER


@pytest.mark.cli
def test_the_cli_starts_beside_a_saved_host_it_cannot_ask_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_hosts(tmp_path, monkeypatch, '[hosts.gone]\nuri = "qemu+tcp://127.0.0.1:1/system"\n')
    proc = run_vmtui("start", "copy", "-c", node_file(tmp_path, runstate=5), "--json")
    assert proc.returncode == 0, proc.stdout
    body = json.loads(proc.stdout)
    assert body["domain"]["state"] == "running"
    assert [u["host"] for u in body["unchecked"]] == ["gone"]
    assert "127.0.0.1:1" in body["unchecked"][0]["reason"]
    proc = run_vmtui("start", "copy", "-c", node_file(tmp_path, runstate=5))
    assert proc.returncode == 0
    assert proc.stderr.startswith("vmtui: warning: gone could not be checked for a running copy of copy: ")


COPY = DomainInfo(TEST_UUID, "copy", None, "shut-off", Accelerator.OTHER, 1, 131072, 131072, True)
"""The shut-off copy of test:///default's `test` (same UUID) that a start would run a second time."""


def test_an_alias_of_this_very_host_is_not_another_host(tmp_path: Path) -> None:
    # The peer entry names this host's own URI under another name (a hosts file may): opened again, it
    # holds `copy` paused, i.e. active, but it is this very copy, not a twin. The resume goes ahead.
    with connect(node_file(tmp_path, runstate=3)) as paused_here:  # `copy`, paused
        alias = HostEntry("alias", paused_here.uri, read_only=True)
        assert run(paused_here, "copy", "resume", peers=[alias]).state == "running"


def test_a_copy_running_on_two_peers_names_both_and_says_what_to_do() -> None:
    peers = [HostEntry("kvm2", "test:///default"), HostEntry("kvm3", "test:///default")]
    with pytest.raises(OperationError) as raised:
        refuse_if_running_elsewhere(COPY, "qemu:///system", peers, lambda e: connect(e.uri, read_only=True))
    assert raised.value.message == (
        "copy already runs on kvm2 and kvm3 (same UUID): starting it here would run it twice"
    )
    assert raised.value.hint == "stop it on kvm2 and kvm3 first, or migrate it back"


def test_a_peer_that_fails_oddly_is_reported_unchecked_with_its_data(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_entry: HostEntry) -> Hypervisor:
        raise RuntimeError("surprise")

    steps: list[Step] = []
    with caplog.at_level(logging.ERROR, logger="vmtui.ops"):
        refuse_if_running_elsewhere(COPY, "qemu:///system", [HostEntry("kvm2", "x")], broken, progress=steps.append)
    assert [(s.text, s.data) for s in steps] == [
        (
            "kvm2 could not be checked for a running copy of copy: internal error: RuntimeError",
            {"type": "warning", "host": "kvm2", "reason": "internal error: RuntimeError"},
        )
    ]
    assert [r.getMessage() for r in caplog.records] == ["running-elsewhere check on kvm2 failed"]


def test_a_silent_peer_is_given_up_on_at_the_timeout_and_never_holds_the_exit() -> None:
    release = threading.Event()

    def hang(_entry: HostEntry) -> Hypervisor:
        release.wait(30)
        raise ConnectError("released")

    steps: list[Step] = []
    began = time.monotonic()
    try:
        refuse_if_running_elsewhere(
            COPY, "qemu:///system", [HostEntry("silent", "x")], hang, progress=steps.append, timeout=0.1
        )
        took = time.monotonic() - began
        # Its thread is left behind as a daemon, named for the host: vmtui's exit does not wait for it.
        asking = [t.daemon for t in threading.enumerate() if t.name == "peer check silent"]
    finally:
        release.set()
    assert took < 0.8  # 0.1 s asked; a wait of a whole second would be a bug (loaded machine: margin)
    assert asking == [True]
    assert [s.text for s in steps] == ["silent could not be checked for a running copy of copy: no answer within 0.1 s"]


def test_peers_are_opened_read_only() -> None:
    # Only asked, never changed: a write on the connection a peer check opens is refused.
    from vmtui.ops.lifecycle import open_peer

    with open_peer(HostEntry("peer", "test:///default")) as peer, pytest.raises(DeniedError):
        peer.require_writable("destroy")
