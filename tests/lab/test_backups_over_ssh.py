"""Backups of a lab guest over qemu+ssh: lab2's Linux guest, whose qcow2 disk the guest itself writes
all the time. Full, then incremental, listed and restored as a new domain that starts, all over the
URI's SSH; virsh over the same URI and the files on lab2 (read over the same SSH) are the witnesses.
The backups, the restored domain and its disk, and the checkpoints on the lab guest are always removed.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator

import pytest
from fixtures_lab import LabHandle

from vmtui.drivers.hostfiles import ssh_argv

pytestmark = pytest.mark.lab

GUEST = "lab2-linux"


def on_lab2(lab: LabHandle, script: str) -> str:
    proc = subprocess.run([*ssh_argv(lab.uris["lab2"]), script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def root(lab: LabHandle) -> Iterator[str]:
    folder = f"/var/lib/libvirt/images/vmtui-test-{secrets.token_hex(3)}"
    try:
        yield folder
    finally:
        for name in lab.virsh("lab2", "list", "--all", "--name").stdout.split():
            if name.startswith(f"{GUEST}-bk"):
                disks = lab.virsh("lab2", "domblklist", name, "--details").stdout.split()
                lab.virsh("lab2", "destroy", name)
                lab.virsh("lab2", "undefine", name)
                for path in disks[3::4]:  # type device target source, per disk
                    on_lab2(lab, f"rm -f {path}")
        for checkpoint in lab.virsh("lab2", "checkpoint-list", GUEST, "--name").stdout.split():
            lab.virsh("lab2", "checkpoint-delete", GUEST, checkpoint)
        on_lab2(lab, f"rm -rf {folder}")


def test_full_incremental_list_and_restore_over_ssh(lab: LabHandle, root: str) -> None:
    uri = lab.uris["lab2"]

    def vm(*args: str) -> dict[str, object]:
        proc = lab.vmtui(*args, "-c", uri, "--to", root, "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out: dict[str, object] = json.loads(proc.stdout)
        return out

    full = vm("backup", GUEST)["backup"]
    inc = vm("backup", GUEST, "--incremental")["backup"]
    assert isinstance(full, dict)
    assert isinstance(inc, dict)
    print(f"over ssh: full {full['size']} bytes, incremental {inc['size']} bytes")
    assert inc["parent"] == full["id"]
    assert lab.virsh("lab2", "checkpoint-list", GUEST, "--name").stdout.split() == [inc["checkpoint"]]
    # On lab2 itself: the two folders, each with its manifest, and the incremental reads through to the full.
    listed = on_lab2(lab, f"ls {root}/{GUEST}").split()
    assert listed == sorted([str(full["id"]), str(inc["id"])])
    backing = on_lab2(lab, f"qemu-img info -U --output=json {root}/{GUEST}/{inc['id']}/vda.qcow2")
    assert json.loads(backing)["backing-filename"] == f"../{full['id']}/vda.qcow2"

    backups = vm("backup", "list", GUEST)["backups"]
    assert isinstance(backups, list)
    assert [b["id"] for b in backups] == [full["id"], inc["id"]]

    copy = f"{GUEST}-bk{secrets.token_hex(2)}"
    done = vm("backup", "restore", GUEST, str(inc["id"]), "--as", copy)
    assert done["chain"] == [full["id"], inc["id"]]
    assert lab.virsh("lab2", "start", copy).returncode == 0
    assert lab.virsh("lab2", "domstate", copy).stdout.strip() == "running"
