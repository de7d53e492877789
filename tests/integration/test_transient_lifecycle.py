"""A transient domain (created, never defined) through the lifecycle commands, on the local libvirtd.

A transient domain stops existing when it stops: `destroy` succeeds, and there is nothing left to
read back afterwards. That is success (exit 0), not "domain not found".
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest
from conftest import LOCAL_URI, run_vmtui

from vmtui.drivers.libvirt.driver import Connection
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml


@pytest.fixture
def transient(local_conn: Connection) -> Iterator[str]:
    """A running TCG guest made with createXML (no definition); removed at the end if still there."""
    name = f"vmtui-test-{secrets.token_hex(3)}-transient"
    xml = build_guest_xml(GuestSpec(name, domain_type="qemu", nic_model=None, role="test"))
    local_conn._conn.createXML(xml, 0)
    try:
        yield name
    finally:
        local_conn.destroy_and_undefine(name)


def _virsh_has(name: str) -> bool:
    import subprocess

    out = subprocess.run(["virsh", "-c", LOCAL_URI, "list", "--all", "--name"], capture_output=True, text=True)
    return name in out.stdout.split()


def test_destroying_a_transient_domain_succeeds(transient: str) -> None:
    assert _virsh_has(transient)
    proc = run_vmtui("destroy", transient, "--yes", "-c", LOCAL_URI)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"destroy: {transient} on {LOCAL_URI} is now shut-off\n"
    assert not _virsh_has(transient)  # gone, as libvirt does with a transient domain that stops


def test_destroying_a_transient_domain_succeeds_with_json(transient: str) -> None:
    proc = run_vmtui("destroy", transient, "--yes", "-c", LOCAL_URI, "--json")
    assert proc.returncode == 0, proc.stdout
    body = json.loads(proc.stdout)
    assert body["action"] == "destroy"
    assert body["domain"]["name"] == transient
    assert body["domain"]["state"] == "shut-off"
    assert body["domain"]["persistent"] is False
    assert not _virsh_has(transient)


def test_a_shutdown_says_it_was_requested_not_done(transient: str) -> None:
    # The diskless test guest ignores ACPI: libvirt's call returns, and the guest keeps running.
    proc = run_vmtui("shutdown", transient, "--yes", "-c", LOCAL_URI)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"shutdown: {transient} on {LOCAL_URI}: requested; the guest decides (it is running now)\n"
    assert _virsh_has(transient)
