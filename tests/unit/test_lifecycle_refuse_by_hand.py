"""The lifecycle refusals as the user reads them: a migration holding the domain, its state, a copy that
runs on another host (with every host named), an alias of this host, and a host that could not be asked.

libvirt's test driver plays the hosts (`test:///default` is a private host per connection, whose
domain `test` runs); a migration in flight is a job only `tests/recorded_migrator.py` can record (the
test driver has no jobs). Every expected text is written out by hand.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

import pytest
from recorded_migrator import UUID, RecordedHost

from vmtui.drivers import connect
from vmtui.drivers.base import Hypervisor
from vmtui.errors import OperationError
from vmtui.models import Accelerator, DomainInfo, HostEntry, JobStats
from vmtui.ops.lifecycle import BY_KEY, peer_hosts, refuse, run

WEB = DomainInfo(UUID, "web", 3, "running", Accelerator.KVM, 1, 1048576, 1048576, True)


def _migrating_host() -> Hypervisor:
    return cast(Hypervisor, RecordedHost(job=JobStats("unbounded", "migration-out")))


@pytest.fixture(autouse=True)
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No saved hosts and no in-flight notes but the test's own."""
    monkeypatch.setenv("VMTUI_HOME", str(tmp_path / "home"))
    return tmp_path


def test_a_migration_in_flight_refuses_a_pause_in_the_actions_word_and_the_domains_name() -> None:
    with pytest.raises(OperationError) as raised:
        refuse(_migrating_host(), BY_KEY["suspend"], WEB)
    assert raised.value.message == "pause web: migrating to another host: wait or abort it"


def test_a_force_off_is_never_held_by_a_migration() -> None:
    # A force-off kills QEMU, which ends the job: the way out of a migration that hangs. Allowed when running.
    refuse(_migrating_host(), BY_KEY["destroy"], WEB)


def test_without_a_migration_the_state_decides_in_the_actions_words() -> None:
    idle = cast(Hypervisor, RecordedHost())
    refuse(idle, BY_KEY["suspend"], WEB)
    with pytest.raises(OperationError) as raised:
        refuse(idle, BY_KEY["resume"], WEB)
    assert raised.value.message == "resume web: it is running (resume needs paused)"


def test_a_transient_domain_that_is_forced_off_comes_back_shut_off_without_an_id() -> None:
    with connect("test:///default") as host:
        xml = "<domain type='test'><name>passing</name><memory>65536</memory><os><type>hvm</type></os></domain>"
        host._conn.createXML(xml, 0)  # running, never defined: gone once it stops
        after = run(host, "passing", "destroy")
    assert (after.name, after.state, after.id) == ("passing", "shut-off", None)


def test_a_hosts_file_that_cannot_be_read_leaves_the_watched_hosts(
    own_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = own_home / "home" / "config"
    config.mkdir(parents=True)
    (config / "hosts.toml").write_text("[hosts.lab1\n")  # not TOML
    here = HostEntry("kvm1", "qemu+ssh://a/system")
    # Same name, other URI (the entry renamed its host) and same URI, other name: both are this host.
    watched = [HostEntry("kvm1", "qemu+ssh://old/system"), HostEntry("a", "qemu+ssh://a/system"),
               HostEntry("kvm2", "qemu+ssh://b/system")]  # fmt: skip
    with caplog.at_level(logging.INFO, logger="vmtui.ops"):
        assert peer_hosts(here, watched) == [HostEntry("kvm2", "qemu+ssh://b/system", read_only=True)]
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith("saved hosts not read for the running-elsewhere check: ")
    assert "hosts.toml" in message
