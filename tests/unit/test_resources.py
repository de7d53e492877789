"""The pure parts of storage, networks and guest facts: sizes, names, host XML, ARP, refusals, leases."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import pytest

from vmtui.drivers.libvirt.guest import parse_arp
from vmtui.drivers.resources import DiskUse, InterfaceMac, Lease, PoolInfo, ResourceHost, VolumeInfo
from vmtui.drivers.xml.read import parse_xml
from vmtui.drivers.xml.resources import (
    agent_channel_state,
    build_volume_xml,
    disk_sources,
    nics,
    read_network_xml,
    read_pool_xml,
    read_volume_xml,
    snapshot_disk_sources,
)
from vmtui.errors import OperationError, UsageError
from vmtui.ops.networks import _owner
from vmtui.ops.storage import delete_refusal, refusal_of, users, validate_volume_name, volume_capacity
from vmtui.present import bar_cells, expiry


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10GiB", 10 * 1024**3),
        ("10G", 10 * 1024**3),
        ("10g", 10 * 1024**3),
        ("20GB", 20 * 10**9),
        ("1.5GiB", 3 * 2**29),
        ("512 MiB", 512 * 2**20),
        ("4096B", 4096),
        ("1KB", 1000),
        ("2TiB", 2 * 2**40),
        ("0.5KiB", 512),
    ],
)
def test_sizes_are_converted_exactly(text: str, expected: int) -> None:
    assert volume_capacity(text) == expected


@pytest.mark.parametrize("text", ["10", "", "GiB", "-1GiB", "0GiB", "1.1B", "1.0000001KiB", "10 parsecs", "1e3GiB"])
def test_sizes_without_unit_or_whole_bytes_are_refused(text: str) -> None:
    with pytest.raises(UsageError):
        volume_capacity(text)


def test_a_size_above_what_libvirt_takes_is_refused() -> None:
    assert volume_capacity("8PiB") == 8 * 2**50
    with pytest.raises(UsageError):
        volume_capacity("9000000PiB")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "-rf", "a\nb", "tab\there", "x" * 256])
def test_volume_names_that_are_not_one_plain_file_name_are_refused(name: str) -> None:
    with pytest.raises(UsageError):
        validate_volume_name(name)


@pytest.mark.parametrize("name", ["web1.qcow2", "a b'<&>\"c", "x]]>y", "ünï.img", "x" * 255])
def test_volume_names_with_metacharacters_are_fine(name: str) -> None:
    assert validate_volume_name(name) == name


def test_volume_xml_is_built_escaped_and_sparse() -> None:
    root = parse_xml(build_volume_xml("x]]><name>evil</name>", 1536, "qcow2"))
    assert root.findtext("name") == "x]]><name>evil</name>"
    assert root.findtext("capacity") == "1536"
    assert root.find("capacity").get("unit") == "bytes"  # type: ignore[union-attr]
    assert root.findtext("allocation") == "0"
    assert root.find("target/format").get("type") == "qcow2"  # type: ignore[union-attr]
    assert parse_xml(build_volume_xml("lv", 1024, None)).find("target") is None


def test_pool_volume_and_network_xml() -> None:
    pool = read_pool_xml("<pool type='dir'><name>p</name><target><path>/srv/p</path></target></pool>")
    assert (pool.pool_type, pool.path) == ("dir", "/srv/p")
    vol = read_volume_xml(
        "<volume><name>o</name><target><format type='qcow2'/></target>"
        "<backingStore><path>/srv/p/base</path><format type='qcow2'/></backingStore></volume>"
    )
    assert (vol.format, vol.backing) == ("qcow2", "/srv/p/base")
    nat = read_network_xml(
        "<network><name>n</name><forward/><bridge name='virbr1'/>"
        "<ip address='192.168.5.1' netmask='255.255.255.0'><dhcp><range start='192.168.5.2' end='192.168.5.9'/>"
        "</dhcp></ip><ip family='ipv6' address='fd00::1' prefix='64'/></network>"
    )
    assert (nat.forward, nat.bridge, nat.addresses, nat.dhcp) == (
        "nat",
        "virbr1",
        ("192.168.5.1/24", "fd00::1/64"),
        True,
    )
    isolated = read_network_xml("<network><name>i</name><ip address='10.0.0.1' prefix='24'/></network>")
    assert (isolated.forward, isolated.dhcp) == ("isolated", False)
    bridged = read_network_xml("<network><name>b</name><forward mode='bridge'/><bridge name='br0'/></network>")
    assert (bridged.forward, bridged.addresses) == ("bridge", ())


DOMAIN = """<domain type='qemu'><name>g</name><devices>
<disk type='file' device='disk'><source file='/srv/p/a.qcow2'/><target dev='vda' bus='virtio'/></disk>
<disk type='volume' device='disk'><source pool='p' volume='b.qcow2'/><target dev='vdb' bus='virtio'/></disk>
<disk type='block' device='disk'><source dev='/dev/vg/lv'/><target dev='vdc' bus='virtio'/></disk>
<disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>
<interface type='network'><mac address='52:54:00:AA:BB:CC'/><source network='n1'/><target dev='vnet7'/></interface>
<interface type='user'><mac address='52:54:00:aa:bb:dd'/></interface>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/></channel>
</devices></domain>"""


def test_disks_nics_and_agent_channel_of_a_domain() -> None:
    assert [(d.target, d.path, d.pool, d.volume) for d in disk_sources(DOMAIN)] == [
        ("vda", "/srv/p/a.qcow2", "", ""),
        ("vdb", "", "p", "b.qcow2"),
        ("vdc", "/dev/vg/lv", "", ""),
    ]  # the empty CD-ROM drive uses nothing
    assert [(n.mac, n.iface_type, n.network, n.target) for n in nics(DOMAIN)] == [
        ("52:54:00:aa:bb:cc", "network", "n1", "vnet7"),
        ("52:54:00:aa:bb:dd", "user", "", ""),
    ]
    assert agent_channel_state(DOMAIN) == "disconnected"
    assert agent_channel_state("<domain><devices/></domain>") is None


def _vol(name: str, *, backing: str = "", used_by: tuple[str, ...] = ()) -> VolumeInfo:
    return VolumeInfo("p", name, f"/srv/p/{name}", f"/srv/p/{name}", "file", "qcow2", 10, 1, backing, used_by)


def test_users_of_a_volume_by_path_or_by_pool_and_name() -> None:
    uses = [
        DiskUse("web", "u1", "vda", "/srv/p//a.qcow2"),
        DiskUse("db", "u2", "vdb", "", "p", "a.qcow2"),
        DiskUse("other", "u3", "vda", "/srv/q/a.qcow2"),
    ]
    assert users(_vol("a.qcow2"), uses) == ("db", "web")


def test_delete_refusal_names_domains_or_overlays() -> None:
    base = _vol("base")
    assert refusal_of(_vol("x", used_by=("web",)), []) == "domain web uses it"
    assert refusal_of(_vol("x", used_by=("a", "b")), []) == "domains a, b use it"
    assert refusal_of(base, [base, _vol("o2", backing="/srv/p/base"), _vol("o1", backing="/srv/p/base")]) == (
        "it is the backing file of volume o1, o2"
    )
    assert refusal_of(base, [base, _vol("free")]) is None


LIVE_CHAIN = """<domain><devices><disk type='file' device='disk'><source file='/srv/p/top'/>
<backingStore type='file'><format type='qcow2'/><source file='/srv/p/mid'/>
<backingStore type='block'><format type='raw'/><source dev='/dev/vg/base'/><backingStore/></backingStore>
</backingStore><target dev='vda' bus='virtio'/></disk></devices></domain>"""

SNAPSHOT = """<domainsnapshot><name>s3</name><disks><disk name='vda' snapshot='external' type='file'>
<source file='/srv/p/r2.s3'/></disk></disks><domain type='qemu'><name>g</name><devices>
<disk type='file' device='disk'><source file='/srv/p/r2.raw'/><target dev='vda' bus='virtio'/></disk>
</devices></domain></domainsnapshot>"""


def test_a_disk_brings_its_backing_chain_and_a_snapshot_its_kept_definition() -> None:
    assert [(d.path, d.chain) for d in disk_sources(LIVE_CHAIN)] == [("/srv/p/top", ("/srv/p/mid", "/dev/vg/base"))]
    # The overlay the snapshot made (<disks>) is the domain's disk now; what reverting needs is the kept definition.
    assert [(d.target, d.path) for d in snapshot_disk_sources(SNAPSHOT)] == [("vda", "/srv/p/r2.raw")]
    assert snapshot_disk_sources("<domainsnapshot><name>s</name></domainsnapshot>") == []


def test_users_through_overlays_chains_and_snapshots() -> None:
    base, mid, top = _vol("base"), _vol("mid", backing="/srv/p/base"), _vol("top", backing="/srv/p//mid")
    uses = [
        DiskUse("on-top", "u1", "vda", "/srv/p/top"),  # two overlays up
        DiskUse("chained", "u2", "vda", "/elsewhere/ov", chain=("/elsewhere/x", "/srv/p/base")),
        DiskUse("by-name", "u3", "vdb", "", "p", "mid"),
        DiskUse("reverts", "u4", "vda", "/srv/p/base", snapshot="s1"),
        DiskUse("apart", "u5", "vda", "/srv/p/other", chain=("/srv/p/other-base",)),
    ]
    everything = [top, base, mid, _vol("other")]
    assert users(base, uses, everything) == ("by-name", "chained", "on-top", "reverts")
    assert users(top, uses, everything) == ("on-top",)
    assert users(base, uses) == ("chained", "reverts")  # without the pool's volumes: the XML alone
    assert refusal_of(replace(base, used_by=("on-top",)), everything) == (
        "domain on-top uses it; it is the backing file of volume mid, top"
    )
    elsewhere = replace(top, pool="q", path="/srv/q/top")
    assert refusal_of(base, [base, mid, elsewhere]) == "it is the backing file of volume mid, top (pool q)"


class _BusyPoolHost:
    """A host whose second pool cannot be rescanned now (libvirt: "pool has asynchronous jobs running")."""

    def list_pools(self) -> list[PoolInfo]:
        return [PoolInfo(n, "u", "running", False, True, "dir", f"/srv/{n}", 1, 0, 1, 0) for n in ("p", "q")]

    def refresh_pool(self, name: str) -> None:
        if name == "q":
            raise OperationError("refresh pool 'q' on test:///: pool 'q' has asynchronous jobs running")

    def list_volumes(self, pool: str) -> list[VolumeInfo]:
        return [_vol("base")] if pool == "p" else []

    def disk_uses(self) -> list[DiskUse]:
        return []


def test_a_pool_that_cannot_be_rescanned_refuses_the_delete() -> None:
    # The overlay may be in the pool that was not rescanned: not knowing is no licence to delete.
    with pytest.raises(OperationError) as refused:
        delete_refusal(cast(ResourceHost, _BusyPoolHost()), _vol("base"))
    assert (refused.value.message, refused.value.hint) == (
        "refresh pool 'q' on test:///: pool 'q' has asynchronous jobs running",
        "vol-delete rescans every pool first; nothing was deleted",
    )


def test_a_lease_names_the_domain_with_its_mac_on_that_network_first() -> None:
    lease = Lease("n1", "52:54:00:aa:bb:cc", "10.0.0.5", 24, "ipv4", "h", "", 0)
    macs = [
        InterfaceMac("moved", "u1", "52:54:00:aa:bb:cc", "network", "n2"),
        InterfaceMac("web", "u2", "52:54:00:aa:bb:cc", "network", "n1"),
    ]
    assert _owner(lease, macs) == "web"
    assert _owner(lease, macs[:1]) == "moved"
    assert _owner(lease, []) is None


ARP = """IP address       HW type     Flags       HW address            Mask     Device
10.0.0.5         0x1         0x2         52:54:00:aa:bb:cc     *        virbr1
10.0.0.6         0x1         0x0         52:54:00:aa:bb:dd     *        virbr1
10.0.0.7         0x1         0x2         02:00:00:00:00:01     *        virbr1
"""


def test_arp_table_read_locally_or_flattened_over_ssh() -> None:
    macs = {"52:54:00:aa:bb:cc": "vnet7", "52:54:00:aa:bb:dd": "vnet8"}
    expected = [("vnet7", "52:54:00:aa:bb:cc", "10.0.0.5", "10.0.0.5")]
    for text in (ARP, " ".join(ARP.split())):  # incomplete entries (flags 0x0) have no MAC yet
        assert [(a.interface, a.mac, a.address, a.cidr) for a in parse_arp(text, macs)] == expected
    assert parse_arp("", macs) == ()


def test_bars_and_lease_expiry_read_the_same_in_both_faces() -> None:
    assert [bar_cells(f, 10) for f in (None, 0.0, 0.04, 0.05, 0.5, 1.0, 1.7, -1.0)] == [None, 0, 0, 0, 5, 10, 10, 0]
    assert expiry(0, 1000.0) == "never"
    assert expiry(900, 1000.0) == "expired"
    assert expiry(1000 + 3600, 1000.0) == "in 1 h"
