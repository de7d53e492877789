"""The one picker of a command that acts on one host (`vmtui.cli.targets.one_host`): SR-IOV, KSM, the policies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_vmtui

from vmtui.cli.targets import one_host
from vmtui.errors import UsageError
from vmtui.models import HostEntry

A = HostEntry("kvm1", "qemu+ssh://root@kvm1/system")
B = HostEntry("kvm2", "qemu+ssh://root@kvm2/system")


def test_one_selected_host_is_the_one() -> None:
    assert one_host([A], "SR-IOV") is A


def test_two_are_refused_naming_both() -> None:
    with pytest.raises(UsageError) as caught:
        one_host([A, B], "SR-IOV")
    assert str(caught.value) == "SR-IOV acts on one host; 2 are selected (kvm1, kvm2) (pick one with --host or -c)"


def test_none_is_refused() -> None:
    with pytest.raises(UsageError) as caught:
        one_host([], "the KSM policy")
    assert caught.value.message == "the KSM policy acts on one host; 0 are selected"


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["sriov"], "SR-IOV"),
        (["ksm", "tune", "--pages-to-scan", "200"], "KSM tuning"),
        (["ksm", "policy"], "the KSM policy"),
        (["balloon", "policy"], "the balloon policy"),
    ],
)
def test_commands_refuse_two_hosts_before_any_connection(argv: list[str], what: str, tmp_path: Path) -> None:
    # Two hosts nobody listens on: the refusal comes before anything is contacted.
    proc = run_vmtui(*argv, "-c", "qemu+tcp://127.0.0.1:9/system", "-c", "qemu+tcp://127.0.0.2:9/system", "--json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    error = json.loads(proc.stdout)["error"]
    assert error["kind"] == "usage"
    assert error["message"].startswith(f"{what} acts on one host; 2 are selected (")
