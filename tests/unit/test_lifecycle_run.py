"""`ops.lifecycle.run`, the one function behind `vmtui suspend|destroy|...` and the TUI's keys.

On libvirt's own test driver (`test:///default`: a private in-memory host per connection, with its
running, persistent domain `test`), so every refusal is proved to change nothing on a real libvirt.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from vmtui.drivers import connect
from vmtui.drivers.libvirt.driver import Connection
from vmtui.drivers.replay import ReplayHost, replay_entries
from vmtui.errors import DeniedError, OperationError
from vmtui.ops.base import Step, UserCancelledError
from vmtui.ops.lifecycle import has_saved_state, run


@pytest.fixture
def host() -> Iterator[Connection]:
    with connect("test:///default") as conn:
        yield conn


def test_an_allowed_action_reports_what_it_does_and_returns_the_new_state(host: Connection) -> None:
    steps: list[Step] = []
    after = run(host, "test", "suspend", progress=steps.append)
    assert after.state == "paused"
    assert after.name == "test"
    assert [s.text for s in steps] == ["pausing… test"]
    assert run(host, after.uuid, "resume", progress=steps.append).state == "running"
    assert [s.text for s in steps] == ["pausing… test", "resuming… test"]
    assert host.domain("test").state == "running"


def test_a_state_that_does_not_allow_it_is_refused_in_the_rules_words_and_nothing_changes(host: Connection) -> None:
    steps: list[Step] = []
    with pytest.raises(OperationError) as raised:
        run(host, "test", "resume", progress=steps.append)
    assert raised.value.message == "resume test: it is running (resume needs paused)"
    assert steps == []
    assert host.domain("test").state == "running"
    with pytest.raises(OperationError) as raised:
        run(host, "test", "start")
    assert raised.value.message == "start test: it is running (start needs shut-off or crashed)"


def test_a_read_only_host_is_refused_before_any_call() -> None:
    with connect("test:///default", read_only=True) as ro:
        with pytest.raises(DeniedError) as raised:
            run(ro, "test", "destroy")
        assert raised.value.message == "destroy: connection test:///default is read-only"
        assert ro.domain("test").state == "running"


def test_a_cancel_before_the_call_changes_nothing(host: Connection) -> None:
    cancel = threading.Event()
    cancel.set()
    steps: list[Step] = []
    with pytest.raises(UserCancelledError) as raised:
        run(host, "test", "destroy", progress=steps.append, cancel=cancel)
    assert raised.value.message == "force off test: cancelled"
    assert steps == []
    assert host.domain("test").state == "running"
    # Not set: the action runs.
    assert run(host, "test", "destroy", cancel=threading.Event()).state == "shut-off"


def test_start_says_it_restores_a_saved_guest_and_only_then(host: Connection) -> None:
    steps: list[Step] = []
    assert not has_saved_state(host, "test")
    run(host, "test", "save", progress=steps.append)
    assert host.domain("test").state == "shut-off"
    assert has_saved_state(host, "test")
    run(host, "test", "start", progress=steps.append)
    assert [s.text for s in steps] == ["saving… test", "restoring test from its saved state"]
    assert not has_saved_state(host, "test")
    # A plain start (no saved image) says `starting…`.
    run(host, "test", "destroy")
    run(host, "test", "start", progress=steps.append)
    assert steps[-1].text == "starting… test"


def test_a_recording_has_no_saved_state() -> None:
    (entry,) = replay_entries(Path(__file__).parent.parent / "fixtures" / "qemu-kvm-tcg-3guests.jsonl")
    rec = ReplayHost(entry.uri)
    name = rec.list_domains()[0].name
    assert has_saved_state(rec, name) is False


def test_a_transient_domain_is_refused_a_managed_save_before_any_call(host: Connection) -> None:
    xml = "<domain type='test'><name>passing</name><memory>65536</memory><os><type>hvm</type></os></domain>"
    host._conn.createXML(xml, 0)  # running, never defined
    with pytest.raises(OperationError) as raised:
        run(host, "passing", "save")
    assert raised.value.message == "save passing: it is transient (save needs a defined domain)"
    assert host.domain("passing").state == "running"
