"""Device changes on a lab host over qemu+ssh, checked against the host itself: what libvirt would take
into a definition but the guest could not start with is refused before any change."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures_lab import LabHandle
from lxml import etree

from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml

pytestmark = pytest.mark.lab


def inactive_xml(lab: LabHandle, host: str, name: str) -> str:
    proc = lab.virsh(host, "dumpxml", name, "--inactive")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def shut_off_guest(lab: LabHandle, tmp_path: Path) -> Iterator[str]:
    """A diskless shut-off guest defined on lab1 for this test alone; undefined at the end."""
    name = f"vmtui-test-{secrets.token_hex(3)}"
    xml = tmp_path / "guest.xml"
    xml.write_text(build_guest_xml(GuestSpec(name=name, domain_type="qemu", nic_model=None, role="test")))
    proc = lab.virsh("lab1", "define", str(xml))
    assert proc.returncode == 0, proc.stderr
    try:
        yield name
    finally:
        lab.virsh("lab1", "undefine", name)


@pytest.fixture
def lab1_bridge(lab: LabHandle) -> Iterator[str]:
    """A Linux bridge inside lab1's network namespace only (this machine, where vmtui runs, has none)."""
    name, ns = f"vtb{secrets.token_hex(3)}", lab.host("lab1").namespace
    subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "add", name, "type", "bridge"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "del", name], check=False)


def test_a_nic_on_a_bridge_the_host_lacks_or_on_no_bridge_is_refused_before_any_change(
    lab: LabHandle, shut_off_guest: str, lab1_bridge: str
) -> None:
    before = inactive_xml(lab, "lab1", shut_off_guest)
    proc = lab.vmtui("devices", "add-nic", shut_off_guest, "--bridge", "nosuchbr", "-H", "lab1", "--json")
    assert proc.returncode == 2, proc.stdout
    error = json.loads(proc.stdout)["error"]
    assert error["kind"] == "usage"
    assert error["message"].startswith(f"no bridge 'nosuchbr' on {lab.uris['lab1']}")  # the URI as opened
    assert inactive_xml(lab, "lab1", shut_off_guest) == before

    # An interface the host has that is no bridge (its loopback; virsh iface-dumpxml says type
    # 'ethernet') would fail the next start with "Cannot set interface MTU": refused the same way.
    proc = lab.vmtui("devices", "add-nic", shut_off_guest, "--bridge", "lo", "-H", "lab1", "--json")
    assert proc.returncode == 2, proc.stdout
    message = json.loads(proc.stdout)["error"]["message"]
    assert message.startswith(f"'lo' on {lab.uris['lab1']}")  # the URI as opened
    assert message.endswith(" is an interface of type ethernet, not a bridge")
    assert inactive_xml(lab, "lab1", shut_off_guest) == before

    # A bridge the host has is taken: asked of lab1's libvirtd over the same SSH connection (no shell).
    proc = lab.vmtui("devices", "add-nic", shut_off_guest, "--bridge", lab1_bridge, "-H", "lab1", "--json")
    assert proc.returncode == 0, proc.stderr
    sources = etree.fromstring(inactive_xml(lab, "lab1", shut_off_guest)).xpath("devices/interface/source/@bridge")
    assert sources == [lab1_bridge]
