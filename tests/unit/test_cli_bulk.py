"""`--filter`, `--parallel` and `--yes` on the lifecycle commands and autostart: the checks made before any host
is contacted, in every position, and the bulk run over libvirt's test driver (real libvirt code, a simulated host).

The real guests (lab, TUI) are in tests/lab/test_bulk.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_vmtui

from vmtui.cli.bulk import one_or_filter, question
from vmtui.errors import UsageError
from vmtui.models import Accelerator, DomainInfo, HostEntry
from vmtui.ops import bulk

TEST_URI = "test:///default"
"""Holds one running domain, `test`; every connection (each vmtui process) starts from that state."""


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("VMTUI_HOME", str(home))
    return home


@pytest.mark.parametrize(
    ("domain", "filter_expr", "parallel", "said"),
    [
        ("web1", "web", None, "give a DOMAIN or --filter, not both"),
        (None, None, None, "missing DOMAIN (or --filter EXPR for every matching domain)"),
        (None, "  ", None, "--filter is empty; to act on every domain, say so: --filter ."),
        ("web1", None, 2, "--parallel works with --filter (one DOMAIN is one action)"),
        (None, "web", 0, "--parallel: 0 is not from 1 to 64"),
        (None, "web", -1, "--parallel: -1 is not from 1 to 64"),
        (None, "web", 65, "--parallel: 65 is not from 1 to 64"),
    ],
)
def test_option_checks_refuse_in_one_line(
    domain: str | None, filter_expr: str | None, parallel: int | None, said: str
) -> None:
    with pytest.raises(UsageError) as caught:
        one_or_filter(domain, filter_expr, parallel)
    assert caught.value.message == said


@pytest.mark.parametrize(
    ("domain", "filter_expr", "parallel", "at_once"),
    [("web1", None, None, 4), (None, "web", None, 4), (None, "web", 1, 1), (None, "web", 64, 64)],
)
def test_option_checks_pass_the_parallel_to_use(
    domain: str | None, filter_expr: str | None, parallel: int | None, at_once: int
) -> None:
    assert one_or_filter(domain, filter_expr, parallel) == at_once


def _info(name: str) -> DomainInfo:
    return DomainInfo(f"u-{name}", name, 1, "running", Accelerator.KVM, 1, 131072, 131072, True)


def test_the_question_lists_every_name_by_host_literally() -> None:
    chosen = [
        (HostEntry("lab1", "qemu+ssh://a/system"), _info("web[b]1")),
        (HostEntry("lab1", "qemu+ssh://a/system"), _info("web2")),
        (HostEntry("lab2", "qemu+ssh://b/system"), _info("db1")),
    ]
    assert question("Pause", chosen) == "Pause 3 domains: lab1: web[b]1, web2; lab2: db1?"


def test_the_question_names_twenty_and_counts_the_rest() -> None:
    chosen = [(HostEntry("lab1", "qemu+ssh://a/system"), _info(f"g{i:02}")) for i in range(23)]
    text = question("Force off", chosen)
    assert text.startswith("Force off 23 domains: lab1: g00, g01,")
    assert text.endswith("g19 and 3 more?")
    assert "g20" not in text


@pytest.mark.parametrize(
    "argv",
    [
        ["-c", TEST_URI, "suspend", "--filter", "^test$", "--yes", "--json", "--parallel", "2"],
        ["suspend", "-f", "^test$", "-c", TEST_URI, "--json"],
        ["--json", "-c", TEST_URI, "suspend", "--parallel", "1", "--filter", "state:running"],
        ["-c", TEST_URI, "--json", "suspend", "--yes", "-f", "host:test:///default ^t"],
    ],
)
def test_filter_acts_whichever_position_each_option_is_given(own_home: Path, argv: list[str]) -> None:
    proc = run_vmtui(*argv)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines == [
        {
            "action": "suspend",
            "host": TEST_URI,
            "name": "test",
            "uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f",
            "result": "done",
            "state": "paused",
        }
    ]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["suspend", "-c", TEST_URI, "--filter", "x", "--parallel", "0"], "--parallel: 0 is not from 1 to 64"),
        (["-c", TEST_URI, "suspend", "--parallel", "0", "-f", "x", "--yes"], "--parallel: 0 is not from 1 to 64"),
        (["-c", TEST_URI, "destroy", "test", "--filter", "t"], "give a DOMAIN or --filter, not both"),
        (["-c", TEST_URI, "resume", "--yes"], "missing DOMAIN (or --filter EXPR for every matching domain)"),
        (["-c", TEST_URI, "start", "-f", "("], "--filter: '(' is not a valid regex"),
        (["-c", TEST_URI, "save", "-f", "state:nonsense"], "--filter: no domain is ever 'nonsense'"),
        (["-c", TEST_URI, "autostart", "-f", "t"], "missing on|off"),
        (["-c", TEST_URI, "autostart", "-f", "t", "maybe"], "'maybe' is neither on nor off"),
        (["-c", TEST_URI, "autostart", "test", "on", "--parallel", "3"], "--parallel works with --filter"),
    ],
)
def test_bad_options_are_refused_before_any_change(own_home: Path, argv: list[str], said: str) -> None:
    proc = run_vmtui(*argv, "--json")
    assert proc.returncode == 2, proc.stderr
    assert json.loads(proc.stdout)["error"]["message"].startswith(said)


def test_a_filter_matching_nothing_is_one_line(own_home: Path) -> None:
    proc = run_vmtui("-c", TEST_URI, "shutdown", "--filter", "nosuchguest", "--yes")
    assert proc.returncode == 3
    assert proc.stderr == "vmtui: error: --filter 'nosuchguest' matches no domain on test:///default\n"
    assert proc.stdout == ""


def test_read_only_refuses_a_filtered_action_before_the_question(own_home: Path) -> None:
    proc = run_vmtui("--read-only", "-c", TEST_URI, "destroy", "-f", ".", "--json")
    assert proc.returncode == 5
    assert json.loads(proc.stdout)["error"]["message"] == "destroy: connection test:///default is read-only"


def test_a_refusal_is_a_result_and_the_exit_says_none_was_done(own_home: Path) -> None:
    """`test` runs: resume refuses it (before any change); one domain, none done: exit 1 with its reason."""
    proc = run_vmtui("-c", TEST_URI, "resume", "-f", "test")
    assert proc.returncode == 1
    assert proc.stderr == "vmtui: error: resume: 1 refused\n"
    header, row = proc.stdout.splitlines()
    assert header.split() == ["HOST", "NAME", "RESULT", "STATE", "DETAIL"]
    assert row.strip().split(None, 4) == [
        "test:///default",
        "test",
        "refused",
        "running",
        "resume test: it is running (resume needs paused)",
    ]


def test_verdicts_all_some_none() -> None:
    def outcomes(*results: str) -> bulk.BulkResult:
        return bulk.BulkResult("suspend", tuple(bulk.Outcome("h", f"u{i}", f"g{i}", r) for i, r in enumerate(results)))

    assert outcomes("done", "done").verdict == "all"
    assert outcomes("done", "refused").verdict == "some"
    assert outcomes("failed", "not-started").verdict == "none"
    assert outcomes("done", "refused", "refused").summary() == "suspend: 1 done, 2 refused"
