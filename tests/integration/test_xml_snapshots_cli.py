"""The XML, snapshot, console and display commands on the real local libvirtd, checked with virsh and qemu-img.

Every guest has a qcow2 disk in a temporary directory and a name with markup in it (`...-[b]x`);
guests, pools and files go at the end, also when a test fails.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import VMTUI, run_vmtui
from guest_disks import LOCAL_URI, DiskGuest, disk_guest, guest_xml, image_dir, qcow2, virsh
from lxml import etree
from pty_run import run_in_pty

from vmtui.drivers.libvirt.driver import Connection
from vmtui.errors import VmtuiError
from vmtui.ops import xml as xml_ops

pytestmark = [pytest.mark.qemu, pytest.mark.timeout(180)]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def guest(local_conn: Connection) -> Iterator[DiskGuest]:
    """One guest for the module (a start and a removal cost ~2 s each); the tests run in file order and
    each leaves it running and without snapshots, except the last, which turns it off."""
    with disk_guest(local_conn, vnc=True) as made:
        yield made


def vm(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_vmtui(*args, "-c", LOCAL_URI, env_extra=env_extra)


def terminal_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "200", **extra}
    env.pop("NO_COLOR", None)
    return env


def qemu_snapshots(disk: Path) -> str:
    """The internal snapshots qemu-img sees inside the image (-U: the running guest holds a lock)."""
    return subprocess.run(["qemu-img", "snapshot", "-l", "-U", str(disk)], capture_output=True, text=True).stdout


def test_xml_raw_when_piped_highlighted_on_a_terminal(guest: DiskGuest) -> None:
    proc = vm("xml", guest.name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == virsh("dumpxml", guest.uuid).strip()  # byte for byte what libvirt gave
    inactive = vm("xml", guest.name, "--inactive", "--json")
    body = json.loads(inactive.stdout)
    assert body["inactive"] is True
    assert body["domain"] == guest.name
    assert body["xml"].strip() == virsh("dumpxml", "--inactive", guest.uuid).strip()

    rc, shown = run_in_pty([VMTUI, "xml", guest.name, "-c", LOCAL_URI], env=terminal_env())
    assert rc == 0
    assert "\x1b[" in shown  # highlighted
    assert f"<name>{guest.name}</name>" in ANSI.sub("", shown)  # and the name literal, markup and all


def test_snapshot_created_reverted_deleted_on_a_qcow2_guest(guest: DiskGuest) -> None:
    made = json.loads(vm("snapshot", "create", guest.name, "live1", "-d", "before", "--json").stdout)
    assert made["snapshot"]["location"] == "internal"
    assert made["snapshot"]["memory"] is True  # the guest runs: its memory is part of it
    assert virsh("snapshot-list", "--name", guest.uuid).split() == ["live1"]
    assert "live1" in qemu_snapshots(guest.disk)

    virsh("suspend", guest.uuid)  # another tool pauses it: the snapshot was taken running
    refused = vm("snapshot", "revert", guest.name, "live1")  # no terminal to ask on, no --yes
    assert refused.returncode == 2
    assert "Not asked without a terminal" in refused.stderr
    assert virsh("domstate", guest.uuid).strip() == "paused"
    reverted = json.loads(vm("snapshot", "revert", guest.name, "live1", "--yes", "--json").stdout)
    assert reverted["state"] == "running"
    assert virsh("domstate", guest.uuid).strip() == "running"
    assert virsh("snapshot-current", "--name", guest.uuid).strip() == "live1"

    listed = json.loads(vm("snapshot", "list", guest.name, "--json").stdout)
    assert [(s["name"], s["current"], s["description"]) for s in listed["snapshots"]] == [("live1", True, "before")]
    assert vm("snapshot", "delete", guest.name, "live1", "--yes").returncode == 0
    assert virsh("snapshot-list", "--name", guest.uuid).split() == []
    assert "live1" not in qemu_snapshots(guest.disk)


def test_an_edit_libvirt_refuses_leaves_the_definition_as_it_was(local_conn: Connection, guest: DiskGuest) -> None:
    before = virsh("dumpxml", "--inactive", guest.uuid)
    session = xml_ops.begin_edit(local_conn, guest.uuid)
    bad_vcpu = session.original.replace(">1</vcpu>", ">lots</vcpu>")
    assert bad_vcpu != session.original
    with pytest.raises(VmtuiError) as refused:
        xml_ops.finish_edit(local_conn, session, bad_vcpu)
    assert "vcpu" in str(refused.value).lower()  # libvirt's own reason
    # Schema validation: an element libvirt does not know is refused, not silently dropped.
    unknown = session.original.replace("</devices>", "<bogus/></devices>")
    with pytest.raises(VmtuiError):
        xml_ops.finish_edit(local_conn, session, unknown)
    renamed = session.original.replace(f"<name>{_xml_text(guest.name)}</name>", "<name>other</name>")
    with pytest.raises(VmtuiError, match="define a second domain"):
        xml_ops.finish_edit(local_conn, session, renamed)
    assert virsh("dumpxml", "--inactive", guest.uuid) == before
    assert virsh("list", "--all", "--name").split().count("other") == 0


def _xml_text(text: str) -> str:
    el = etree.Element("x")
    el.text = text
    return etree.tostring(el, encoding="unicode")[3:-4]


EDITOR = """import sys, pathlib
count = pathlib.Path(sys.argv[1])
n = int(count.read_text()) + 1 if count.exists() else 1
count.write_text(str(n))
doc = pathlib.Path(sys.argv[2])
text = doc.read_text()
if n == 1:
    text = text.replace(">1</vcpu>", ">lots</vcpu>")  # libvirt refuses this
else:
    text = text.replace(">lots</vcpu>", ">1</vcpu>")
    text = text.replace("</devices>", "</devices><description>edited</description>")
doc.write_text(text)
"""


def test_edit_refused_then_edited_again_and_defined(guest: DiskGuest, tmp_path: Path) -> None:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    live_before = virsh("dumpxml", guest.uuid)
    env = terminal_env(EDITOR=f"{sys.executable} {script} {tmp_path / 'count'}", NO_COLOR="1")
    env.pop("VISUAL", None)
    rc, out = run_in_pty([VMTUI, "edit", guest.name, "-c", LOCAL_URI], [("Edit again?", "y\n")], env=env)
    assert rc == 0, out
    assert (tmp_path / "count").read_text() == "2"
    assert "new definition saved (it applies when the domain next starts)" in out
    assert "<description>edited</description>" in virsh("dumpxml", "--inactive", guest.uuid)
    assert virsh("dumpxml", guest.uuid) == live_before  # the running guest is not touched
    assert not list(Path("/tmp").glob(f"vmtui-{guest.uuid[:8]}-*.xml"))  # the edit file is gone


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with image_dir() as folder:
        name = f"vmtui-test-{secrets.token_hex(3)}-pool"
        virsh("pool-create-as", name, "dir", "--target", str(folder))  # transient: gone when destroyed
        try:
            yield name, folder
        finally:
            virsh("pool-destroy", name, check=False)


def test_define_then_undefine_asks_first_and_removes_storage(
    local_conn: Connection, pool: tuple[str, Path], tmp_path: Path
) -> None:
    pool_name, folder = pool
    disk = qcow2(folder / "vol.qcow2")
    virsh("pool-refresh", pool_name)
    name = f"vmtui-test-{secrets.token_hex(3)}-def'\"<&>[b]x"
    xml_file = tmp_path / "dom.xml"
    xml_file.write_text(guest_xml(name, disk, kvm=False))
    try:
        made = json.loads(vm("define", str(xml_file), "--json").stdout)
        assert (made["domain"], made["created"]) == (name, True)
        assert name in virsh("list", "--all", "--name").splitlines()
        # Without a UUID the file means a new domain, and that name is taken: libvirt says so, nothing changes.
        again = vm("define", str(xml_file))
        assert again.returncode != 0
        assert "already exists" in again.stderr, again.stderr

        rc, out = run_in_pty(
            [VMTUI, "undefine", name, "--remove-storage", "-c", LOCAL_URI], [("[y/N]", "n\n")], env=terminal_env()
        )
        assert rc == 2
        assert "not confirmed" in out
        assert f"Undefine {name} on {LOCAL_URI}?" in out  # the name as it is, markup and quotes included
        assert str(disk) in out
        assert name in virsh("list", "--all", "--name").splitlines()
        assert disk.exists()

        done = json.loads(vm("undefine", name, "--remove-storage", "--yes", "--json").stdout)
        assert done["volumes_removed"] == [str(disk)]
        assert name not in virsh("list", "--all", "--name").splitlines()
        assert not disk.exists()
    finally:
        local_conn.destroy_and_undefine(name)


def test_console_command_and_refusals(guest: DiskGuest) -> None:
    body = json.loads(vm("console", guest.name, "--json").stdout)
    assert body["command"][1:] == ["-c", LOCAL_URI, "console", "--domain", guest.uuid]
    assert body["escape"] == "^]"
    no_tty = vm("console", guest.name)
    assert no_tty.returncode == 2
    assert "needs a terminal" in no_tty.stderr
    read_only = run_vmtui("--read-only", "console", guest.name, "-c", LOCAL_URI, "--json")
    assert read_only.returncode == 5  # libvirt opens consoles on read-write connections only


def test_console_and_display_hints_name_only_what_the_guest_has(local_conn: Connection) -> None:
    kvm = local_conn.host_info(probe=False).kvm_usable
    made: list[str] = []
    try:
        for vnc in (False, True):
            root = etree.fromstring(guest_xml(f"vmtui-test-{secrets.token_hex(3)}-nocons", None, kvm=kvm, vnc=vnc))
            devices = root.find("devices")
            assert devices is not None
            for el in [*devices.findall("serial"), *devices.findall("console")]:
                devices.remove(el)
            made.append(local_conn.define_and_start(etree.tostring(root, encoding="unicode")).name)
        bare, with_vnc = made
        neither = "it has neither a serial console nor a graphical display: add one with `vmtui edit` (next boot)"
        for command in ("console", "display"):
            error = json.loads(vm(command, bare, "--json").stdout)["error"]
            assert (error["code"], error["hint"]) == (1, neither), command
        error = json.loads(vm("console", with_vnc, "--json").stdout)["error"]
        assert (error["message"], error["hint"]) == (
            f"{with_vnc} has no serial console",
            "`vmtui display` for its graphical one",
        )
    finally:
        for name in made:
            local_conn.destroy_and_undefine(name)


def test_display_uri_reaches_the_vnc_server(guest: DiskGuest, tmp_path: Path) -> None:
    # virsh's own answer, independently: vnc://127.0.0.1:N with N the display number (port 5900 + N)
    display = virsh("domdisplay", guest.uuid).strip()
    port = 5900 + int(display.rsplit(":", 1)[1])
    body = json.loads(vm("display", guest.name, "--json").stdout)
    (shown,) = body["displays"]
    assert (shown["type"], shown["port"], shown["uri"]) == ("vnc", port, f"vnc://127.0.0.1:{port}")
    assert shown["tunnel"] is None
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        assert conn.recv(12).startswith(b"RFB ")

    missing = vm("display", guest.name, "--open", env_extra={"PATH": str(tmp_path)})
    assert missing.returncode == 3
    assert "virt-viewer is not installed" in missing.stderr
    # A stand-in viewer on PATH records how it was started.
    fake = tmp_path / "virt-viewer"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path / "argv"}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "DISPLAY": ":99"}
    started = json.loads(vm("display", guest.name, "--open", "--json", env_extra=env).stdout)
    assert isinstance(started["viewer_pid"], int)
    deadline = time.monotonic() + 10
    while not (tmp_path / "argv").exists():
        assert time.monotonic() < deadline, "the viewer was not started"
        time.sleep(0.05)
    time.sleep(0.1)
    assert (tmp_path / "argv").read_text().split("\n")[:4] == ["--connect", LOCAL_URI, "--", guest.uuid]


def test_external_snapshot_with_memory_beside_the_disk(guest: DiskGuest) -> None:
    made = json.loads(vm("snapshot", "create", guest.name, "ext1", "--location", "external", "--json").stdout)
    try:
        assert (made["snapshot"]["location"], made["snapshot"]["memory"]) == ("external", True)
        overlay = guest.dir / "disk.ext1"
        assert str(overlay) in virsh("domblklist", guest.uuid)  # the guest now writes to the overlay
        assert (guest.dir / "disk.ext1.mem").exists()  # its memory, beside the disk
        refused = vm("snapshot", "revert", guest.name, "ext1", "--yes")
        assert refused.returncode != 0
        assert "not supported" in refused.stderr  # libvirt 9.0's own words, with what it means
        assert "before 9.9" in refused.stderr
    finally:
        assert vm("snapshot", "delete", guest.name, "ext1", "--yes").returncode == 0
    assert str(guest.disk) in virsh("domblklist", guest.uuid)  # merged back into the qcow2
    assert virsh("snapshot-list", "--name", guest.uuid).split() == []


def test_an_older_external_snapshot_of_a_shut_off_guest_is_refused_with_why(guest: DiskGuest) -> None:
    virsh("destroy", guest.uuid)
    try:
        for name in ("x1", "x2"):
            assert vm("snapshot", "create", guest.name, name, "--location", "external").returncode == 0
        # libvirt 9.0 cannot merge x1 (x2 sits on it) while the guest is off; that is no usage error.
        refused = json.loads(vm("snapshot", "delete", guest.name, "x1", "--yes", "--json").stdout)["error"]
        assert (refused["kind"], refused["code"]) == ("failed", 1)
        assert "could not find base disk source" in refused["message"]  # libvirt's words, kept
        assert refused["hint"] == (
            "libvirt 9.0 merges an external snapshot that has a newer one only while the guest runs"
            " (a block commit): start the guest and delete it again"
        )
        assert virsh("snapshot-list", "--name", guest.uuid).split() == ["x1", "x2"]
        virsh("start", guest.uuid)  # what the hint says: running, x1 is merged
        assert vm("snapshot", "delete", guest.name, "x1", "--yes").returncode == 0
    finally:
        for name in ("x2", "x1"):
            vm("snapshot", "delete", guest.name, name, "--yes")
        if "running" not in virsh("domstate", guest.uuid):
            virsh("start", guest.uuid)
    assert virsh("snapshot-list", "--name", guest.uuid).split() == []
    assert str(guest.disk) in virsh("domblklist", guest.uuid)


def qemu_io(disk: Path, command: str) -> int:
    """qemu-io's exit code: a `read -P` whose pattern does not match fails."""
    return subprocess.run(["qemu-io", "-f", "qcow2", "-c", command, str(disk)], capture_output=True).returncode


def test_revert_brings_the_disk_contents_back(guest: DiskGuest) -> None:
    virsh("destroy", guest.uuid)
    assert qemu_io(guest.disk, "write -P 0xab 0 64k") == 0
    made = json.loads(vm("snapshot", "create", guest.name, "off1", "--json").stdout)
    assert (made["snapshot"]["state"], made["snapshot"]["memory"]) == ("shut-off", False)
    assert qemu_io(guest.disk, "write -P 0xcd 0 64k") == 0
    assert qemu_io(guest.disk, "read -P 0xab 0 64k") != 0  # the disk holds 0xcd now
    assert vm("snapshot", "revert", guest.name, "off1", "--yes").returncode == 0
    assert qemu_io(guest.disk, "read -P 0xab 0 64k") == 0  # and 0xab again after the revert
    assert vm("snapshot", "delete", guest.name, "off1", "--yes").returncode == 0
