"""Devices on the real local libvirtd and QEMU, through the CLI as a user runs it.

An e1000 NIC switched to virtio live (a Linux guest under TCG releases it) and in the config; a guest
that never releases a NIC (a BIOS guest has no OS) reported as a failed live half; a disk added to a
storage pool and the running guest; a SATA disk moved to virtio for the next boot, then booted; the XML
of a VF NIC and a VF pool NIC accepted by libvirt. Every guest, volume, pool and network is removed,
also on failure. Expected values come from the XML libvirt reports, read here with virsh.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LOCAL_URI, run_vmtui
from linux_image import cached_linux_image
from lxml import etree

from vmtui.drivers.libvirt.driver import Connection
from vmtui.drivers.pci import PciAddress
from vmtui.drivers.xml.devices import HostdevNetworkSpec, VfNicSpec, text
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.lab.image import GuestImage

pytestmark = pytest.mark.qemu

SCHEMAS = Path("/usr/share/libvirt/schemas")
GUEST_UP_WITHIN = 240.0
"""A Linux guest under TCG on two shared cores: seconds to wait for its balloon driver (not an assertion)."""


def virsh(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["virsh", "-c", LOCAL_URI, *args], capture_output=True, text=True, timeout=60, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)}: {proc.stderr}")
    return proc.stdout


def xml_of(name: str, *, inactive: bool = False) -> etree._Element:
    return etree.fromstring(virsh("dumpxml", *(["--inactive"] if inactive else []), name).encode())


def nic(root: etree._Element, mac: str) -> etree._Element:
    return next(i for i in root.iterfind("devices/interface") if i.find("mac").get("address") == mac)  # type: ignore[union-attr]


class Made:
    """What a test made on the host, removed in reverse order whatever happens."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.prefix = f"vmtui-test-{secrets.token_hex(3)}"
        self.domains: list[str] = []
        self.pools: list[tuple[str, Path]] = []
        self.networks: list[str] = []

    def guest(self, role: str, *, start: bool = True, extra: list[etree._Element] | None = None, **spec: object) -> str:
        name = f"{self.prefix}-{role}"
        root = etree.fromstring(build_guest_xml(GuestSpec(name=name, role="test", **spec)).encode())  # type: ignore[arg-type]
        for el in extra or []:
            root.find("devices").append(el)  # type: ignore[union-attr]
        self.domains.append(name)
        virsh_define(etree.tostring(root, encoding="unicode"))
        if start:
            virsh("start", name)
        return name

    def pool(self) -> tuple[str, Path]:
        # /var/tmp and 0755: QEMU runs as libvirt-qemu and must reach the volume (pytest's tmp dirs are 0700).
        path = Path(tempfile.mkdtemp(prefix="vmtui-test-pool-", dir="/var/tmp"))
        path.chmod(0o755)
        name = f"{self.prefix}-pool"
        self.pools.append((name, path))
        virsh("pool-create-as", name, "dir", "--target", str(path))
        return name, path

    def remove_all(self) -> None:
        for name in reversed(self.domains):
            self.conn.destroy_and_undefine(name)
        for name in self.networks:
            self.conn.remove_network(name)
        for name, path in self.pools:
            virsh("pool-destroy", name, check=False)
            shutil.rmtree(path, ignore_errors=True)


def virsh_define(xml: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(xml)
    try:
        virsh("define", f.name, "--validate")
    finally:
        os.unlink(f.name)


@pytest.fixture
def made(local_conn: Connection) -> Iterator[Made]:
    m = Made(local_conn)
    try:
        yield m
    finally:
        m.remove_all()


@pytest.fixture(scope="module")
def linux_image() -> GuestImage:
    return cached_linux_image()


def wait_for_guest_os(conn: Connection, name: str) -> None:
    """Until the guest's balloon driver reports: the kernel (and its hotplug drivers) is up."""
    deadline = time.monotonic() + GUEST_UP_WITHIN
    while time.monotonic() < deadline:
        stats = next((d.raw for d in conn.sample().domains if d.name == name), {})
        if "balloon.unused" in stats or "balloon.usable" in stats:
            return
        time.sleep(1)
    raise AssertionError(f"{name}: no balloon statistics within {GUEST_UP_WITHIN:g} s; the guest did not boot")


def test_e1000_nic_switched_to_virtio_live_and_in_config(
    made: Made, local_conn: Connection, linux_image: GuestImage
) -> None:
    name = made.guest(
        "linux",
        memory_mib=256,
        domain_type="qemu",
        nic_model="e1000",
        kernel=linux_image.kernel,
        initrd=linux_image.initrd,
        cmdline=linux_image.cmdline(),
    )
    before = xml_of(name).find("devices/interface")
    assert before is not None
    mac = before.find("mac").get("address")  # type: ignore[union-attr]
    slot = dict(before.find("address").attrib)  # type: ignore[union-attr]
    explained = json.loads(run_vmtui("explain", name, "-c", LOCAL_URI, "--json", "--interval", "0.3").stdout)
    assert f"nic-emulated:{mac}" in [f["key"] for f in explained["findings"]]
    wait_for_guest_os(local_conn, name)

    proc = run_vmtui("devices", "virtio", name, "--nic", str(mac), "--yes", "--json", "-c", LOCAL_URI, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (change,) = json.loads(proc.stdout)["changes"]
    assert (change["changed"], change["live"]["outcome"], change["config"]["outcome"]) == ("both", "done", "done")
    assert (change["before"], change["after"], change["device"]) == ("e1000", "virtio", mac)

    live = nic(xml_of(name), str(mac))
    assert live.find("model").get("type") == "virtio"  # type: ignore[union-attr]
    assert dict(live.find("address").attrib) == slot  # type: ignore[union-attr]  # same PCI slot
    assert nic(xml_of(name, inactive=True), str(mac)).find("model").get("type") == "virtio"  # type: ignore[union-attr]
    explained = json.loads(run_vmtui("explain", name, "-c", LOCAL_URI, "--json", "--interval", "0.3").stdout)
    assert not [f for f in explained["findings"] if f["key"].startswith("nic-emulated:")]
    shown = json.loads(run_vmtui("devices", name, "-c", LOCAL_URI, "--json", check=True).stdout)["devices"]
    (row,) = [d for d in shown if d["kind"] == "nic"]
    assert (row["class"], row["model"], row["mac"], row["switch"]) == ("paravirtual", "virtio", mac, "done")


def test_a_guest_that_never_releases_its_nic_is_a_failed_live_half(made: Made) -> None:
    # A BIOS guest runs no OS: nothing answers the unplug request. The config half still happens.
    name = made.guest("bios", domain_type="kvm", nic_model="e1000")
    mac = str(xml_of(name).find("devices/interface/mac").get("address"))  # type: ignore[union-attr]
    proc = run_vmtui("devices", "virtio", name, "--all", "--timeout", "2", "--yes", "--json", "-c", LOCAL_URI)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    body = json.loads(proc.stdout)
    assert body["ok"] is False
    (change,) = body["changes"]
    assert (change["changed"], change["live"]["outcome"], change["config"]["outcome"]) == ("config", "failed", "done")
    assert "did not release" in change["live"]["detail"]
    assert nic(xml_of(name), mac).find("model").get("type") == "e1000"  # type: ignore[union-attr]
    assert nic(xml_of(name, inactive=True), mac).find("model").get("type") == "virtio"  # type: ignore[union-attr]

    # Run again for the config alone: it is virtio there already, so nothing changes and none is said.
    again = run_vmtui("devices", "virtio", name, "--all", "--config", "--yes", "--json", "-c", LOCAL_URI)
    assert again.returncode == 0, again.stdout + again.stderr
    (change,) = json.loads(again.stdout)["changes"]
    assert (change["changed"], change["config"]) == (
        "none",
        {"outcome": "skipped", "detail": "already virtio in the persistent config"},
    )


def test_a_nic_model_written_in_any_case_is_the_model_libvirt_runs(made: Made) -> None:
    # What the reader's rule rests on, asked of this libvirt: a NIC model it knows is matched ignoring
    # case and stored in its spelling; a disk bus (like balloon, video, RNG models) is matched exactly.
    nic_el = etree.fromstring(
        "<interface type='user'><mac address='52:54:00:21:00:01'/><model type='ViRtIo'/></interface>"
    )
    name = made.guest("case", start=False, domain_type="qemu", nic_model=None, extra=[nic_el])
    assert nic(xml_of(name, inactive=True), "52:54:00:21:00:01").find("model").get("type") == "virtio"  # type: ignore[union-attr]
    shown = json.loads(run_vmtui("devices", name, "-c", LOCAL_URI, "--json", check=True).stdout)["devices"]
    (row,) = [d for d in shown if d["kind"] == "nic"]
    assert (row["class"], row["model"]) == ("paravirtual", "virtio")
    bad_bus = build_guest_xml(GuestSpec(name=f"{made.prefix}-bus", role="test", domain_type="qemu", nic_model=None))
    root = etree.fromstring(bad_bus.encode())
    disk = etree.SubElement(root.find("devices"), "disk", type="file", device="disk")  # type: ignore[arg-type]
    etree.SubElement(disk, "source", file="/nonexistent.img")
    etree.SubElement(disk, "target", dev="vdb", bus="VirtIO")
    with pytest.raises(AssertionError, match="Failed to define"):  # schema and parser both refuse it
        virsh_define(etree.tostring(root, encoding="unicode"))


def test_add_disk_is_visible_in_the_domain_and_a_failed_attach_leaves_no_volume(made: Made) -> None:
    name = made.guest("disk", domain_type="kvm", nic_model=None)
    pool, path = made.pool()
    proc = run_vmtui("devices", "add-disk", name, "64M", "--pool", pool, "--json", "-c", LOCAL_URI)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    change = json.loads(proc.stdout)
    assert (change["changed"], change["device"], change["after"]) == ("both", "vda", "virtio-blk")
    volume = path / f"{name}-vda.qcow2"
    assert change["facts"]["path"] == str(volume)
    assert (
        json.loads(subprocess.check_output(["qemu-img", "info", "--output=json", "-U", str(volume)]))["virtual-size"]
        == 64 * 1024**2
    )
    for root in (xml_of(name), xml_of(name, inactive=True)):
        (disk,) = root.iterfind("devices/disk")
        assert (disk.find("target").get("dev"), disk.find("target").get("bus")) == ("vda", "virtio")  # type: ignore[union-attr]
        assert disk.find("source").get("file") == str(volume)  # type: ignore[union-attr]
    assert "vda" in virsh("domblklist", name)
    shown = json.loads(run_vmtui("devices", name, "-c", LOCAL_URI, "--json", check=True).stdout)["devices"]
    assert [(d["name"], d["class"], d["model"]) for d in shown if d["kind"] == "disk"] == [
        ("vda", "paravirtual", "virtio-blk")
    ]

    # The guest's one spare hotplug slot is taken now: the next attach fails, and its volume goes again.
    proc = run_vmtui("devices", "add-disk", name, "64M", "--pool", pool, "--json", "-c", LOCAL_URI)
    assert proc.returncode == 1
    error = json.loads(proc.stdout)["error"]
    assert "No more available PCI slots" in error["message"]
    assert "--config" in error["hint"]
    assert sorted(p.name for p in path.iterdir()) == [volume.name]


def test_sata_disk_moves_to_virtio_at_the_next_boot(made: Made) -> None:
    pool, path = made.pool()
    virsh("vol-create-as", pool, "data.qcow2", "16M", "--format", "qcow2")
    disk = etree.fromstring(
        f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{path}/data.qcow2'/>"
        "<target dev='sda' bus='sata'/></disk>"
    )
    name = made.guest("sata", domain_type="kvm", nic_model=None, extra=[disk])
    proc = run_vmtui("devices", "virtio", name, "--disk", "sda", "--yes", "--json", "-c", LOCAL_URI)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (change,) = json.loads(proc.stdout)["changes"]
    assert (change["changed"], change["live"]["outcome"], change["config"]["outcome"]) == ("config", "skipped", "done")
    assert change["facts"]["target"] == "vda"
    live_target = xml_of(name).find("devices/disk/target")
    config_target = xml_of(name, inactive=True).find("devices/disk/target")
    assert (live_target.get("dev"), live_target.get("bus")) == ("sda", "sata")  # type: ignore[union-attr]
    assert (config_target.get("dev"), config_target.get("bus")) == ("vda", "virtio")  # type: ignore[union-attr]
    shown = json.loads(run_vmtui("devices", name, "-c", LOCAL_URI, "--json", check=True).stdout)["devices"]
    (row,) = [d for d in shown if d["kind"] == "disk"]
    assert (row["name"], row["class"], row["next_boot"]) == ("sda", "emulated", "virtio-blk as vda")
    defined = virsh("dumpxml", name, "--inactive")
    again = run_vmtui("devices", "virtio", name, "--disk", "sda", "--yes", "--json", "-c", LOCAL_URI)
    assert again.returncode == 0, again.stdout + again.stderr  # a re-run: nothing to do, nothing failed
    (change,) = json.loads(again.stdout)["changes"]
    assert (change["changed"], change["config"]["outcome"]) == ("none", "skipped")
    assert virsh("dumpxml", name, "--inactive") == defined

    virsh("destroy", name)
    virsh("start", name)
    booted = xml_of(name).find("devices/disk/target")
    assert (booted.get("dev"), booted.get("bus")) == ("vda", "virtio")  # type: ignore[union-attr]


def test_converting_what_is_virtio_already_is_a_successful_no_op_in_every_form(made: Made) -> None:
    """`--nic MAC` on a virtio NIC exited 2 ("is already virtio") where `--all` exited 0: re-runs differed."""
    disk = etree.fromstring(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        f"<source file='/var/tmp/{made.prefix}-absent.img'/><target dev='vda' bus='virtio'/></disk>"
    )
    name = made.guest("virtio", start=False, domain_type="qemu", nic_model="virtio", extra=[disk])
    mac = str(xml_of(name, inactive=True).find("devices/interface/mac").get("address"))  # type: ignore[union-attr]
    defined = virsh("dumpxml", name, "--inactive")
    for form, says in (
        (["--nic", mac], f"NIC {mac} of {name} is already virtio"),
        (["--nic", mac.upper()], f"NIC {mac.upper()} of {name} is already virtio"),
        (["--disk", "vda"], f"disk vda of {name} is already virtio-blk"),
        (["--all"], "no emulated NIC or disk"),
    ):
        proc = run_vmtui("devices", "virtio", name, *form, "--yes", "--json", "-c", LOCAL_URI)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert json.loads(proc.stdout) == {
            "ok": True,
            "changes": [],
            "cancelled_before": [],
            "nothing_to_convert": says,
        }
        human = run_vmtui("devices", "virtio", name, *form, "--yes", "-c", LOCAL_URI)
        assert human.returncode == 0, human.stdout + human.stderr
        assert human.stdout.strip() == f"nothing to convert: {says}"
    assert virsh("dumpxml", name, "--inactive") == defined


def test_vf_nic_xml_is_accepted_by_libvirt(made: Made, local_conn: Connection) -> None:
    vf = VfNicSpec(PciAddress.parse("0000:03:10.1"), "52:54:00:aa:bb:01", 42).element()
    root = etree.fromstring(build_guest_xml(GuestSpec(name=f"{made.prefix}-vf", role="test", nic_model=None)).encode())
    root.find("devices").append(vf)  # type: ignore[union-attr]
    # libvirt's own schema, as virt-xml-validate checks it (that script needs xmllint, not installed here).
    schema = etree.RelaxNG(etree.parse(str(SCHEMAS / "domain.rng")))
    assert schema.validate(root), schema.error_log
    pool_xml = HostdevNetworkSpec("sriov-eth3", "eth3").element()
    network_schema = etree.RelaxNG(etree.parse(str(SCHEMAS / "network.rng")))
    assert network_schema.validate(pool_xml), network_schema.error_log
    # Defined (not started: there is no such VF here) with libvirt's own validation, and read back.
    name = made.guest("vf", start=False, nic_model=None, extra=[vf])
    iface = xml_of(name, inactive=True).find("devices/interface[@type='hostdev']")
    assert iface is not None
    assert iface.get("managed") == "yes"
    assert iface.find("mac").get("address") == "52:54:00:aa:bb:01"  # type: ignore[union-attr]
    assert iface.find("vlan/tag").get("id") == "42"  # type: ignore[union-attr]
    assert PciAddress.from_element(iface.find("source/address")) == PciAddress(0, 3, 0x10, 1)  # type: ignore[arg-type]
    # And attached to a persistent definition as `sriov attach --vf ... --config` does.
    second = VfNicSpec(PciAddress.parse("0000:03:10.2"), None, 7).element()
    local_conn.attach_device(name, text(second), live=False, config=True)
    vlans = [t.get("id") for t in xml_of(name, inactive=True).iterfind("devices/interface[@type='hostdev']/vlan/tag")]
    assert vlans == ["42", "7"]


def test_vf_pool_nic_attached_and_detached_in_the_config(made: Made, local_conn: Connection) -> None:
    pool = f"{made.prefix}-vfs"
    made.networks.append(pool)
    # A VF pool over a PF this host does not have: defined (its start would need the PF), never started.
    local_conn.define_network(text(HostdevNetworkSpec(pool, "vmtuinopf0").element()), start=False, autostart=False)
    name = made.guest("pool", start=False, nic_model=None)
    mac = "52:54:00:12:34:56"
    proc = run_vmtui("sriov", "attach", name, "--pool", pool, "--mac", mac, "--vlan", "7", "--json", "-c", LOCAL_URI)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    change = json.loads(proc.stdout)
    assert (change["changed"], change["live"]["outcome"]) == ("config", "skipped")
    iface = nic(xml_of(name, inactive=True), mac)
    assert (iface.get("type"), iface.find("source").get("network")) == ("network", pool)  # type: ignore[union-attr]
    assert iface.find("vlan/tag").get("id") == "7"  # type: ignore[union-attr]

    # Not a terminal and no --yes: refused, nothing changed.
    assert run_vmtui("sriov", "detach", name, "--mac", mac, "-c", LOCAL_URI).returncode == 2
    assert xml_of(name, inactive=True).find("devices/interface") is not None
    proc = run_vmtui("sriov", "detach", name, "--mac", mac, "--yes", "--json", "-c", LOCAL_URI)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["config"]["outcome"] == "done"
    assert xml_of(name, inactive=True).find("devices/interface") is None
