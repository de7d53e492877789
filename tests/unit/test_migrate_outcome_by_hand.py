"""The end of a migration, decided from where the domain is afterwards (RELIABILITY #23, #30): each case
word for word as `vmtui migrate` prints it, and each fact that flips the outcome from both sides.

The hosts' answers are written down as libvirt gives them (`virsh domstate --reason`: "paused (migrating)"
is reason `migration`, a post-copy target runs with reason `postcopy`); the expected texts are read off
those facts by hand, not rebuilt with the module's helpers.
"""

from __future__ import annotations

from vmtui.errors import OperationError
from vmtui.models import DomainPresence
from vmtui.ops.migrate.job import Facts, JobRun
from vmtui.ops.migrate.outcome import decide, holds_it
from vmtui.ops.migrate.policy import PolicyAction

UUID = "6f1e0c7a-0000-4000-8000-000000000001"
RUNNING = DomainPresence(UUID, True, "running", "unpaused", persistent=True)
ABSENT = DomainPresence(UUID, False)
SHUT_OFF = DomainPresence(UUID, True, "shut-off", "", persistent=True)
"""Defined but not running: a definition left behind, not the guest."""
INCOMING_HALF = DomainPresence(UUID, True, "paused", "migration", persistent=False)
POSTCOPY_TARGET = DomainPresence(UUID, True, "running", "postcopy", persistent=False)
"""The target runs the guest while the source still feeds it its memory: not the whole guest yet."""
POSTCOPY_FAILED = DomainPresence(UUID, True, "paused", "postcopy-failed", persistent=False)
SETTLE = "once kvm1 answers, `vmtui migrate jobs` settles it"
POSTCOPY_HINT = "the link must come back for libvirt to recover it (virsh migrate --postcopy-resume)"


def _decide(source: DomainPresence | None, target: DomainPresence | None, **run: object) -> tuple[str, str, str | None]:
    facts = Facts(source, target, "source gone", "target gone")
    return decide(facts, JobRun(**run), "db1", "kvm1", "kvm2")  # type: ignore[arg-type]


def test_the_source_silent_and_the_target_holding_no_guest_is_unknown_saying_what_the_target_holds() -> None:
    # Absent on the target: nothing moved there that we know of, and the source cannot say: unknown.
    assert _decide(None, ABSENT) == (
        "unknown", "db1: the end is unknown: kvm1 could not be asked (source gone); kvm2: absent", SETTLE,
    )  # fmt: skip
    # Only a shut-off definition there (no reason shown when libvirt gives none): not a completion.
    assert _decide(None, SHUT_OFF) == (
        "unknown", "db1: the end is unknown: kvm1 could not be asked (source gone); kvm2: shut-off", SETTLE,
    )  # fmt: skip


def test_a_post_copy_target_with_the_source_silent_holds_only_part_of_the_guest() -> None:
    # Running, but with reason postcopy: its memory still comes from the silent source.
    assert _decide(None, POSTCOPY_TARGET) == (
        "unknown",
        "db1: the end is unknown: kvm1 could not be asked (source gone); kvm2 holds only the incoming half "
        "(running (postcopy))",
        SETTLE,
    )
    # The other side of the line: running after an incoming migration (reason migrated) is the whole guest.
    arrived = DomainPresence(UUID, True, "running", "migrated", persistent=False)
    assert _decide(None, arrived) == ("completed", "db1 runs on kvm2; kvm1 could not be asked", None)


def test_holds_it_on_each_side() -> None:
    assert holds_it(None) is False  # the target could not be asked
    assert holds_it(SHUT_OFF) is False
    assert holds_it(INCOMING_HALF) is False
    assert holds_it(POSTCOPY_TARGET) is False
    assert holds_it(DomainPresence(UUID, True, "running", "postcopy-failed")) is False
    assert holds_it(DomainPresence(UUID, True, "paused", "user")) is True  # a paused guest arrives paused
    assert holds_it(DomainPresence(UUID, True, "running", "migrated")) is True


def test_it_left_the_source_and_the_target_holds_the_paused_incoming_half_says_that_half() -> None:
    assert _decide(ABSENT, INCOMING_HALF) == (
        "unknown",
        "db1: the end is unknown: it left kvm1, and kvm2 holds only the incoming half (paused (migration))",
        SETTLE,
    )


def test_a_failed_post_copy_on_either_side_is_a_failure_with_the_recovery_hint() -> None:
    failed = (
        "failed",
        "db1: post-copy failed: the guest is paused, its memory split between kvm1 and kvm2",
        POSTCOPY_HINT,
    )
    # Seen on the source only (the target could not be asked), on the target only, and on both.
    assert _decide(POSTCOPY_FAILED, None) == failed
    assert _decide(DomainPresence(UUID, True, "paused", "postcopy"), POSTCOPY_FAILED) == failed
    assert _decide(POSTCOPY_FAILED, POSTCOPY_FAILED) == failed
    # Neither says postcopy-failed: an ordinary failure, the source keeps the guest.
    assert _decide(RUNNING, ABSENT) == ("failed", "migration of db1 failed: it keeps running on kvm1", None)


def test_a_failure_with_the_target_unasked_says_it_could_not_be_checked() -> None:
    assert _decide(RUNNING, None) == (
        "failed", "migration of db1 failed: it keeps running on kvm1; kvm2 could not be checked (target gone)", None,
    )  # fmt: skip


def test_the_stall_policy_abort_is_a_failure_in_its_own_words() -> None:
    abort = PolicyAction("abort", 7, 900 * 1048576, 800 * 1048576, 500, "no progress for 3 passes")
    assert _decide(RUNNING, ABSENT, aborted_by_policy=abort) == (
        "failed", "db1 did not converge: no progress for 3 passes", None,
    )  # fmt: skip


def test_it_left_the_source_and_the_target_cannot_be_asked_is_a_completion_saying_so() -> None:
    said = OperationError("End of file while reading data")
    assert _decide(ABSENT, None, call_error=said) == (
        "completed", "db1 left kvm1; kvm2 could not be asked (target gone) (libvirt: End of file while reading data)",
        None,
    )  # fmt: skip


def test_on_neither_host_is_lost_pointing_at_both_logs() -> None:
    assert _decide(ABSENT, SHUT_OFF) == ("lost", "db1 runs on neither kvm1 nor kvm2", "see both hosts' libvirtd logs")
