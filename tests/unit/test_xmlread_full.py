"""Every field `read_domain_xml` and `read_capabilities` give, on XML as libvirt writes it.

The expected values are read off the XML by hand (libvirt's formatdomain and formatcaps), field by
field: what `vmtui show`, the device screen and the explainer print comes straight from these.
"""

from __future__ import annotations

import pytest

from vmtui.drivers.xml.read import DomainXml, memory_kib, parse_xml, read_capabilities, read_domain_xml
from vmtui.models import Accelerator, Device, DeviceClass

EMU, PV, PT, OTHER = DeviceClass.EMULATED, DeviceClass.PARAVIRTUAL, DeviceClass.PASSTHROUGH, DeviceClass.OTHER

EVERY_KIND = """<domain type='kvm' id='3'>
  <name>web</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
  <memory unit='GiB'>2</memory><currentMemory unit='MiB'>1536</currentMemory>
  <vcpu placement='static'>4</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/img/a.qcow2'/><target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/></disk>
    <disk type='block' device='disk'><source dev='/dev/sdz'/><target dev='sda' bus='sata'/></disk>
    <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
    <disk type='network' device='disk'><source protocol='rbd' name='pool/img'/><target dev='sdb' bus='scsi'/>
      <address type='drive' controller='1' bus='0' target='0' unit='1'/></disk>
    <disk type='volume' device='lun'><source pool='p' volume='v1'/><target dev='sdc' bus='scsi'/></disk>
    <disk type='file' device='disk'><source file='/img/u.raw'/><target dev='sdd' bus='usb'/></disk>
    <disk type='file' device='disk'><source file='/img/x.raw'/><target dev='xvda' bus='xen'/></disk>
    <disk type='file' device='disk'><source file='/img/no-target.raw'/></disk>
    <controller type='usb' index='0' model='qemu-xhci'/>
    <controller type='scsi' index='1' model='virtio-scsi'/>
    <controller type='scsi' index='0'/>
    <interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/>
      <target dev='vnet3'/><model type='e1000'/><alias name='net0'/></interface>
    <interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br0'/>
      <vlan><tag id='42'/></vlan><model type='virtio'/><driver name='vhost'/></interface>
    <interface type='direct'><mac address='52:54:00:00:00:03'/><source dev='eth0' mode='bridge'/>
      <vlan><tag id='x'/></vlan><model type='virtio-net-pci'/></interface>
    <interface type='user'><mac address='52:54:00:00:00:04'/></interface>
    <interface type='user'/>
    <interface type='hostdev' managed='yes'><mac address='52:54:00:00:00:05'/>
      <source><address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x2'/></source>
      <vlan><tag id='7'/></vlan></interface>
    <interface type='hostdev'><mac address='52:54:00:00:00:06'/></interface>
    <hostdev mode='subsystem' type='pci' managed='yes'><source>
      <address domain='0x0000' bus='0x03' slot='0x10' function='0x1'/></source><alias name='hostdev0'/></hostdev>
    <hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/>
      <address bus='1' device='2'/></source></hostdev>
    <hostdev mode='subsystem' type='pci'><source><address bus='zz'/></source></hostdev>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <rng model='egd'/>
    <video><model type='vga' vram='16384'/></video>
    <video><model type='virtio'/></video>
    <video><model type='none'/></video>
    <memballoon model='virtio'><stats period='10'/></memballoon>
  </devices>
</domain>"""

EXPECTED_DEVICES = (
    Device("disk", "vda", "virtio-blk", PV, "disk, /img/a.qcow2", bus="virtio", flavor="disk", alias="virtio-disk0",
           source="/img/a.qcow2"),
    Device("disk", "sda", "sata", EMU, "disk, /dev/sdz", bus="sata", flavor="disk", source="/dev/sdz"),
    Device("disk", "hdc", "ide", EMU, "cdrom", bus="ide", flavor="cdrom"),
    Device("disk", "sdb", "virtio-scsi", PV, "disk, pool/img", bus="scsi", flavor="disk", source="pool/img"),
    # No <address>: controller 0, which has no model (QEMU's default, an emulated LSI chip).
    Device("disk", "sdc", "scsi (default)", EMU, "lun, v1", bus="scsi", flavor="lun", source="v1"),
    Device("disk", "sdd", "usb", EMU, "disk, /img/u.raw", bus="usb", flavor="disk", source="/img/u.raw"),
    Device("disk", "xvda", "xen", OTHER, "disk, /img/x.raw", bus="xen", flavor="disk", source="/img/x.raw"),
    Device("controller", "scsi0", "default", EMU),
    Device("controller", "scsi1", "virtio-scsi", PV),
    Device("nic", "vnet3", "e1000", EMU, "type=network", flavor="network", mac="52:54:00:00:00:01", alias="net0",
           source="default"),
    Device("nic", "52:54:00:00:00:02", "virtio", PV, "type=bridge, driver=vhost", flavor="bridge",
           mac="52:54:00:00:00:02", source="br0", vlan=42),
    Device("nic", "52:54:00:00:00:03", "virtio-net-pci", PV, "type=direct", flavor="direct",
           mac="52:54:00:00:00:03", source="eth0"),
    # No <model>: QEMU's machine default NIC, an emulated chip.
    Device("nic", "52:54:00:00:00:04", "default", EMU, "type=user", flavor="user", mac="52:54:00:00:00:04"),
    Device("nic", "nic", "default", EMU, "type=user", flavor="user"),
    Device("nic", "52:54:00:00:00:05", "vfio", PT, "SR-IOV VF (hostdev interface), 0000:03:10.2", flavor="hostdev",
           mac="52:54:00:00:00:05", source="0000:03:10.2", vlan=7),
    Device("nic", "52:54:00:00:00:06", "vfio", PT, "SR-IOV VF (hostdev interface)", flavor="hostdev",
           mac="52:54:00:00:00:06"),
    Device("hostdev", "0000:03:10.1", "pci", PT, "host device passthrough", flavor="pci", alias="hostdev0",
           source="0000:03:10.1"),
    Device("hostdev", "usb", "usb", PT, "host device passthrough", flavor="usb"),
    Device("hostdev", "pci", "pci", PT, "host device passthrough", flavor="pci"),
    Device("rng", "rng", "virtio", PV),
    Device("rng", "rng", "egd", OTHER),
    Device("video", "video", "vga", EMU),
    Device("video", "video", "virtio", PV),
    Device("balloon", "balloon", "virtio", PV),
)  # fmt: skip


def test_every_kind_of_device_and_every_field() -> None:
    info = read_domain_xml(EVERY_KIND)
    assert info.devices == EXPECTED_DEVICES
    assert info == DomainXml(
        name="web",
        uuid="11111111-2222-3333-4444-555555555555",
        accelerator=Accelerator.KVM,
        vcpus=4,  # no current=: all of them
        max_memory_kib=2 * 1024 * 1024,  # 2 GiB
        memory_kib=1536 * 1024,  # 1536 MiB
        machine="pc-q35-7.2",
        devices=EXPECTED_DEVICES,
        balloon_model="virtio",
        balloon_period=10,
    )


def test_a_bare_domain_gets_the_documented_defaults() -> None:
    info = read_domain_xml(b"<domain type='xen'><memory>4096</memory></domain>".decode())
    assert info == DomainXml(
        name="",
        uuid="",
        accelerator=Accelerator.OTHER,
        vcpus=1,
        max_memory_kib=4096,  # no unit: KiB
        memory_kib=4096,  # no <currentMemory>: all of <memory>
        machine="",
        devices=(),
        balloon_model=None,
        balloon_period=None,
    )
    assert read_domain_xml("<domain/>").accelerator is Accelerator.OTHER
    assert read_domain_xml("<domain type='qemu'/>").accelerator is Accelerator.TCG


@pytest.mark.parametrize(
    ("vcpu", "expected"),
    [("<vcpu current='2'>4</vcpu>", 2), ("<vcpu>3</vcpu>", 3), ("<vcpu/>", 1), ("<vcpu>many</vcpu>", 1), ("", 1)],
)
def test_vcpus(vcpu: str, expected: int) -> None:
    assert read_domain_xml(f"<domain>{vcpu}</domain>").vcpus == expected


@pytest.mark.parametrize(
    ("balloon", "model", "period"),
    [
        ("<memballoon model='virtio'><stats period='5'/></memballoon>", "virtio", 5),
        ("<memballoon model='virtio'><stats period='0'/></memballoon>", "virtio", None),  # 0 turns them off
        ("<memballoon model='virtio'><stats period='-1'/></memballoon>", "virtio", None),
        ("<memballoon model='virtio'><stats/></memballoon>", "virtio", None),
        ("<memballoon model='virtio'/>", "virtio", None),
        ("<memballoon model='none'/>", "none", None),
        ("<memballoon/>", None, None),
        ("", None, None),
    ],
)
def test_balloon_model_and_stats_period(balloon: str, model: str | None, period: int | None) -> None:
    info = read_domain_xml(f"<domain><devices>{balloon}</devices></domain>")
    assert (info.balloon_model, info.balloon_period) == (model, period)


@pytest.mark.parametrize(
    ("element", "kib"),
    [
        ("<memory>512</memory>", 512),
        ("<memory unit='KiB'>512</memory>", 512),
        ("<memory unit='k'>512</memory>", 512),
        ("<memory unit='MiB'>3</memory>", 3072),
        ("<memory unit='M'>3</memory>", 3072),
        ("<memory unit='MB'>3</memory>", 2929),  # 3 000 000 bytes = 2929.6875 KiB
        ("<memory unit='GB'>1</memory>", 976562),  # 10^9 / 1024 = 976562.5
        ("<memory unit='G'>1</memory>", 1048576),
        ("<memory unit='TiB'>1</memory>", 1073741824),
        ("<memory unit='bytes'>4096</memory>", 4),
        ("<memory unit='b'>1024</memory>", 1),
        ("<memory unit='kb'>1024</memory>", 1000),
        ("<memory unit='tb'>1</memory>", 976562500),
        ("<memory unit='parsecs'>1</memory>", None),
        ("<memory> 7 </memory>", 7),
        ("<memory>lots</memory>", None),
        ("<memory/>", None),
        ("", None),
    ],
)
def test_memory_units(element: str, kib: int | None) -> None:
    assert memory_kib(parse_xml(f"<domain>{element}</domain>"), "memory") == kib


def test_an_unreadable_memory_size_is_zero_not_an_error() -> None:
    info = read_domain_xml("<domain><memory>lots</memory></domain>")
    assert (info.max_memory_kib, info.memory_kib) == (0, 0)
    info = read_domain_xml("<domain><memory>8</memory><currentMemory>0</currentMemory></domain>")
    assert (info.max_memory_kib, info.memory_kib) == (8, 0)  # a balloon inflated to 0 is 0, not "all"


def test_bytes_and_text_parse_alike_and_errors_say_where_they_came_from() -> None:
    assert parse_xml(b"<a><b/></a>").tag == "a"
    assert parse_xml("<a>\u00e9</a>").text == "\u00e9"
    with pytest.raises(ValueError, match=r"^malformed XML from host: "):
        parse_xml("<domain>")


CAPS = """<capabilities><host><uuid>abcd-ef</uuid><cpu><arch>x86_64</arch><model>EPYC</model>
  <pages unit='KiB' size='4'/><pages unit='KiB' size='2048'/><pages unit='KiB' size='1048576'/></cpu>
  <topology><cells num='2'>
    <cell id='0'><pages unit='KiB' size='4'>1000</pages><pages unit='KiB' size='2048'>16</pages>
      <pages unit='KiB' size='1048576'>1</pages></cell>
    <cell id='1'><pages unit='KiB' size='2048'>8</pages><pages unit='KiB' size='2048'>n/a</pages></cell>
  </cells></topology></host>
  <guest><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>
  <guest><arch name='i686'><domain type='qemu'/><domain/></arch></guest></capabilities>"""


def test_capabilities_every_field() -> None:
    caps = read_capabilities(CAPS)
    assert caps.cpu_model == "EPYC"
    assert caps.host_uuid == "abcd-ef"
    assert caps.domain_types == frozenset({"qemu", "kvm", ""})
    assert caps.hugepage_size_kib == 2048  # the smallest huge size
    assert caps.hugepages_total == 24  # 16 on cell 0 + 8 on cell 1 (1 GiB pages and a bad count left out)
    assert caps.cells == 2
    assert caps.page_size_kib == 4


def test_capabilities_without_huge_pages_or_cells() -> None:
    caps = read_capabilities(
        "<capabilities><host><cpu><pages unit='KiB' size='4'/><pages size='big'/></cpu></host></capabilities>"
    )
    assert (caps.cpu_model, caps.host_uuid, caps.domain_types) == ("", "", frozenset())
    assert (caps.hugepage_size_kib, caps.hugepages_total, caps.cells, caps.page_size_kib) == (None, None, 1, 4)
    bare = read_capabilities("<capabilities/>")
    assert (bare.hugepage_size_kib, bare.hugepages_total, bare.cells, bare.page_size_kib) == (None, None, 1, None)
    only_1g = read_capabilities(
        "<capabilities><host><cpu><pages size='1048576'/></cpu><topology><cells><cell>"
        "<pages size='1048576'>3</pages></cell></cells></topology></host></capabilities>"
    )
    assert (only_1g.hugepage_size_kib, only_1g.hugepages_total, only_1g.page_size_kib) == (1048576, 3, 1048576)
    no_counts = read_capabilities(
        "<capabilities><host><cpu><pages size='2048'/></cpu><topology><cells><cell/></cells></topology></host>"
        "</capabilities>"
    )
    assert (no_counts.hugepages_total, no_counts.cells) == (0, 1)


def test_elements_without_their_attributes_get_the_documented_defaults() -> None:
    xml = """<domain><os><type>hvm</type></os><devices>
      <disk><target/></disk>
      <disk device='cdrom'><source/><target dev='sdz' bus='scsi'/></disk>
      <controller type='scsi' model='lsilogic'/>
      <interface><mac/><source/><vlan><tag/></vlan></interface>
      <hostdev/>
      <hostdev type='usb'><source><address domain='0x0000' bus='0x01' slot='0x02' function='0x0'/></source></hostdev>
      <rng/>
      <video><model/></video>
      <memballoon/>
      <memballoon model='xen'/>
    </devices></domain>"""
    info = read_domain_xml(xml)
    assert info.machine == ""
    assert info.devices == (
        # No bus, no device=, no dev=: a disk of an unknown bus, neither emulated nor paravirtual.
        Device("disk", "disk", "unknown", OTHER, "disk", bus="", flavor="disk"),
        # No controller= in an <address>: controller 0, the one without index= (index 0).
        Device("disk", "sdz", "scsi (lsilogic)", EMU, "cdrom", bus="scsi", flavor="cdrom"),
        Device("controller", "scsi0", "lsilogic", EMU),
        Device("nic", "nic", "default", EMU, "type=", flavor=""),
        Device("hostdev", "hostdev", "", PT, "host device passthrough"),
        # A USB device's <address> is a bus/device pair, never read as a PCI address.
        Device("hostdev", "usb", "usb", PT, "host device passthrough", flavor="usb"),
        Device("rng", "rng", "", OTHER),
        Device("balloon", "balloon", "xen", OTHER),
    )
    caps = read_capabilities(
        "<capabilities><host><cpu><pages unit='KiB'/><pages size='4'/></cpu></host></capabilities>"
    )
    assert (caps.page_size_kib, caps.hugepage_size_kib) == (4, None)


def test_xml_with_an_encoding_declaration_parses_from_text_too() -> None:
    # `virsh dumpxml > f.xml` output edited by hand, or a host that sends the declaration.
    text = "<?xml version='1.0' encoding='UTF-8'?>\n<domain type='kvm'><name>d\u00e9j\u00e0</name></domain>"
    assert read_domain_xml(text).name == "d\u00e9j\u00e0"


def test_a_scsi_disk_on_an_undeclared_controller_and_a_balloon_turned_off() -> None:
    xml = """<domain><devices>
      <disk device='disk'><target dev='sdq' bus='scsi'/><address type='drive' controller='5'/></disk>
      <memballoon model='none'/>
    </devices></domain>"""
    info = read_domain_xml(xml)
    # QEMU's default controller model (an emulated chip) when the XML names no model for it.
    assert info.devices == (Device("disk", "sdq", "scsi (default)", EMU, "disk", bus="scsi", flavor="disk"),)
    assert info.balloon_model == "none"  # said by the explainer; not a device
