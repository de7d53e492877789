"""Every field the other XML readers give (displays, disks, snapshots, pools, volumes, networks, NICs,
the guest agent channel), on XML as libvirt writes it; expected values read off the XML by hand."""

from __future__ import annotations

import pytest

from vmtui.drivers.xml.parts import (
    Graphics,
    SnapshotXml,
    build_snapshot_xml,
    has_text_console,
    identity,
    nvram_path,
    read_disks,
    read_graphics,
    read_snapshot_xml,
    writable_disks,
)
from vmtui.drivers.xml.resources import (
    DiskSource,
    NetworkXml,
    NicXml,
    PoolXml,
    VolumeXml,
    agent_channel_state,
    build_dir_pool_xml,
    build_volume_xml,
    disk_sources,
    nics,
    read_network_xml,
    read_pool_xml,
    read_volume_xml,
)
from vmtui.models import DiskFile


def test_displays_every_field_and_port_edge() -> None:
    xml = """<domain><devices>
      <graphics type='vnc' port='5900' listen='10.0.0.5'/>
      <graphics type='spice' port='-1' tlsPort='65535' autoport='yes'>
        <listen type='network' address='192.0.2.1'/></graphics>
      <graphics type='vnc' port='65536'><listen type='address'/></graphics>
      <graphics type='vnc' port='0' socket='/run/a.sock'/>
      <graphics type='vnc' port='x'><listen type='socket'/></graphics>
      <graphics port='1'><listen type='socket' socket='/run/b.sock'/></graphics>
    </devices></domain>"""
    assert read_graphics(xml) == (
        Graphics("vnc", 5900, None, "10.0.0.5", None),
        # autoport before start: -1 is no port yet; 65535 is the last valid one
        Graphics("spice", None, 65535, "192.0.2.1", None),
        # a <listen> without address keeps the attribute's (none here); 65536 is no port
        Graphics("vnc", None, None, None, None),
        Graphics("vnc", None, None, None, "/run/a.sock"),  # a socket display listens on no address
        Graphics("vnc", None, None, None, None),
        Graphics("", 1, None, None, "/run/b.sock"),
    )
    assert read_graphics("<domain/>") == ()


def test_a_text_console_is_a_serial_port_or_a_console() -> None:
    assert has_text_console("<domain><devices><console type='pty'/></devices></domain>")
    assert has_text_console("<domain><devices><serial type='pty'/></devices></domain>")
    assert not has_text_console("<domain><devices><channel/></devices></domain>")
    assert not has_text_console("<domain/>")


def test_disks_every_field() -> None:
    xml = """<domain><devices>
      <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/img/a.qcow2'/>
        <target dev='vda' bus='virtio'/></disk>
      <disk type='block' device='lun'><source dev='/dev/sdz'/><target dev='sda'/><readonly/></disk>
      <disk type='dir' device='floppy'><source dir='/srv/fd'/><target dev='fda'/></disk>
      <disk type='network' device='disk'><source protocol='rbd' name='pool/img'/><target dev='vdb'/></disk>
      <disk type='volume' device='disk'><source pool='default' volume='v.raw'/><target dev='vdc'/></disk>
      <disk type='volume' device='disk'><source pool='default'/><target dev='vdd'/></disk>
      <disk device='cdrom'><target dev='hdc'/></disk>
      <disk/>
    </devices></domain>"""
    disks = read_disks(xml)
    assert disks == (
        DiskFile("vda", "disk", "/img/a.qcow2", "file", "qcow2", readonly=False),
        DiskFile("sda", "lun", "/dev/sdz", "block", "", readonly=True),
        DiskFile("fda", "floppy", "/srv/fd", "dir", "", readonly=True),
        DiskFile("vdb", "disk", "pool/img", "network", "", readonly=False),
        DiskFile("vdc", "disk", "default/v.raw", "volume", "", readonly=False),
        DiskFile("vdd", "disk", None, "volume", "", readonly=False),
        DiskFile("hdc", "cdrom", None, "file", "", readonly=True),
        DiskFile("", "disk", None, "file", "", readonly=False),
    )
    # What a snapshot covers and --remove-storage removes: writable disks and LUNs with a source.
    assert [d.target for d in writable_disks(disks)] == ["vda", "vdb", "vdc"]
    lun = DiskFile("sdb", "lun", "/dev/sdb", "block", "", readonly=False)
    assert writable_disks((lun,)) == (lun,)


def test_identity_and_nvram() -> None:
    xml = "<domain><name> web </name><uuid> ABCD-EF </uuid><os><nvram> /v/web_VARS.fd </nvram></os></domain>"
    assert identity(xml) == ("web", "abcd-ef")
    assert identity("<domain/>") == ("", "")
    with pytest.raises(ValueError, match=r"^not well-formed XML: "):
        identity("<domain>")
    with pytest.raises(ValueError, match=r"^not a domain definition: the root element is <network>$"):
        identity("<network/>")
    assert nvram_path(xml) == "/v/web_VARS.fd"
    assert nvram_path("<domain><os><nvram>  </nvram></os></domain>") is None
    assert nvram_path("<domain><os><nvram/></os></domain>") is None
    assert nvram_path("<domain/>") is None


def test_the_snapshot_documents_vmtui_writes() -> None:
    assert build_snapshot_xml(None, "") == "<domainsnapshot/>"
    assert build_snapshot_xml("s1", "before <upgrade> & more") == (
        "<domainsnapshot><name>s1</name><description>before &lt;upgrade&gt; &amp; more</description></domainsnapshot>"
    )
    assert build_snapshot_xml("s2", "", external_disks=("vda", "vdb"), memory_file="/m/s2.mem", no_memory=True) == (
        '<domainsnapshot><name>s2</name><memory snapshot="external" file="/m/s2.mem"/>'
        '<disks><disk name="vda" snapshot="external"/><disk name="vdb" snapshot="external"/></disks>'
        "</domainsnapshot>"
    )
    assert build_snapshot_xml("s3", "", no_memory=True) == (
        '<domainsnapshot><name>s3</name><memory snapshot="no"/></domainsnapshot>'
    )


SNAP = """<domainsnapshot><name> s1 </name><description> before upgrade </description><state>shutoff</state>
  <parent><name>s0</name></parent><creationTime>1700000000</creationTime><memory snapshot='no'/>
  <disks><disk name='vda' snapshot='internal'/><disk name='hdc' snapshot='no'/></disks></domainsnapshot>"""


def test_snapshot_facts_every_field() -> None:
    expected = SnapshotXml("s1", "before upgrade", 1700000000, "shut-off", "s0", "internal", False)
    assert read_snapshot_xml(SNAP) == expected
    # A running guest's snapshot without <memory> kept its memory; no disks named: internal.
    running = read_snapshot_xml("<domainsnapshot><name>r</name><state>running</state></domainsnapshot>")
    assert running == SnapshotXml("r", "", 0, "running", None, "internal", True)
    assert read_snapshot_xml("<domainsnapshot><state>paused</state></domainsnapshot>").memory is True
    assert read_snapshot_xml("<domainsnapshot><state>disk-snapshot</state></domainsnapshot>").state == "disk-snapshot"
    external = read_snapshot_xml(
        "<domainsnapshot><state>running</state><memory snapshot='external' file='/m'/>"
        "<disks><disk name='vda' snapshot='external'/><disk name='vdb'/></disks></domainsnapshot>"
    )
    assert (external.location, external.memory) == ("external", True)
    mixed = read_snapshot_xml(
        "<domainsnapshot><state>running</state><memory snapshot='internal'/>"
        "<disks><disk name='vda' snapshot='external'/></disks><creationTime>soon</creationTime></domainsnapshot>"
    )
    assert (mixed.location, mixed.memory, mixed.created) == ("mixed", True, 0)
    bare = read_snapshot_xml("<domainsnapshot><memory/><parent><name> </name></parent></domainsnapshot>")
    assert bare == SnapshotXml("", "", 0, "", None, "internal", False)


def test_pools_volumes_and_networks() -> None:
    assert read_pool_xml("<pool type='dir'><target><path>/var/lib/libvirt/images</path></target></pool>") == PoolXml(
        "dir", "/var/lib/libvirt/images"
    )
    assert read_pool_xml("<pool/>") == PoolXml("", "")
    assert read_volume_xml(
        "<volume><target><format type='qcow2'/></target><backingStore><path>/b.qcow2</path></backingStore></volume>"
    ) == VolumeXml("qcow2", "/b.qcow2")
    assert read_volume_xml("<volume><target><format/></target></volume>") == VolumeXml("", "")
    assert read_volume_xml("<volume/>") == VolumeXml("", "")
    net = read_network_xml(
        "<network><forward mode='route'/><bridge name='virbr1'/>"
        "<ip address='192.168.100.1' netmask='255.255.255.0'><dhcp/></ip>"
        "<ip family='ipv6' address='fd00::1' prefix='64'/><ip address='10.1.0.1' netmask='255.255.0.0'/>"
        "<ip address='10.2.0.1' netmask='bogus'/><ip netmask='255.0.0.0'/></network>"
    )
    assert net == NetworkXml("route", "virbr1", ("192.168.100.1/24", "fd00::1/64", "10.1.0.1/16", "10.2.0.1"), True)
    # No <forward>: isolated; <forward> without mode: NAT (libvirt's default); no <ip>: no DHCP.
    assert read_network_xml("<network/>") == NetworkXml("isolated", "", (), False)
    assert read_network_xml("<network><forward/><bridge/></network>") == NetworkXml("nat", "", (), False)
    assert read_network_xml("<network><ip address='1.2.3.4' netmask='255.255.255.256'/></network>").addresses == (
        "1.2.3.4",
    )
    assert read_network_xml("<network><ip address='1.2.3.4' netmask='255.255.255'/></network>").addresses == (
        "1.2.3.4",
    )
    assert read_network_xml("<network><ip address='1.2.3.4' netmask='255.255.255.255'/></network>").addresses == (
        "1.2.3.4/32",
    )


def test_disk_sources_nics_and_the_agent_channel() -> None:
    xml = """<domain><devices>
      <disk><source file='/img/a.qcow2'/><target dev='vda'/></disk>
      <disk><source dev='/dev/sdz'/><target dev='vdb'/></disk>
      <disk><source dir='/srv/d'/></disk>
      <disk><source pool='p' volume='v'/><target dev='vdc'/></disk>
      <disk device='cdrom'><target dev='hdc'/></disk>
      <interface type='network'><mac address='52:54:00:AB:CD:EF'/><source network='default'/>
        <target dev='vnet0'/></interface>
      <interface type='bridge'><source bridge='br0'/></interface>
      <interface type='direct'><source network='ignored' dev='eth0'/></interface>
      <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0' state='connected'/></channel>
    </devices></domain>"""
    assert disk_sources(xml) == [
        DiskSource("vda", "/img/a.qcow2", "", ""),
        DiskSource("vdb", "/dev/sdz", "", ""),
        DiskSource("", "/srv/d", "", ""),
        DiskSource("vdc", "", "p", "v"),
    ]
    assert nics(xml) == [
        NicXml("52:54:00:ab:cd:ef", "network", "default", "vnet0"),
        NicXml("", "bridge", "", ""),
        NicXml("", "direct", "", ""),  # only a network-type NIC names a libvirt network
    ]
    assert nics("<domain><devices><interface/></devices></domain>") == [NicXml("", "", "", "")]
    assert agent_channel_state(xml) == "connected"
    inactive = (
        "<domain><devices><channel><target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices></domain>"
    )
    assert agent_channel_state(inactive) == ""
    other = (
        "<domain><devices><channel><target type='virtio' name='org.qemu.spice.0' state='connected'/></channel>"
        "<channel><target type='guestfwd' name='org.qemu.guest_agent.0'/></channel><channel/></devices></domain>"
    )
    assert agent_channel_state(other) is None


def test_the_volume_document_vmtui_writes() -> None:
    assert build_volume_xml("d<1>.qcow2", 10 * 2**30, "qcow2") == (
        '<volume><name>d&lt;1&gt;.qcow2</name><capacity unit="bytes">10737418240</capacity>'
        '<allocation unit="bytes">0</allocation><target><format type="qcow2"/><compat>1.1</compat></target></volume>'
    )
    assert build_volume_xml("lv0", 4096, None) == (
        '<volume><name>lv0</name><capacity unit="bytes">4096</capacity><allocation unit="bytes">0</allocation></volume>'
    )


def test_the_dir_pool_document_the_lab_defines() -> None:
    assert build_dir_pool_xml("default", "/srv/a&b <c>") == (
        '<pool type="dir"><name>default</name><target><path>/srv/a&amp;b &lt;c&gt;</path></target></pool>'
    )
    assert read_pool_xml(build_dir_pool_xml("p", "/srv/p")) == PoolXml(pool_type="dir", path="/srv/p")


def test_elements_present_without_the_attribute_read_as_empty() -> None:
    xml = """<domain><devices>
      <disk device='cdrom'><target dev='hdc'/></disk>
      <disk type='volume'><source volume='v.raw'/><target/><driver name='qemu'/></disk>
      <interface type='network'><mac/><source/><target/></interface>
      <graphics type='vnc' listen='0.0.0.0'><listen type='socket' socket='/run/v.sock'/></graphics>
    </devices></domain>"""
    # An empty CD-ROM drive first does not hide the disks after it.
    assert disk_sources(xml) == [DiskSource("", "", "", "v.raw")]
    assert read_disks(xml)[1] == DiskFile("", "disk", "/v.raw", "volume", "", readonly=False)
    assert nics(xml) == [NicXml("", "network", "", "")]
    # A socket display listens on no address, whatever the old listen= attribute says.
    assert read_graphics(xml) == (Graphics("vnc", None, None, None, "/run/v.sock"),)
    no_mask = read_network_xml("<network><ip address='10.0.0.1'/></network>")
    assert no_mask.addresses == ("10.0.0.1",)


def test_snapshot_memory_kinds() -> None:
    external_memory_only = read_snapshot_xml(
        "<domainsnapshot><state>running</state><memory snapshot='external' file='/m'/></domainsnapshot>"
    )
    assert (external_memory_only.location, external_memory_only.memory) == ("external", True)
    # A running guest's snapshot that says snapshot='no' for memory has none.
    disk_only = read_snapshot_xml("<domainsnapshot><state>running</state><memory snapshot='no'/></domainsnapshot>")
    assert (disk_only.location, disk_only.memory) == ("internal", False)


def test_a_malformed_document_says_what_the_parser_found() -> None:
    with pytest.raises(ValueError, match=r"^not well-formed XML: ") as raised:
        identity("<domain><name>x</domain>")
    assert "malformed XML from host" not in str(raised.value)
    assert "mismatch" in str(raised.value)  # lxml's own words: "Opening and ending tag mismatch"
