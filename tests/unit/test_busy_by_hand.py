"""A write on a domain that a migration holds is refused at once, saying where the guest goes (busy.py).

The host's job is what `tests/recorded_migrator.py` records (libvirt's test driver has no jobs: its
`jobStats` is "not supported", which is the other case, a job that cannot be read). The expected
texts are written out by hand from the job and the in-flight note each test sets up.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from recorded_migrator import UUID, RecordedHost, as_migrator

from vmtui.drivers import connect
from vmtui.errors import OperationError
from vmtui.models import DomainPresence, JobStats
from vmtui.ops.busy import refuse_if_migrating
from vmtui.ops.migrate import history as migrate_history

OUT = JobStats("unbounded", "migration-out")
ABORT_HINT = "`vmtui migrate abort web` stops the migration; it keeps running here"


@pytest.fixture(autouse=True)
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """In-flight notes of this test only (per test: mutmut must see each test call the rule)."""
    monkeypatch.setenv("VMTUI_HOME", str(tmp_path))
    return tmp_path


def _refusal(job: JobStats, *, name: str | None = "web", action: str = "pause") -> OperationError:
    with pytest.raises(OperationError) as raised:
        refuse_if_migrating(as_migrator(RecordedHost(job=job)), UUID, action, name=name)
    return raised.value


def test_an_outgoing_migration_noted_by_vmtui_names_its_target() -> None:
    migrate_history.start({"uuid": UUID, "domain": "web", "target": "kvm2"})
    error = _refusal(OUT)
    assert (error.message, error.hint) == ("pause web: migrating to kvm2: wait or abort it", ABORT_HINT)


def test_a_note_found_by_the_domain_name_alone_names_its_target_too() -> None:
    # Another vmtui noted it under the name (its UUID field differs): the name matches, so kvm3 is said.
    migrate_history.start({"uuid": "other-uuid", "domain": "web", "target": "kvm3"})
    assert _refusal(OUT).message == "pause web: migrating to kvm3: wait or abort it"


def test_a_note_found_by_the_uuid_alone_names_its_target_too() -> None:
    # Noted under the name it had then (renamed since): the UUID matches, so kvm4 is said.
    migrate_history.start({"uuid": UUID, "domain": "old-name", "target": "kvm4"})
    assert _refusal(OUT).message == "pause web: migrating to kvm4: wait or abort it"


def test_without_a_note_of_this_domain_the_target_is_another_host() -> None:
    # A note of another domain, and one of this domain without a target name: neither says where.
    migrate_history.start({"uuid": "other-uuid", "domain": "db", "target": "kvm2"})
    assert _refusal(OUT).message == "pause web: migrating to another host: wait or abort it"
    migrate_history.start({"uuid": UUID, "domain": "web", "target": None})
    assert _refusal(OUT).message == "pause web: migrating to another host: wait or abort it"


def test_an_incoming_migration_is_arriving_here() -> None:
    error = _refusal(JobStats("unbounded", "migration-in"), action="set memory of")
    assert error.message == "set memory of web: arriving here from another host: wait or abort it"
    assert error.hint == (
        "`vmtui migrate abort web` stops the migration; the write can be made on the host it leaves, "
        "or here once it has arrived"
    )


def test_without_a_name_the_uuid_is_shown() -> None:
    error = _refusal(OUT, name=None)
    assert error.message == f"pause {UUID}: migrating to another host: wait or abort it"
    assert error.hint == f"`vmtui migrate abort {UUID}` stops the migration; it keeps running here"


@pytest.mark.parametrize(
    "job",
    [
        JobStats("none"),  # no job at all
        JobStats("unbounded", "backup"),  # a job, not a migration: the write itself will say
        JobStats("completed", "migration-out"),  # a migration that is over holds nothing
    ],
)
def test_no_migration_in_flight_lets_the_write_through(job: JobStats) -> None:
    refuse_if_migrating(as_migrator(RecordedHost(job=job)), UUID, "pause", name="web")


def test_a_host_without_jobs_or_whose_job_cannot_be_read_lets_the_write_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refuse_if_migrating(object(), UUID, "pause", name="web")  # a recording: no job_stats at all
    with connect("test:///default") as conn, caplog.at_level(logging.DEBUG, logger="vmtui.ops"):
        refuse_if_migrating(conn, "test", "pause", name="test")  # jobStats "not supported by the connection driver"
    # The log file says why the check was passed over: which domain, before what, and libvirt's words.
    (message,) = [r.getMessage() for r in caplog.records if r.name == "vmtui.ops"]
    assert message.startswith("job of test before pause: job stats on test:///default: ")
    assert message.endswith("not supported by the connection driver: virDomainGetJobStats")


# The target's side: libvirt there answers no job question about the incoming half, but its job holds
# the lock all the same. The domain's state (paused, for the migration) is what says so.
NO_JOB_HERE = "migration statistics are available only on the source host"


def _on_target(there: DomainPresence, *, named: tuple[str, bool] | None = (UUID, True)) -> None:
    host = RecordedHost(job_refusal=NO_JOB_HERE, named=named, there=there)
    refuse_if_migrating(as_migrator(host), "web", "set memory of")


def test_the_incoming_half_paused_for_the_migration_is_refused_on_the_target() -> None:
    with pytest.raises(OperationError) as raised:
        _on_target(DomainPresence(UUID, True, state="paused", reason="migration"))
    assert raised.value.message == "set memory of web: arriving here from another host: wait or abort it"
    assert raised.value.hint == (
        "`vmtui migrate abort web` stops the migration; the write can be made on the host it leaves, "
        "or here once it has arrived"
    )


@pytest.mark.parametrize(
    "there",
    [
        DomainPresence(UUID, True, state="paused", reason="user"),  # paused by a user: the write may go
        DomainPresence(UUID, True, state="running", reason="migration"),  # arrived and running
        DomainPresence(UUID, False, state="paused", reason="migration"),  # not here at all
    ],
    ids=["paused-by-a-user", "running", "absent"],
)
def test_a_domain_whose_job_cannot_be_read_passes_unless_it_is_the_incoming_half(there: DomainPresence) -> None:
    _on_target(there)  # no refusal: the write itself says what is wrong, if anything


class _JobRefusedNoState:
    """A host that refuses the job question and can say nothing of a domain's state (as a recording)."""

    def job_stats(self, ident: str) -> JobStats:
        raise OperationError(NO_JOB_HERE)


def test_a_host_that_can_tell_no_state_lets_the_write_through() -> None:
    refuse_if_migrating(_JobRefusedNoState(), "web", "pause", name="web")


def test_a_domain_whose_state_cannot_be_read_either_lets_the_write_through(caplog: pytest.LogCaptureFixture) -> None:
    # libvirt's test driver: no domain "nosuch" there, so both the job and the state questions fail;
    # the write itself then says "not found". The log says why the state was not known.
    with connect("test:///default") as conn, caplog.at_level(logging.DEBUG, logger="vmtui.ops"):
        refuse_if_migrating(conn, "nosuch", "pause", name="nosuch")
    messages = [r.getMessage() for r in caplog.records if r.name == "vmtui.ops"]
    assert len(messages) == 2
    assert messages[0].startswith("job of nosuch before pause: ")
    assert messages[1].startswith("state of nosuch: ")
    assert messages[1].startswith("state of nosuch: look up domain on test:///default")
