"""`vmtui migrate` and `vmtui place` before any migration: refusals, exit codes, the history file.

The real executable; bad input is refused before any host is contacted (the source given here does
not even exist), and an unreachable target is a failed pre-check with exit 4.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run_vmtui

from vmtui.ops.migrate import history as migrate_history

TEST_URI = "test:///default"
NOWHERE = "qemu+tcp://127.0.0.1:1/system"


def _lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "args",
    [
        ["--bandwidth", "0"],
        ["--tunnelled", "--postcopy"],
        ["--tunnelled", "--parallel", "4"],
        ["--max-downtime", "0"],
    ],
)
def test_bad_options_are_refused_before_any_host_is_contacted(args: list[str]) -> None:
    proc = run_vmtui("migrate", "vm", NOWHERE, "-c", NOWHERE, "--json", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["error"]["kind"] == "usage"


def test_unknown_target_host_is_exit_3() -> None:
    proc = run_vmtui("migrate", "test", "no-such-saved-host", "-c", TEST_URI)
    assert proc.returncode == 3
    assert "no saved host named 'no-such-saved-host'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_target_fails_its_precheck_with_exit_4() -> None:
    proc = run_vmtui("migrate", "test", NOWHERE, "-c", TEST_URI, "--json")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    lines = _lines(proc.stdout)
    checks = {str(line["key"]): line for line in lines if line.get("type") == "precheck"}
    assert checks["reachable"]["status"] == "fail"
    assert "127.0.0.1:1" in str(checks["reachable"]["reason"])
    assert {c["status"] for k, c in checks.items() if k != "reachable"} == {"skipped"}
    assert lines[-1]["error"]["kind"] == "unreachable"  # type: ignore[index]


def test_read_only_refuses_a_migration_but_not_a_precheck() -> None:
    proc = run_vmtui("--read-only", "migrate", "test", NOWHERE, "-c", TEST_URI, "--json")
    assert proc.returncode == 2
    assert "read-only" in json.loads(proc.stdout)["error"]["message"]


def test_history_lists_what_was_appended(vmtui_home: Path) -> None:
    path = migrate_history.history_file()
    before = path.read_text() if path.exists() else None
    try:
        migrate_history.append({"domain": "web[1]", "source": "a", "target": "b", "outcome": "completed",
                                "started_at": 1.5e9, "seconds": 2.5, "downtime_ms": 21, "bytes_sent": 1048576,
                                "iterations": 2, "options": {"postcopy": True, "bandwidth_mib_s": 20}})  # fmt: skip
        with path.open("a") as fh:
            fh.write("{torn line\n")  # a crash mid-write must not hide the rest
        body = json.loads(run_vmtui("migrate", "history", "--json", check=True).stdout)
        assert body["file"] == str(path)
        assert body["migrations"][-1]["domain"] == "web[1]"
        human = run_vmtui("migrate", "history", check=True).stdout
        assert "web[1]" in human  # literally: a name is never markup
        assert "21.0 ms" in human
        assert "postcopy" in human
        assert "bandwidth_mib_s=20" in human
    finally:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(before)


@pytest.mark.parametrize(
    "argv",
    [["migrate", "-H", "lab1", "history"], ["-H", "lab1", "migrate", "history"], ["migrate", "history", "-H", "lab1"]],
)
def test_history_with_a_host_lists_that_host_migrations_in_either_direction(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`migrate -H lab1 history` was refused as "-H/--host given before the command" (it came after `migrate`)."""
    monkeypatch.setenv("VMTUI_HOME", str(tmp_path))
    for domain, source, target in (("out", "lab1", "lab2"), ("other", "lab2", "lab3"), ("in", "lab3", "lab1")):
        migrate_history.append({"domain": domain, "source": source, "target": target, "outcome": "completed"})
    body = json.loads(run_vmtui(*argv, "--json", check=True).stdout)
    assert [r["domain"] for r in body["migrations"]] == ["out", "in"]
    human = run_vmtui(*argv, check=True).stdout
    assert "out" in human
    assert "other" not in human
    both = json.loads(run_vmtui("migrate", "history", "-H", "lab2", "-H", "lab3", "--json", check=True).stdout)
    assert [r["domain"] for r in both["migrations"]] == ["out", "other", "in"]


def test_a_global_option_a_command_cannot_use_is_refused_wherever_it_stands() -> None:
    """The message named the option "given before the command" also when it stood after it."""
    for argv in (["migrate", "-c", TEST_URI, "history"], ["migrate", "history", "-c", TEST_URI]):
        proc = run_vmtui(*argv)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == "vmtui: error: -c/--connect has no meaning for `vmtui migrate history`\n"


def test_inflight_notes_and_orphans(vmtui_home: Path) -> None:
    migrate_history.start({"uuid": "u-1", "target": "lab2"})
    try:
        (note,) = migrate_history.inflight("u-1")
        assert note["pid"] == os.getpid()
        assert not migrate_history.orphaned(note)  # we are alive
        assert migrate_history.orphaned({**note, "pid": 2**22 + 12345})  # no such process
    finally:
        migrate_history.end("u-1")
    assert migrate_history.inflight("u-1") == []


def test_a_note_marked_aborted_or_unknown_keeps_what_it_had(vmtui_home: Path) -> None:
    migrate_history.mark_aborted("u-none")  # no note: nothing written, nothing raised
    assert migrate_history.inflight("u-none") == []
    migrate_history.start({"uuid": "u-2", "target": "lab2", "source_uri": "qemu+ssh://kvm1/system"})
    try:
        assert not migrate_history.abort_requested("u-2")
        migrate_history.mark_aborted("u-2")
        assert migrate_history.abort_requested("u-2")
        migrate_history.mark_unknown("u-2", "the end is unknown")
        (note,) = migrate_history.unknown()
        assert (note["uuid"], note["target"], note["source_uri"], note["outcome"], note["pid"]) == (
            "u-2", "lab2", "qemu+ssh://kvm1/system", "unknown", os.getpid(),
        )  # fmt: skip
    finally:
        migrate_history.end("u-2")
    assert migrate_history.unknown() == []


def test_migrate_help_names_the_subcommands() -> None:
    out = run_vmtui("migrate", "--help", check=True).stdout
    for sub in ("start", "history", "jobs", "attach", "abort"):
        assert sub in out
    assert "--precheck-only" in run_vmtui("migrate", "start", "--help", check=True).stdout
