"""Device classification and hostile XML, on XML as libvirt hands it out."""

from __future__ import annotations

import pytest

from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.drivers.xml.read import parse_xml, read_capabilities, read_domain_xml
from vmtui.errors import UsageError
from vmtui.models import Accelerator, DeviceClass

DOMAIN = """<domain type='kvm'><name>web</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
<memory unit='KiB'>1048576</memory><currentMemory unit='KiB'>524288</currentMemory><vcpu current='2'>4</vcpu>
<os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os><devices>
<disk type='file' device='disk'><source file='/var/lib/libvirt/images/a.qcow2'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><source file='/b.img'/><target dev='sda' bus='sata'/></disk>
<disk type='file' device='disk'><source file='/c.img'/><target dev='sdb' bus='scsi'/>
  <address type='drive' controller='1'/></disk>
<controller type='scsi' index='1' model='virtio-scsi'/>
<interface type='network'><mac address='52:54:00:aa:bb:cc'/><model type='e1000'/><target dev='vnet3'/></interface>
<interface type='bridge'><mac address='52:54:00:aa:bb:dd'/><model type='virtio'/><driver name='vhost'/></interface>
<interface type='hostdev'><mac address='52:54:00:aa:bb:ee'/></interface>
<hostdev mode='subsystem' type='pci' managed='yes'><source>
  <address domain='0x0000' bus='0x03' slot='0x10' function='0x1'/></source></hostdev>
<video><model type='vga'/></video>
<memballoon model='virtio'><stats period='5'/></memballoon>
</devices></domain>"""


def test_devices_are_classed_paravirtual_emulated_passthrough() -> None:
    info = read_domain_xml(DOMAIN)
    classes = {(d.kind, d.name): (d.model, d.dev_class) for d in info.devices}
    assert classes[("disk", "vda")] == ("virtio-blk", DeviceClass.PARAVIRTUAL)
    assert classes[("disk", "sda")] == ("sata", DeviceClass.EMULATED)
    assert classes[("disk", "sdb")] == ("virtio-scsi", DeviceClass.PARAVIRTUAL)
    assert classes[("nic", "vnet3")] == ("e1000", DeviceClass.EMULATED)
    assert classes[("nic", "52:54:00:aa:bb:dd")] == ("virtio", DeviceClass.PARAVIRTUAL)
    assert classes[("nic", "52:54:00:aa:bb:ee")][1] is DeviceClass.PASSTHROUGH
    assert classes[("hostdev", "0000:03:10.1")][1] is DeviceClass.PASSTHROUGH
    assert classes[("video", "video")] == ("vga", DeviceClass.EMULATED)
    assert info.accelerator is Accelerator.KVM
    assert (info.vcpus, info.max_memory_kib, info.memory_kib, info.balloon_period) == (2, 1048576, 524288, 5)


@pytest.mark.parametrize(
    ("written", "model", "dev_class"),
    [
        # libvirt 9.0 matches its own NIC model names ignoring case and runs them as the model
        # (`virsh define` of <model type='ViRtIo'/> then dumpxml gives 'virtio' on this machine).
        ("ViRtIo", "virtio", DeviceClass.PARAVIRTUAL),
        ("VIRTIO-Transitional", "virtio-transitional", DeviceClass.PARAVIRTUAL),
        ("E1000", "e1000", DeviceClass.EMULATED),
        ("am79c973", "Am79C973", DeviceClass.EMULATED),  # libvirt's own spelling, not lower case
        # Any other name reaches QEMU as written, where device names are exact.
        ("virtio-net-pci", "virtio-net-pci", DeviceClass.PARAVIRTUAL),
        ("VirtIO-net-pci", "VirtIO-net-pci", DeviceClass.EMULATED),
    ],
)
def test_nic_models_are_read_as_libvirt_reads_them(written: str, model: str, dev_class: DeviceClass) -> None:
    xml = f"""<domain type='kvm'><name>n</name><devices><interface type='user'>
    <mac address='52:54:00:aa:bb:cc'/><model type='{written}'/></interface></devices></domain>"""
    (nic,) = read_domain_xml(xml).devices
    assert (nic.model, nic.dev_class) == (model, dev_class)


def test_qemu_type_is_tcg() -> None:
    xml = build_guest_xml(GuestSpec(name="t", domain_type="qemu"))
    assert read_domain_xml(xml).accelerator is Accelerator.TCG


def test_entities_are_never_expanded() -> None:
    bomb = """<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">
    <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">]><domain type='kvm'><name>&c;</name></domain>"""
    info = read_domain_xml(bomb)
    assert "aaaa" not in info.name


def test_external_entities_are_not_read(tmp_path: object) -> None:
    xxe = """<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
    <domain type='kvm'><name>&x;</name></domain>"""
    assert "root:" not in read_domain_xml(xxe).name


def test_malformed_xml_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="malformed XML"):
        parse_xml("<domain><name>x</domain>")


def test_names_with_metacharacters_are_escaped_by_the_builder() -> None:
    name = "evil<name><memory>1<memory>'\"&]]>"
    xml = build_guest_xml(GuestSpec(name=name, memory_mib=256))
    info = read_domain_xml(xml)
    assert info.name == name
    # A '/' (QEMU puts the name in paths) is refused before any XML is built, as virtinst does.
    with pytest.raises(UsageError, match="no '/'"):
        build_guest_xml(GuestSpec(name="evil</name><memory>1</memory>", memory_mib=256))
    assert info.max_memory_kib == 256 * 1024  # <memory unit="MiB">256</memory> is 262144 KiB


def test_capabilities() -> None:
    caps = read_capabilities(
        """<capabilities><host><cpu><model>Skylake</model><pages unit='KiB' size='4'/>
        <pages unit='KiB' size='2048'/><pages unit='KiB' size='1048576'/></cpu>
        <topology><cells num='1'><cell id='0'><pages unit='KiB' size='2048'>16</pages></cell></cells></topology></host>
        <guest><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>"""
    )
    assert caps.cpu_model == "Skylake"
    assert caps.domain_types == {"qemu", "kvm"}
    assert (caps.hugepage_size_kib, caps.hugepages_total, caps.cells) == (2048, 16, 1)
    assert caps.page_size_kib == 4  # the base page: one KSM page
