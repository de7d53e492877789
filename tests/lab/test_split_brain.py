"""One UUID never runs on two hosts through vmtui (RELIABILITY row 31), over SSH, checked with virsh.

`migrate --temporary` leaves the definition on the source (shut off) while the guest runs on the
target: a `start` on the source would run the same UUID, and the same disks, twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fixtures_lab import LabHandle

pytestmark = [pytest.mark.lab, pytest.mark.timeout(240)]


@pytest.fixture
def guest_on_lab2(lab: LabHandle) -> Iterator[str]:
    """An idle BIOS guest defined and running on lab2; removed from both hosts at the end."""
    with lab.idle_guest("lab2", "split-test") as name:
        yield name


def _state(lab: LabHandle, host: str, name: str) -> str:
    out = lab.virsh(host, "domstate", name)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_a_start_on_the_source_of_a_temporary_migration_is_refused(lab: LabHandle, guest_on_lab2: str) -> None:
    name = guest_on_lab2
    proc = lab.vmtui("migrate", name, "lab1", "--temporary", "--json")
    assert proc.returncode == 0, proc.stdout[-500:] + proc.stderr
    assert _state(lab, "lab1", name) == "running"
    assert _state(lab, "lab2", name) == "shut off"  # the definition stays on the source

    proc = lab.vmtui("start", name, "-H", "lab2")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr == (
        f"vmtui: error: {name} already runs on lab1 (same UUID): starting it here would run it twice"
        " (stop it on lab1 first, or migrate it back)\n"
    )
    proc = lab.vmtui("start", name, "-H", "lab2", "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["kind"] == "failed"
    # Nothing started: virsh, independently, on both hosts.
    assert _state(lab, "lab2", name) == "shut off"
    assert _state(lab, "lab1", name) == "running"

    # Once the copy on lab1 is gone (a transient domain vanishes when forced off), the start goes ahead.
    assert lab.virsh("lab1", "destroy", name).returncode == 0
    proc = lab.vmtui("start", name, "-H", "lab2", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["unchecked"] == []
    assert _state(lab, "lab2", name) == "running"
