"""A host's own files: locally, or over the ssh of the host's own URI, with every path and value checked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vmtui.drivers.hostfiles import LocalFiles, SshFiles, check_path, check_value, host_files, ssh_argv
from vmtui.drivers.hostprobe import FACT_PATHS, facts_from
from vmtui.errors import DeniedError, OperationError, UsageError


def test_ssh_argv_uses_the_uris_own_user_port_key_command_and_known_hosts() -> None:
    uri = "qemu+ssh://root@kvm1:2222/system?keyfile=/k/id%20x&command=/w/ssh-wrap&known_hosts=/k/kh&no_tty=1"
    assert ssh_argv(uri) == [
        "/w/ssh-wrap", "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
        "-p", "2222", "-l", "root", "-i", "/k/id x", "-o", "UserKnownHostsFile=/k/kh", "--", "kvm1",
    ]  # fmt: skip
    plain = ssh_argv("qemu+ssh://kvm2/system")
    assert plain == ["ssh", "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "--", "kvm2"]
    # Never anything that weakens host key checking.
    assert not any("StrictHostKeyChecking" in a or "no_verify" in a for a in ssh_argv(uri) + plain)


def test_only_ssh_uris_reach_remote_files() -> None:
    assert isinstance(host_files("qemu:///system"), LocalFiles)
    assert isinstance(host_files("qemu+ssh://root@kvm1/system"), SshFiles)
    with pytest.raises(UsageError, match="not an SSH one"):
        host_files("qemu+tcp://kvm1/system")
    with pytest.raises(UsageError, match="no host to reach"):
        ssh_argv("qemu+ssh://-oProxyCommand=x/system")


@pytest.mark.parametrize(
    "path",
    ["relative/path", "/sys/../etc/shadow", "/sys/./x", "/tmp/a b", "/tmp/$(reboot)", "/tmp/a;b", "/tmp/`x`", ""],
)
def test_paths_a_shell_could_read_differently_are_refused(path: str) -> None:
    with pytest.raises(UsageError, match="refusing host path"):
        check_path(path)


@pytest.mark.parametrize("value", ["", "1 2", "1;reboot", "$(x)", "a" * 65, "1\n2"])
def test_values_a_shell_could_read_differently_are_refused(value: str) -> None:
    with pytest.raises(UsageError, match="refusing value"):
        check_value(value)


def test_local_files_under_another_root(tmp_path: Path) -> None:
    ksm = tmp_path / "sys" / "kernel" / "mm" / "ksm"
    ksm.mkdir(parents=True)
    (ksm / "run").write_text("0\n")
    files = LocalFiles(tmp_path)
    assert files.read_many(["/sys/kernel/mm/ksm/run", "/sys/kernel/mm/ksm", "/sys/nope"]) == {
        "/sys/kernel/mm/ksm/run": "0",
        "/sys/kernel/mm/ksm": "",  # a directory that exists
        "/sys/nope": None,
    }
    files.write("/sys/kernel/mm/ksm/run", "1")
    assert (ksm / "run").read_text() == "1\n"


def test_a_write_the_host_refuses_names_the_command_to_run_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    knob = tmp_path / "sys" / "knob"
    knob.parent.mkdir()
    knob.write_text("0\n")

    def refused(self: Path, *_args: object, **_kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")  # what a non-root user gets from sysfs

    monkeypatch.setattr(Path, "write_text", refused)
    with pytest.raises(DeniedError) as raised:
        LocalFiles(tmp_path).write("/sys/knob", "1")
    assert raised.value.message == "writing /sys/knob requires root on localhost"
    assert raised.value.hint == "as root: echo 1 > /sys/knob"


def test_a_write_that_fails_otherwise_says_why(tmp_path: Path) -> None:
    (tmp_path / "sys" / "knob").mkdir(parents=True)  # a directory where a file is expected
    with pytest.raises(OperationError, match="writing 1 to /sys/knob on localhost: Is a directory"):
        LocalFiles(tmp_path).write("/sys/knob", "1")


def test_host_facts_from_a_pvm_host_and_an_intel_one() -> None:
    pvm = facts_from({"/proc/sys/kernel/osrelease": "6.1.0-pvm\n", "/sys/module/kvm_pvm": "", "/sys/module/kvm": ""})
    assert (pvm.kernel, pvm.tdp, pvm.kvm_module) == ("6.1.0-pvm", False, "kvm_pvm")
    assert pvm.tdp_detail == "no EPT/NPT: kvm_pvm (software shadow paging)"
    intel = facts_from({"/sys/module/kvm_intel/parameters/ept": "Y", "/sys/module/kvm": ""})
    assert (intel.tdp, intel.kvm_module, intel.tdp_detail) == (True, "kvm_intel", "EPT on (kvm_intel.ept=Y)")
    amd_off = facts_from({"/sys/module/kvm_amd/parameters/npt": "0"})
    assert (amd_off.tdp, amd_off.kvm_module) == (False, "kvm_amd")
    assert facts_from({}).tdp is None
    assert set(FACT_PATHS) >= {"/proc/sys/kernel/osrelease", "/sys/module/kvm_pvm"}


def test_this_machines_own_facts_read_locally() -> None:
    files = LocalFiles()
    facts = facts_from(files.read_many(FACT_PATHS))
    assert facts.kernel == os.uname().release


def test_a_hard_link_is_the_same_file_and_a_copy_is_not(tmp_path: Path) -> None:
    from vmtui.drivers.hostfiles import FileIdentity, LocalFiles

    disk = tmp_path / "d.qcow2"
    disk.write_bytes(b"QFI\xfb" + bytes(60))
    (tmp_path / "link.qcow2").hardlink_to(disk)
    (tmp_path / "copy.qcow2").write_bytes(disk.read_bytes())
    files = LocalFiles()
    found = files.identities([str(disk), str(tmp_path / "link.qcow2"), str(tmp_path / "copy.qcow2"), "/nonexistent"])
    one, link, copy = (found[str(p)] for p in (disk, tmp_path / "link.qcow2", tmp_path / "copy.qcow2"))
    assert one is not None
    assert link is not None
    assert copy is not None
    assert found["/nonexistent"] is None
    assert one.same_file(link)
    assert not one.same_file(copy)  # same bytes, same machine, another inode
    # Another machine (another boot): its device numbers mean nothing here; NFS keeps the server's file id.
    nfs = FileIdentity("other-boot", one.device + 7, one.inode, one.size, one.mtime + 1)
    assert one.same_file(nfs)
    assert not one.same_file(FileIdentity("other-boot", one.device, one.inode, one.size + 1, one.mtime))
    assert not one.same_file(FileIdentity("other-boot", one.device, one.inode + 1, one.size, one.mtime))
