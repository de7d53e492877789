"""The TUI's refusal rules (`vmtui.tui.refusals`): each rule, its order and its exact words, written by hand."""

from __future__ import annotations

import pytest

from vmtui.ops.lifecycle import BY_KEY
from vmtui.tui import refusals
from vmtui.tui.fleet import Fleet


def _write(**kw: object) -> str | None:
    facts: dict[str, object] = {"recorded": False, "read_only": False, "status": "connected", "silent_s": None}
    facts.update(kw)
    return refusals.write_refusal("kvm1", **facts)  # type: ignore[arg-type]


def test_a_connected_fresh_writable_host_takes_writes() -> None:
    assert _write() is None


@pytest.mark.parametrize(
    ("facts", "said"),
    [
        ({"recorded": True, "read_only": True}, "a replay has no live host"),
        ({"read_only": True, "status": "disconnected"}, "kvm1 is connected read-only"),
        ({"status": "disconnected", "silent_s": 9.0}, "kvm1 is disconnected"),
        ({"status": "connecting"}, "kvm1 is connecting"),
        ({"silent_s": 12.4}, "kvm1 has not answered for 12 s"),
    ],
)
def test_write_refusal_says_the_first_rule_that_holds(facts: dict[str, object], said: str) -> None:
    assert _write(**facts) == said


def test_busy_names_what_runs() -> None:
    assert refusals.busy_refusal("pausing…") == "pausing… still running"
    assert refusals.busy_refusal(None) is None


def test_an_operation_needs_a_writable_host_then_an_idle_domain() -> None:
    assert refusals.operation_refusal(write="kvm1 is disconnected", pending="ballooning…") == "kvm1 is disconnected"
    assert refusals.operation_refusal(write=None, pending="ballooning…") == "ballooning… still running"
    assert refusals.operation_refusal(write=None, pending=None) is None


def test_a_lifecycle_action_checks_host_then_job_then_state() -> None:
    pause = BY_KEY["suspend"]

    def said(write: str | None, pending: str | None, state: str = "shut-off") -> str | None:
        return refusals.action_refusal(pause, write=write, pending=pending, state=state, persistent=True)

    assert said("kvm1 is connecting", "starting…") == "kvm1 is connecting"
    assert said(None, "starting…") == "starting… still running"
    assert said(None, None) == "it is shut-off (pause needs running or blocked)"
    assert said(None, None, "running") is None
    save = BY_KEY["save"]
    assert refusals.action_refusal(save, write=None, pending=None, state="running", persistent=False) == (
        "it is transient (save needs a defined domain)"
    )


def test_tool_refusal_a_replay_first_then_writes_then_the_running_state() -> None:
    kw: dict[str, object] = {"write": None, "pending": None, "twins": None, "state": "running", "running": False}
    assert refusals.tool_refusal(recorded=True, writes=False, **kw) == "a replay has no live host"  # type: ignore[arg-type]
    assert refusals.tool_refusal(recorded=False, writes=True, **kw) is None  # type: ignore[arg-type]
    busy = {**kw, "pending": "deleting snapshot…"}
    assert refusals.tool_refusal(recorded=False, writes=True, **busy) == "deleting snapshot… still running"  # type: ignore[arg-type]
    # Reading XML neither writes nor waits for the job in flight.
    assert refusals.tool_refusal(recorded=False, writes=False, **busy) is None  # type: ignore[arg-type]
    twins = {**kw, "twins": ("kvm1", "kvm2")}
    assert refusals.tool_refusal(recorded=False, writes=True, **twins) == (  # type: ignore[arg-type]
        "it runs on kvm1 and kvm2 at once (the same UUID): stop one copy first (its row, x or d)"
    )
    off = {**kw, "state": "shut-off", "running": True}
    assert refusals.tool_refusal(recorded=False, writes=True, **off) == "it is shut-off"  # type: ignore[arg-type]
    assert refusals.tool_refusal(recorded=False, writes=True, **{**off, "state": "paused"}) is None  # type: ignore[arg-type]


def test_migrate_refusal_in_its_order() -> None:
    kw: dict[str, object] = {"write": None, "pending": None, "twins": None, "state": "running", "has_target": True}
    assert refusals.migrate_refusal(**kw) is None  # type: ignore[arg-type]
    assert refusals.migrate_refusal(**{**kw, "write": "kvm1 is connected read-only", "pending": "x"}) == (  # type: ignore[arg-type]
        "kvm1 is connected read-only"
    )
    assert refusals.migrate_refusal(**{**kw, "pending": "migrating…"}) == "migrating… still running"  # type: ignore[arg-type]
    assert refusals.migrate_refusal(**{**kw, "state": "shut-off", "has_target": False}) == (  # type: ignore[arg-type]
        "it is shut-off (live migration needs it running or paused)"
    )
    assert refusals.migrate_refusal(**{**kw, "state": "blocked"}) is None  # type: ignore[arg-type]
    assert refusals.migrate_refusal(**{**kw, "has_target": False}) == (  # type: ignore[arg-type]
        "no other connected, writable host to move it to"
    )


def test_the_fleet_writes_its_busy_state_only_through_its_methods() -> None:
    fleet = Fleet([("kvm1", False), ("kvm2", False)])
    fleet.begin("u1", "pausing…")
    assert (fleet.pending("u1"), fleet.busy_refusal("u1")) == ("pausing…", "pausing… still running")
    fleet.end("u1")
    assert (fleet.pending("u1"), fleet.busy_refusal("u1")) == (None, None)
    fleet.migration_began("u2", "kvm1", None, "migrating…")
    fleet.incoming_on("kvm2", "u2")
    assert (fleet.pending("u2"), fleet.incoming_host("u2")) == ("migrating…", "kvm2")
    fleet.migration_ended("u2")
    assert (fleet.pending("u2"), fleet.incoming_host("u2")) == (None, None)
    # A lost host is said once per change, not once per retry.
    assert fleet.disconnected("kvm1", "end of file", 100.0, 101.0) is True
    assert fleet.disconnected("kvm1", "end of file", 100.0, 103.0) is False
    assert (fleet.host("kvm1").status, fleet.host("kvm1").retry_at) == ("disconnected", 103.0)
    assert fleet.write_refusal(fleet.host("kvm1")) == "kvm1 is disconnected"
    with pytest.raises(KeyError):
        fleet.host("kvm3")  # a lookup never adds a host
    assert set(fleet.hosts) == {"kvm1", "kvm2"}
