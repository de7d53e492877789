"""The pure parts of consoles, displays, XML edits and snapshots: what vmtui decides before calling libvirt."""

from __future__ import annotations

import pytest

from vmtui.drivers.xml.parts import (
    Graphics,
    build_snapshot_xml,
    has_text_console,
    identity,
    read_disks,
    read_graphics,
    read_snapshot_xml,
)
from vmtui.drivers.xml.read import parse_xml
from vmtui.errors import OperationError, UsageError
from vmtui.models import Accelerator, DiskFile, DomainInfo, UndefineFacts
from vmtui.ops.console import reach
from vmtui.ops.snapshots import Location, check_name, plan_snapshot
from vmtui.ops.xml import UndefinePlan, editor_argv

SSH_URI = "qemu+ssh://root@10.9.8.7:2222/system?keyfile=/k/id&command=/w/ssh%20wrapper"

DOMAIN = """<domain type='kvm'><name>web</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
<os><type>hvm</type><nvram>/var/lib/libvirt/qemu/nvram/web_VARS.fd</nvram></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/img/web.qcow2'/>
  <target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/img/data.raw'/>
  <target dev='vdb' bus='virtio'/></disk>
<disk type='file' device='cdrom'><source file='/iso/install.iso'/><target dev='sda' bus='sata'/><readonly/></disk>
<serial type='pty'><target port='0'/></serial>
<graphics type='vnc' port='5901' autoport='yes' listen='0.0.0.0'><listen type='address' address='0.0.0.0'/></graphics>
<graphics type='spice' port='5902' tlsPort='5903' autoport='yes'><listen type='address' address='127.0.0.1'/></graphics>
<graphics type='vnc'><listen type='socket' socket='/run/libvirt/qemu/vnc.sock'/></graphics>
</devices></domain>"""


def info(state: str = "running", name: str = "web") -> DomainInfo:
    return DomainInfo("11111111-2222-3333-4444-555555555555", name, 1, state, Accelerator.KVM, 1, 1024, 1024, True)


def test_graphics_consoles_and_disks_read_from_the_xml() -> None:
    vnc, spice, sock = read_graphics(DOMAIN)
    assert vnc == Graphics("vnc", 5901, None, "0.0.0.0", None)
    assert spice == Graphics("spice", 5902, 5903, "127.0.0.1", None)
    assert sock == Graphics("vnc", None, None, None, "/run/libvirt/qemu/vnc.sock")
    assert has_text_console(DOMAIN)
    assert not has_text_console("<domain><devices><video/></devices></domain>")
    disks = read_disks(DOMAIN)
    assert [(d.target, d.driver_type, d.readonly) for d in disks] == [
        ("vda", "qcow2", False),
        ("vdb", "raw", False),
        ("sda", "", True),
    ]
    assert identity(DOMAIN) == ("web", "11111111-2222-3333-4444-555555555555")
    with pytest.raises(ValueError, match="not a domain"):
        identity("<network><name>x</name></network>")


def test_local_display_uri_and_no_tunnel() -> None:
    vnc, spice, sock = read_graphics(DOMAIN)
    shown = reach(vnc, "qemu:///system")
    assert shown.uri == "vnc://127.0.0.1:5901"  # listening on every address: reached on loopback
    assert shown.tunnel is None
    assert reach(spice, "").uri == "spice://127.0.0.1:5902?tls-port=5903"
    assert reach(sock, "qemu:///system").uri is None


def test_remote_display_tunnel_binds_loopback_only_and_uses_the_uris_ssh() -> None:
    _vnc, spice, sock = read_graphics(DOMAIN)
    shown = reach(spice, SSH_URI, local_port=15000)
    assert shown.uri is None  # it listens on the remote host's loopback: not reachable directly
    assert shown.tunnel is not None
    tunnel = list(shown.tunnel)
    assert tunnel[0] == "/w/ssh wrapper"  # the URI's command=, unquoted, one argument
    assert tunnel[-2:] == ["--", "10.9.8.7"]
    assert ["-p", "2222"] == tunnel[tunnel.index("-p") : tunnel.index("-p") + 2]
    assert ["-i", "/k/id"] == tunnel[tunnel.index("-i") : tunnel.index("-i") + 2]
    forwards = [tunnel[i + 1] for i, arg in enumerate(tunnel) if arg == "-L"]
    assert forwards == ["127.0.0.1:15000:127.0.0.1:5902", "127.0.0.1:15001:127.0.0.1:5903"]
    assert "ExitOnForwardFailure=yes" in tunnel
    assert shown.tunnel_uri == "spice://127.0.0.1:15000?tls-port=15001"
    socket_tunnel = reach(sock, SSH_URI).tunnel
    assert socket_tunnel is not None
    assert "127.0.0.1:5900:/run/libvirt/qemu/vnc.sock" in socket_tunnel


def test_remote_display_on_every_address_is_also_reachable_directly() -> None:
    vnc = read_graphics(DOMAIN)[0]
    shown = reach(vnc, "qemu+tcp://kvm7.example/system")
    assert shown.uri == "vnc://kvm7.example:5901"
    assert shown.tunnel is not None
    assert shown.tunnel[-1] == "kvm7.example"
    assert "127.0.0.1:5901:127.0.0.1:5901" in shown.tunnel


@pytest.mark.parametrize("name", ["s1", "before-upgrade", "v2.0_rc+1:x@y"])
def test_snapshot_names_accepted(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "-x", ".hidden", "a/b", "a b", "x\ny", "ä", "x" * 65, "<b>"])
def test_snapshot_names_refused_before_any_call(name: str) -> None:
    with pytest.raises(UsageError):
        check_name(name)


def test_snapshot_plan_internal_when_all_qcow2_else_external_with_memory_file() -> None:
    qcow_only = DOMAIN.replace("<driver name='qemu' type='raw'/>", "<driver name='qemu' type='qcow2'/>")
    plan = plan_snapshot(info(), qcow_only, "s1", description="<b>x</b>")
    assert plan.location is Location.INTERNAL
    assert plan.memory
    assert [d.target for d in plan.disks] == ["vda", "vdb"]  # the cdrom is never snapshotted
    root = parse_xml(plan.xml)
    assert root.findtext("name") == "s1"
    assert root.findtext("description") == "<b>x</b>"  # text, escaped by lxml
    assert root.find("disks") is None

    plan = plan_snapshot(info(), DOMAIN, "s2")  # a raw disk: internal is impossible
    assert plan.location is Location.EXTERNAL
    assert plan.memory_file == "/img/web.s2.mem"
    root = parse_xml(plan.xml)
    assert root.find("memory").get("file") == "/img/web.s2.mem"  # type: ignore[union-attr]
    assert [(d.get("name"), d.get("snapshot")) for d in root.iterfind("disks/disk")] == [
        ("vda", "external"),
        ("vdb", "external"),
    ]

    off = plan_snapshot(info("shut-off"), DOMAIN, "s3")
    assert not off.memory
    assert off.memory_file is None
    assert parse_xml(off.xml).find("memory").get("snapshot") == "no"  # type: ignore[union-attr]

    with pytest.raises(OperationError, match="vdb not qcow2"):
        plan_snapshot(info(), DOMAIN, "s4", location=Location.INTERNAL)
    with pytest.raises(OperationError, match="no writable disk"):
        plan_snapshot(info(), "<domain><name>d</name><devices/></domain>", "s5")


def test_snapshot_xml_read_back() -> None:
    text = """<domainsnapshot><name>s1</name><description>d</description><state>running</state>
    <parent><name>s0</name></parent><creationTime>1700000000</creationTime><memory snapshot='internal'/>
    <disks><disk name='vda' snapshot='internal'/><disk name='sda' snapshot='no'/></disks></domainsnapshot>"""
    facts = read_snapshot_xml(text)
    assert (facts.name, facts.parent, facts.created, facts.location, facts.memory) == (
        "s1",
        "s0",
        1700000000,
        "internal",
        True,
    )
    off = read_snapshot_xml(build_snapshot_xml("s2", "", external_disks=("vda",), no_memory=True))
    assert (off.location, off.memory) == ("external", False)


def test_editor_is_split_like_a_shell_never_run_by_one() -> None:
    assert editor_argv("/t/f.xml", {"EDITOR": "code --wait"}) == ["code", "--wait", "/t/f.xml"]
    assert editor_argv("/t/f.xml", {"VISUAL": "vim -u 'my rc'", "EDITOR": "nano"}) == ["vim", "-u", "my rc", "/t/f.xml"]
    assert editor_argv("/t/f.xml", {}) == ["vi", "/t/f.xml"]
    assert editor_argv("/t/f.xml", {"EDITOR": "ed; rm -rf /"}) == ["ed;", "rm", "-rf", "/", "/t/f.xml"]
    with pytest.raises(UsageError):
        editor_argv("/t/f.xml", {"EDITOR": "vim 'unclosed"})


def test_undefine_question_names_everything_that_goes_and_stays() -> None:
    disks = read_disks(DOMAIN)
    facts = UndefineFacts(
        "u", "w[b]x", active=False, persistent=True, snapshots=2, managed_save=True,
        nvram="/var/lib/libvirt/qemu/nvram/web_VARS.fd", disks=disks, volumes=(disks[0],),
    )  # fmt: skip
    question = UndefinePlan("kvm1", facts, keep_nvram=False, remove_storage=True).question()
    assert question.startswith("Undefine w[b]x on kvm1?")
    assert "the metadata of 2 snapshots" in question
    assert "managed save image" in question
    assert "NVRAM file /var/lib/libvirt/qemu/nvram/web_VARS.fd" in question
    assert "the storage volumes /img/web.qcow2" in question
    assert "Kept: /img/data.raw, /iso/install.iso." in question  # no pool holds data.raw; the cdrom is never removed
    kept = UndefinePlan("kvm1", facts, keep_nvram=True, remove_storage=False)
    assert "NVRAM" not in kept.question()
    assert kept.to_json()["volumes_removed"] == []
    assert isinstance(kept.kept[0], DiskFile)
