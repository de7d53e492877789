"""One UUID running on two watched hosts (RELIABILITY #31): what the dashboard marks and refuses.

The hosts' domains are what their pollers would hand the fleet (XML facts, no samples yet); the marks
and the refusal are what the table and a refused key show, written out by hand.
"""

from __future__ import annotations

from dataclasses import replace

from vmtui.models import Accelerator, DomainInfo
from vmtui.split_brain import running_uuids
from vmtui.tui.fleet import Fleet

UUID = "6f1e0c7a-0000-4000-8000-000000000001"
WEB = DomainInfo(UUID, "web", 3, "running", Accelerator.KVM, 1, 1048576, 1048576, True)


def _fleet(**states: str | None) -> Fleet:
    """Hosts kvm1..kvmN in that order, each holding `web` in the state given (None: not there)."""
    fleet = Fleet([(host, False) for host in states])
    for host, state in states.items():
        fleet.host(host).domains = {UUID: replace(WEB, state=state)} if state else {}
    return fleet


def _state(fleet: Fleet, host: str) -> str:
    (row,) = fleet.rows(host)
    return row.state


def test_running_on_two_of_three_hosts_is_marked_on_both_rows_and_refused_naming_both() -> None:
    fleet = _fleet(kvm1="running", kvm2="shut-off", kvm3="running")
    assert fleet.split_brain() == {UUID: ("kvm1", "kvm3")}
    assert _state(fleet, "kvm1") == "running (also on kvm3)"
    assert _state(fleet, "kvm3") == "running (also on kvm1)"
    assert _state(fleet, "kvm2") == "shut-off"  # a definition left behind is no twin
    assert fleet.split_refusal(UUID) == (
        "it runs on kvm1 and kvm3 at once (the same UUID): stop one copy first (its row, x or d)"
    )


def test_a_twin_found_on_the_first_two_hosts_stays_one_after_a_host_without_it() -> None:
    fleet = _fleet(kvm1="running", kvm2="running", kvm3=None)
    assert fleet.split_brain() == {UUID: ("kvm1", "kvm2")}
    assert _state(fleet, "kvm1") == "running (also on kvm2)"


def test_on_three_hosts_each_row_names_the_two_others() -> None:
    fleet = _fleet(kvm1="running", kvm2="blocked", kvm3="running")  # blocked: its vCPUs wait, they still run
    assert fleet.split_brain() == {UUID: ("kvm1", "kvm2", "kvm3")}
    assert _state(fleet, "kvm2") == "blocked (also on kvm1, kvm3)"
    assert fleet.split_refusal(UUID) == (
        "it runs on kvm1 and kvm2 and kvm3 at once (the same UUID): stop one copy first (its row, x or d)"
    )


def test_a_paused_copy_beside_a_running_one_is_a_migration_not_a_twin() -> None:
    # A migration's target stays paused until the source stops (post-copy: the other way round).
    fleet = _fleet(kvm1="running", kvm2="paused")
    assert fleet.split_brain() == {}
    assert fleet.split_refusal(UUID) is None
    assert (_state(fleet, "kvm1"), _state(fleet, "kvm2")) == ("running", "paused")


def test_running_on_one_host_only_is_no_twin() -> None:
    fleet = _fleet(kvm1="running", kvm2=None)
    assert fleet.split_brain() == {}
    assert fleet.split_refusal(UUID) is None
    assert _state(fleet, "kvm1") == "running"


def test_a_sample_says_the_state_before_the_xml_facts() -> None:
    # The XML facts were read when it ran; the newer sample says paused: not running any more. A domain
    # without a sample yet is judged by its facts.
    other = "6f1e0c7a-0000-4000-8000-000000000002"
    facts = {UUID: WEB, other: replace(WEB, uuid=other)}
    assert running_uuids({UUID: replace(WEB, state="paused")}, facts) == frozenset({other})
    assert running_uuids({UUID: replace(WEB, state="blocked")}, {}) == frozenset({UUID})
    assert running_uuids({}, {UUID: replace(WEB, state="shut-off")}) == frozenset()
