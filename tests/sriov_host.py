"""An SR-IOV host for tests on a machine without SR-IOV hardware: libvirt's test driver with a node XML that
describes a PF (eth3, 7 VFs at most, 2 now) and its VFs, a guest holding one VF, and a sysfs tree.

The sysfs tree stands in for the host's /sys; `KernelLikeFiles` refuses a change between two non-zero
VF counts as the kernel does (EBUSY), so a test proves the zero-first order rather than assuming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vmtui.drivers.hostfiles import LocalFiles
from vmtui.errors import OperationError

PF = "0000:03:00.0"
VF0 = "0000:03:10.0"
VF1 = "0000:03:10.1"
GUEST = "guest-vf"
GUEST_UUID = "6f1e1d0c-5a1b-4c3d-9e8f-0000000000a1"
PLAIN = "guest-plain"
GUEST_MAC = "52:54:00:aa:bb:01"

HOLDER_NIC = f"""
      <interface type='hostdev' managed='yes'>
        <mac address='{GUEST_MAC}'/>
        <source><address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x1'/></source>
        <vlan><tag id='42'/></vlan>
      </interface>"""

NODE_XML = f"""<node>
  <domain type='test'>
    <name>{GUEST}</name><uuid>{GUEST_UUID}</uuid>
    <memory>131072</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
    <devices>{{holder}}</devices>
  </domain>
  <domain type='test'>
    <name>{PLAIN}</name><uuid>6f1e1d0c-5a1b-4c3d-9e8f-0000000000a2</uuid>
    <memory>131072</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
    <devices><interface type='user'><mac address='52:54:00:aa:bb:02'/><model type='e1000'/></interface></devices>
  </domain>
  <device>
    <name>pci_0000_03_00_0</name><parent>computer</parent>
    <capability type='pci'>
      <class>0x020000</class><domain>0</domain><bus>3</bus><slot>0</slot><function>0</function>
      <product id='0x10c9'>82576 Gigabit Network Connection</product>
      <vendor id='0x8086'>Intel Corporation</vendor>
      <capability type='virt_functions' maxCount='7'>
        <address domain='0x0000' bus='0x03' slot='0x10' function='0x0'/>
        <address domain='0x0000' bus='0x03' slot='0x10' function='0x1'/>
      </capability>
    </capability>
  </device>
  <device>
    <name>net_eth3_00_1b_21_00_00_01</name><parent>pci_0000_03_00_0</parent>
    <capability type='net'><interface>eth3</interface><address>00:1b:21:00:00:01</address>
      <link speed='1000' state='up'/><capability type='80203'/></capability>
  </device>
  <device>
    <name>pci_0000_03_10_0</name><parent>computer</parent>
    <capability type='pci'>
      <class>0x020000</class><domain>0</domain><bus>3</bus><slot>16</slot><function>0</function>
      <product id='0x10ca'>82576 Virtual Function</product><vendor id='0x8086'>Intel Corporation</vendor>
      <capability type='phys_function'><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></capability>
    </capability>
  </device>
  <device>
    <name>net_eth4_02_00_00_00_00_10</name><parent>pci_0000_03_10_0</parent>
    <capability type='net'><interface>eth4</interface><address>02:00:00:00:00:10</address>
      <capability type='80203'/></capability>
  </device>
  <device>
    <name>pci_0000_03_10_1</name><parent>computer</parent>
    <capability type='pci'>
      <class>0x020000</class><domain>0</domain><bus>3</bus><slot>16</slot><function>1</function>
      <product id='0x10ca'>82576 Virtual Function</product><vendor id='0x8086'>Intel Corporation</vendor>
      <capability type='phys_function'><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></capability>
    </capability>
  </device>
</node>
"""


@dataclass(frozen=True)
class SriovHost:
    uri: str
    sysfs: Path
    """The root that stands in for `/`: it holds sys/bus/pci/devices/<PF>/sriov_{num,total}vfs."""

    @property
    def numvfs(self) -> Path:
        return self.sysfs / "sys" / "bus" / "pci" / "devices" / PF / "sriov_numvfs"


def make_sriov_host(tmp: Path, *, holder: bool = True) -> SriovHost:
    """The host in `tmp`; with `holder`, guest-vf (running) holds VF1 with MAC and VLAN 42."""
    xml = tmp / "sriov-host.xml"
    xml.write_text(NODE_XML.replace("{holder}", HOLDER_NIC if holder else ""), encoding="utf-8")
    pf_dir = tmp / "sysfs" / "sys" / "bus" / "pci" / "devices" / PF
    pf_dir.mkdir(parents=True)
    (pf_dir / "sriov_totalvfs").write_text("7\n", encoding="utf-8")
    (pf_dir / "sriov_numvfs").write_text("2\n", encoding="utf-8")
    return SriovHost(f"test://{xml}", tmp / "sysfs")


class KernelLikeFiles(LocalFiles):
    """A sysfs tree that answers like the kernel's sriov_numvfs, and remembers every write."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.writes: list[tuple[str, str]] = []

    def write(self, path: str, value: str) -> None:
        current = self.read(path)
        if path.endswith("/sriov_numvfs") and current not in (None, "0") and value != "0":
            # drivers/pci/iov.c: "%d VFs already enabled. Disable before enabling %d VFs" -> EBUSY
            raise OperationError(f"writing {value} to {path} on {self.label}: Device or resource busy")
        super().write(path, value)
        self.writes.append((path, value))
