"""Guest facts from each source, on two real Linux guests (the lab image, TCG) on a network of the test's own.

qemu-guest-agent is not in the busybox image, so the test adds a small one: a shell loop in the guest
that answers libvirt's agent commands (guest-sync, guest-network-get-interfaces, guest-get-osinfo,
guest-get-host-name, and the fsfreeze commands for a backup) on the org.qemu.guest_agent.0 port. The
first guest has the agent channel and the agent; the second has neither, and pings the host so that
the host's ARP table knows it.
Addresses, MACs, the hostname and the OS name are the test's own choices, known before the guests boot.
"""

from __future__ import annotations

import gzip
import json
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import LOCAL_URI, run_vmtui
from fixtures_resources import add_nic, isolated_network
from lxml import etree

from vmtui.config import paths
from vmtui.drivers import connect
from vmtui.drivers.libvirt.driver import Connection
from vmtui.drivers.resources import GuestFacts
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.errors import VmtuiError
from vmtui.lab import image

OS_NAME = "vmtui test guest (busybox)"
CONSOLE_MODULE = "drivers/char/virtio_console"

# Runs as PID 1: the lab image's init (its modules), plus virtio_console for the agent port, a static
# address from the command line, a ping every 2 s to the host (keeps the host's ARP entry fresh), and
# the agent when asked for. Every reply is one JSON line, as qemu-guest-agent writes them.
INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in {modules} virtio_console; do insmod /lib/modules/$m.ko 2>/dev/null; done
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
hostname "$(arg vmtui_hostname)"
ip link set lo up; ip link set eth0 up; ip addr add "$(arg vmtui_ip)" dev eth0
(while true; do ping -c 1 -W 1 "$(arg vmtui_gw)" >/dev/null 2>&1; sleep 2; done) &
[ "$(arg vmtui_agent)" = 1 ] && /bin/agent &
echo VMTUI-GUEST-UP
while true; do sleep 60; done
"""

AGENT = r"""#!/bin/sh
port=""
while [ -z "$port" ]; do
  for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/${p##*/}
  done
  sleep 0.2
done
mac=$(cat /sys/class/net/eth0/address)
set -- $(sed -n 's/.*vmtui_ip=\([^/ ]*\)\/\([0-9]*\).*/\1 \2/p' /proc/cmdline)
v4='"ip-address-type": "ipv4"'
lo="{\"name\": \"lo\", \"hardware-address\": \"00:00:00:00:00:00\","
lo="$lo \"ip-addresses\": [{$v4, \"ip-address\": \"127.0.0.1\", \"prefix\": 8}]}"
eth="{\"name\": \"eth0\", \"hardware-address\": \"$mac\","
eth="$eth \"ip-addresses\": [{$v4, \"ip-address\": \"$1\", \"prefix\": $2}]}"
os="\"id\": \"vmtui\", \"name\": \"vmtui\", \"pretty-name\": \"{os_name}\", \"version\": \"1\","
os="$os \"kernel-release\": \"$(uname -r)\", \"machine\": \"x86_64\""
while true; do
  exec 3<>"$port"
  while IFS= read -r line <&3; do
    id=$(echo "$line" | sed -n 's/.*"id": *\([0-9]*\).*/\1/p')
    case "$line" in
      *guest-sync-delimited*) printf '\377{"return": %s}\n' "$id" >&3 ;;
      *guest-sync*) printf '{"return": %s}\n' "$id" >&3 ;;
      *guest-network-get-interfaces*) printf '{"return": [%s, %s]}\n' "$lo" "$eth" >&3 ;;
      *guest-get-osinfo*) printf '{"return": {%s}}\n' "$os" >&3 ;;
      *guest-get-host-name*) printf '{"return": {"host-name": "%s"}}\n' "$(hostname)" >&3 ;;
      *guest-fsfreeze-freeze*) echo frozen > /tmp/fsfreeze; printf '{"return": 1}\n' >&3 ;;
      *guest-fsfreeze-thaw*) echo thawed > /tmp/fsfreeze; printf '{"return": 1}\n' >&3 ;;
      *guest-fsfreeze-status*) printf '{"return": "%s"}\n' "$(cat /tmp/fsfreeze)" >&3 ;;
      *execute*) printf '{"error": {"class": "CommandNotFound", "desc": "not in this test agent"}}\n' >&3 ;;
    esac
  done
  exec 3<&-
  sleep 0.5   # the host side is not connected yet (reads end at once): try again
done
""".replace("{os_name}", OS_NAME)


@dataclass
class AgentLab:
    net: str
    subnet: str
    with_agent: str
    """Guest name: agent channel and agent."""
    without_agent: str
    """Guest name: no channel, known to the host by ARP."""
    macs: dict[str, str]
    ips: dict[str, str]
    hostname: str
    kernel_release: str


def _overlay(img: image.GuestImage, workdir: Path) -> Path:
    """The lab initramfs with our /init, the agent and virtio_console appended (a later cpio archive
    in the same file replaces earlier files: the kernel unpacks them in order)."""
    deb = image._fetch_deb(f"linux-image-{img.kernel_version}", paths().cache / "downloads")
    member = f"./lib/modules/{img.kernel_version}/kernel/{CONSOLE_MODULE}.ko"
    module = image._extract(deb, {member: "virtio_console"})["virtio_console"]
    modules = " ".join(Path(m).name for m in image.MODULES)
    entries = [
        ("init", 0o100755, INIT.replace("{modules}", modules).encode()),
        ("bin/agent", 0o100755, AGENT.encode()),
        ("lib/modules/virtio_console.ko", 0o100644, module),
    ]
    initrd = workdir / "initrd.img"
    initrd.write_bytes(img.initrd.read_bytes() + gzip.compress(image._cpio(entries), compresslevel=1))
    return initrd


def _guest(name: str, kernel: Path, initrd: Path, cmdline: str, net: str, mac: str, *, agent: bool) -> str:
    spec = GuestSpec(
        name, memory_mib=192, domain_type="qemu", nic_model=None, role="test", kernel=kernel, initrd=initrd
    )
    root = etree.fromstring(build_guest_xml(spec))
    root.find("os/cmdline").text = cmdline  # type: ignore[union-attr]
    add_nic(root, net, mac)
    if agent:
        devices = root.find("devices")
        assert devices is not None
        channel = etree.SubElement(devices, "channel", type="unix")
        etree.SubElement(channel, "target", type="virtio", name="org.qemu.guest_agent.0")
    return etree.tostring(root, encoding="unicode")


@pytest.fixture(scope="module")
def agent_lab() -> Iterator[AgentLab]:
    try:
        conn = connect(LOCAL_URI)
    except VmtuiError as exc:
        pytest.skip(f"local libvirtd not reachable ({exc}); run `make setup`")
    img = image.build_image()  # the lab's image: built once per home, reused when the lab made it
    token = secrets.token_hex(3)
    prefix = f"vmtui-test-{token}"
    workdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-guest-"))
    workdir.chmod(0o755)  # QEMU (libvirt-qemu) reads the kernel and initramfs from here
    kernel = workdir / "vmlinuz"
    shutil.copyfile(img.kernel, kernel)
    initrd = _overlay(img, workdir)
    made: list[str] = []
    try:
        with isolated_network(prefix) as (net, _bridge, subnet):
            lab = AgentLab(
                net=net,
                subnet=subnet,
                with_agent=f"{prefix}-agent",
                without_agent=f"{prefix}-arp",
                macs={},
                ips={},
                hostname=f"guest-{token}",
                kernel_release=img.kernel_version,
            )
            for index, (name, agent) in enumerate(((lab.with_agent, True), (lab.without_agent, False)), start=1):
                lab.macs[name] = f"52:54:00:{token[:2]}:{token[2:4]}:{index:02x}"
                lab.ips[name] = f"{subnet}.{60 + index}"
                cmdline = (
                    f"{img.cmdline()} vmtui_ip={lab.ips[name]}/24 vmtui_gw={subnet}.1 "
                    f"vmtui_hostname={lab.hostname} vmtui_agent={int(agent)}"
                )
                conn.define_and_start(_guest(name, kernel, initrd, cmdline, net, lab.macs[name], agent=agent))
                made.append(name)
            yield lab
            for name in made:
                conn.destroy_and_undefine(name)
            made.clear()
    finally:
        for name in made:
            conn.destroy_and_undefine(name)
        conn.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _facts_when(conn: Connection, name: str, ready: str, within: float = 90.0) -> GuestFacts:
    """Ask until the facts come from `ready` (the guest boots in seconds under TCG; more when loaded)."""
    deadline = time.monotonic() + within
    while True:
        facts = conn.guest_facts(name)
        if facts.address_source == ready or time.monotonic() > deadline:
            return facts
        time.sleep(1)


def test_agent_gives_addresses_os_and_hostname_and_is_named_the_source(agent_lab: AgentLab) -> None:
    name = agent_lab.with_agent
    with connect(LOCAL_URI) as conn:
        facts = _facts_when(conn, name, "agent")
    assert facts.agent == "connected", facts
    assert facts.address_source == "agent"
    assert [(a.interface, a.mac, a.address, a.prefix) for a in facts.addresses] == [
        ("eth0", agent_lab.macs[name], agent_lab.ips[name], 24)
    ]  # the agent's loopback address is left out
    assert facts.tried == ("agent: 1",)

    body = json.loads(run_vmtui("stats", name, "-c", LOCAL_URI, "--json", "--interval", "0.2", check=True).stdout)
    guest = body["guest"]
    assert (guest["agent"], guest["address_source"]) == ("connected", "agent"), guest["notes"]
    assert guest["addresses"][0]["cidr"] == f"{agent_lab.ips[name]}/24"
    assert (guest["os_name"], guest["os_id"]) == (OS_NAME, "vmtui")
    assert guest["kernel"] == agent_lab.kernel_release
    assert guest["hostname"] == agent_lab.hostname
    human = run_vmtui("stats", name, "-c", LOCAL_URI, "--interval", "0.2", check=True).stdout
    assert f"eth0 {agent_lab.ips[name]}/24  (from agent)" in human
    assert agent_lab.hostname in human

    # A read-only connection may not talk to an agent (libvirt forbids it): said, and the host's ARP answers.
    body = json.loads(
        run_vmtui("stats", name, "-c", LOCAL_URI, "--read-only", "--json", "--interval", "0.2", check=True).stdout
    )
    guest = body["guest"]
    assert guest["agent"] == "not asked"
    assert guest["tried"][0] == "agent: not asked"
    assert guest["address_source"] in ("lease", "arp")
    assert (guest["hostname"], guest["os_name"]) == (None, None)


def test_without_an_agent_the_host_arp_table_gives_the_address_and_says_so(agent_lab: AgentLab) -> None:
    name = agent_lab.without_agent
    with connect(LOCAL_URI) as conn:
        facts = _facts_when(conn, name, "arp")
    assert facts.agent == "absent"
    assert any("no guest agent" in note for note in facts.notes)
    assert facts.address_source == "arp", facts
    assert [(a.mac, a.address) for a in facts.addresses] == [(agent_lab.macs[name], agent_lab.ips[name])]
    assert (facts.os_name, facts.hostname) == (None, None)  # only an agent can tell those
    # The host's own neighbour table, read independently, agrees.
    neigh = subprocess.run(["ip", "neigh", "show", agent_lab.ips[name]], capture_output=True, text=True).stdout
    assert agent_lab.macs[name] in neigh


def test_a_backup_freezes_the_guest_through_its_agent_and_thaws_it(agent_lab: AgentLab) -> None:
    """With an agent that answers, the backup is taken frozen and says so; the manifest keeps it."""
    from guest_disks import image_dir, qcow2, virsh

    name = agent_lab.with_agent
    with connect(LOCAL_URI) as conn:
        _facts_when(conn, name, "agent")  # the agent answers
    with image_dir() as folder:
        disk = qcow2(folder / "data.qcow2")
        virsh("attach-disk", name, str(disk), "vdb", "--driver", "qemu", "--subdriver", "qcow2", "--live")
        try:
            proc = run_vmtui("backup", name, "-c", LOCAL_URI, "--to", str(folder / "b"), "--json")
            assert proc.returncode == 0, proc.stdout + proc.stderr
            backup = json.loads(proc.stdout)["backup"]
            assert backup["consistency"] == "frozen"
            assert json.loads((Path(backup["path"]) / "manifest.json").read_text())["consistency"] == "frozen"
            # The guest's own view: frozen by the backup, and thawed again since.
            said = virsh("qemu-agent-command", name, '{"execute": "guest-fsfreeze-status"}')
            assert json.loads(said)["return"] == "thawed"
        finally:
            for checkpoint in virsh("checkpoint-list", name, "--name").split():
                virsh("checkpoint-delete", name, checkpoint)
            virsh("detach-disk", name, "vdb", "--live")
