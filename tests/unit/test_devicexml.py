"""Device XML: built from validated values (golden documents written by hand), and the edits of a host's XML."""

from __future__ import annotations

import pytest
from lxml import etree

from vmtui.drivers.pci import PciAddress
from vmtui.drivers.xml.devices import (
    DiskSpec,
    HostdevNetworkSpec,
    NicSpec,
    PoolNicSpec,
    VfNicSpec,
    VolumeSpec,
    check_mac,
    check_new_name,
    disk_as_virtio,
    disk_name,
    free_target,
    interface_by_mac,
    nic_as_virtio,
    text,
)
from vmtui.drivers.xml.read import parse_xml, read_domain_xml
from vmtui.errors import UsageError
from vmtui.models import DeviceClass
from vmtui.ops.devices import disk_capacity


def canonical(xml: str) -> str:
    """Whitespace-free canonical form, so a golden document can be written readably."""
    parser = etree.XMLParser(remove_blank_text=True)
    return etree.tostring(etree.fromstring(xml.encode(), parser), method="c14n").decode()


def test_vf_nic_with_mac_and_vlan() -> None:
    spec = VfNicSpec(PciAddress.parse("0000:03:10.1"), "52:54:00:AA:BB:01", 42)
    assert canonical(text(spec.element())) == canonical(
        """<interface type="hostdev" managed="yes">
             <mac address="52:54:00:aa:bb:01"/>
             <source><address type="pci" domain="0x0000" bus="0x03" slot="0x10" function="0x1"/></source>
             <vlan><tag id="42"/></vlan>
           </interface>"""
    )


def test_pool_nic_and_virtio_nics() -> None:
    assert canonical(text(PoolNicSpec("sriov-eth3", None, 7).element())) == canonical(
        '<interface type="network"><source network="sriov-eth3"/><vlan><tag id="7"/></vlan></interface>'
    )
    assert canonical(text(NicSpec("user").element())) == canonical(
        '<interface type="user"><model type="virtio"/></interface>'
    )
    assert canonical(text(NicSpec("bridge", "br0", "52:54:00:00:00:02").element())) == canonical(
        '<interface type="bridge"><mac address="52:54:00:00:00:02"/><source bridge="br0"/>'
        '<model type="virtio"/></interface>'
    )


def test_disk_volume_and_pool_network() -> None:
    assert canonical(text(DiskSpec("/pools/a b.qcow2", "vdb").element())) == canonical(
        """<disk type="file" device="disk"><driver name="qemu" type="qcow2"/>
           <source file="/pools/a b.qcow2"/><target dev="vdb" bus="virtio"/></disk>"""
    )
    assert canonical(text(VolumeSpec("web-vdb.qcow2", 10 * 1024**3).element())) == canonical(
        """<volume><name>web-vdb.qcow2</name><capacity unit="bytes">10737418240</capacity>
           <allocation>0</allocation><target><format type="qcow2"/></target></volume>"""
    )
    assert canonical(text(HostdevNetworkSpec("sriov-eth3", "eth3").element())) == canonical(
        '<network><name>sriov-eth3</name><forward mode="hostdev" managed="yes"><pf dev="eth3"/></forward></network>'
    )
    vfs = (PciAddress(0, 3, 0x10, 0), PciAddress(0, 3, 0x10, 2))
    assert canonical(text(HostdevNetworkSpec("p", None, vfs).element())) == canonical(
        """<network><name>p</name><forward mode="hostdev" managed="yes">
           <address type="pci" domain="0x0000" bus="0x03" slot="0x10" function="0x0"/>
           <address type="pci" domain="0x0000" bus="0x03" slot="0x10" function="0x2"/></forward></network>"""
    )


def test_values_are_escaped_never_interpreted() -> None:
    # A network name that tries to close the attribute and add an element stays one attribute value.
    spec = PoolNicSpec("evil'\"/><hostdev", None, None)
    with pytest.raises(UsageError):
        spec.element()  # '/' refused outright
    el = PoolNicSpec("evil'\"><x>&", None, None).element()
    assert el.find("source").get("network") == "evil'\"><x>&"  # type: ignore[union-attr]
    assert parse_xml(text(el)).find("x") is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [("52:54:00:12:34:56", True), ("52-54-00-12-34-56", True), ("01:00:5e:00:00:01", False), ("52:54:00", False)],
)
def test_mac_validation(value: str, ok: bool) -> None:
    if ok:
        assert check_mac(value) == "52:54:00:12:34:56"
    else:
        with pytest.raises(UsageError):
            check_mac(value)


def test_vlan_and_names_are_validated() -> None:
    for bad in (0, 4095, -1):
        with pytest.raises(UsageError):
            VfNicSpec(PciAddress(0, 3, 16, 1), None, bad).element()
    for name in ("", "-x", "../x", "a b", "x" * 65, "a\nb"):
        with pytest.raises(UsageError):
            check_new_name("network", name)


@pytest.mark.parametrize(
    ("text_", "size"),
    [("10G", 10 * 1024**3), ("512MiB", 512 * 1024**2), ("1.5T", 3 * 1024**4 // 2), ("20GB", 20 * 10**9)],
)
def test_sizes(text_: str, size: int) -> None:
    assert disk_capacity(text_) == size


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("10", "has no unit"),  # once bytes here, KiB in balloon: now a unit is asked for everywhere
        ("10485760", "has no unit"),
        ("ten", "not a size"),
        ("1Q", "unknown unit"),
        ("-1G", "not a size"),
        ("1.3M", "not a whole number of bytes"),  # 1363148.8 bytes: was cut to 1363148 by a float
        ("0G", "too small for a disk"),
        ("1023K", "too small for a disk"),  # 1047552 bytes, one KiB below 1 MiB
        ("65T", "larger than 64 TiB"),
        ("65536.5G", "larger than 64 TiB"),  # 64 TiB and 512 MiB
    ],
)
def test_bad_sizes_are_refused(bad: str, words: str) -> None:
    with pytest.raises(UsageError) as refused:
        disk_capacity(bad)
    assert words in refused.value.message


def test_the_disk_size_edges_are_taken() -> None:
    assert disk_capacity("1M") == 1048576 == disk_capacity(1048576)
    assert disk_capacity("64T") == 70368744177664


def test_pci_addresses_in_three_spellings() -> None:
    a = PciAddress.parse("0000:03:10.1")
    assert a == PciAddress.parse("03:10.1") == PciAddress.parse("pci_0000_03_10_1") == PciAddress(0, 3, 16, 1)
    assert (str(a), a.nodedev) == ("0000:03:10.1", "pci_0000_03_10_1")
    for bad in ("03:10.8", "0000:03:20.0", "eth3", "0000:03:10.1; rm -rf /"):
        with pytest.raises(UsageError):
            PciAddress.parse(bad)


def test_disk_names_count_like_libvirt() -> None:
    assert [disk_name("vd", i) for i in (0, 1, 25, 26, 27, 701)] == ["vda", "vdb", "vdz", "vdaa", "vdab", "vdzz"]


LIVE = """<domain type='kvm'><name>web</name><uuid>11111111-2222-3333-4444-555555555555</uuid><devices>
<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><source file='/b.img'/><target dev='sda' bus='sata'/>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>
<disk type='file' device='cdrom'><target dev='sdb' bus='sata'/></disk>
<interface type='network'><mac address='52:54:00:c9:91:ce'/><source network='default' portid='x' bridge='virbr0'/>
  <target dev='vnet3'/><model type='e1000'/><alias name='net0'/><rom enabled='no'/>
  <address type='pci' domain='0x0000' bus='0x02' slot='0x01' function='0x0'/></interface>
</devices></domain>"""


def test_nic_becomes_virtio_with_the_same_mac_slot_and_rom() -> None:
    iface = interface_by_mac(LIVE, "52:54:00:C9:91:CE")
    assert iface is not None
    new = nic_as_virtio(iface)
    assert canonical(text(new)) == canonical(
        """<interface type='network'><mac address='52:54:00:c9:91:ce'/><source network='default'/>
           <model type='virtio'/><rom enabled='no'/>
           <address type='pci' domain='0x0000' bus='0x02' slot='0x01' function='0x0'/></interface>"""
    )
    assert iface.find("model").get("type") == "e1000"  # type: ignore[union-attr]  # the original is untouched


def test_disk_moves_to_virtio_under_a_free_name() -> None:
    target = free_target([LIVE])
    assert target == "vdb"
    edited = read_domain_xml(disk_as_virtio(LIVE, "sda", target))
    disks = {d.name: d for d in edited.devices if d.kind == "disk"}
    assert "sda" not in disks
    assert (disks["vdb"].bus, disks["vdb"].source, disks["vdb"].dev_class) == (
        "virtio",
        "/b.img",
        DeviceClass.PARAVIRTUAL,
    )
    assert parse_xml(disk_as_virtio(LIVE, "sda", target)).find("devices/disk[2]/address") is None
    with pytest.raises(UsageError, match="cdrom"):
        disk_as_virtio(LIVE, "sdb", "vdc")
    with pytest.raises(UsageError, match="not an emulated"):
        disk_as_virtio(LIVE, "vda", "vdc")


def test_advice_tells_what_the_next_boot_changes() -> None:
    from vmtui.drivers.deviceapi import DomainDocs
    from vmtui.ops.devices import advise

    config = """<domain><name>web</name><devices>
    <disk type='file' device='disk'><source file='/b.img'/><target dev='vdb' bus='virtio'/></disk>
    <interface type='network'><mac address='52:54:00:c9:91:ce'/><source network='default'/><model type='virtio'/>
    </interface>
    <interface type='user'><mac address='52:54:00:00:00:09'/><model type='virtio'/></interface>
    </devices></domain>"""
    advice = {a.device.mac or a.device.name: a for a in advise(DomainDocs("web", "u", 1, LIVE, config))}
    assert (advice["52:54:00:c9:91:ce"].switch, advice["52:54:00:c9:91:ce"].next_boot) == ("live", "virtio")
    assert (advice["sda"].switch, advice["sda"].next_boot) == ("next-boot", "virtio-blk as vdb")
    assert advice["vda"].next_boot == "gone (not in the config)"
    assert (advice["52:54:00:00:00:09"].note, advice["52:54:00:00:00:09"].next_boot) == (
        "only in the persistent config",
        "virtio",
    )
    assert advice["sdb"].switch == "no"  # a CD-ROM stays where it is
    paused = {a.device.mac: a.switch for a in advise(DomainDocs("web", "u", 3, LIVE, None)) if a.device.mac}
    assert paused == {"52:54:00:c9:91:ce": "next-boot"}


def test_the_explainer_points_at_the_command_and_leaves_a_cdrom_alone() -> None:
    from vmtui.drivers.xml.read import read_domain_xml
    from vmtui.explain import Severity, explain
    from vmtui.models import Accelerator, DomainInfo

    xml = read_domain_xml(LIVE)
    info = DomainInfo("u", "web one", 1, "running", Accelerator.KVM, 1, 1024, 1024, True, devices=xml.devices)
    fixes = {f.key: f for f in explain(info, None, None)}
    assert "vmtui devices virtio 'web one' --nic 52:54:00:c9:91:ce" in fixes["nic-emulated:vnet3"].fix
    assert "vmtui devices virtio 'web one' --disk sda" in fixes["disk-emulated:sda"].fix
    assert fixes["disk-emulated:sdb"].severity is Severity.LOW
    assert "stays on its bus" in fixes["disk-emulated:sdb"].fix
