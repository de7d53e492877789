"""`vmtui lab`: real libvirt hosts in namespaces, reached over SSH with verified host keys."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest
from fixtures_lab import LabHandle

from vmtui.drivers import connect
from vmtui.drivers.libvirt.driver import Connection
from vmtui.errors import DeniedError, VmtuiError
from vmtui.lab import netns

pytestmark = pytest.mark.lab


def _json(proc: subprocess.CompletedProcess[str]) -> object:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return json.loads(proc.stdout)


def _hosts_json(lab: LabHandle) -> dict[str, dict[str, object]]:
    rows = _json(lab.vmtui("hosts", "--json"))
    assert isinstance(rows, list)
    return {row["name"]: row for row in rows}


def test_hosts_json_shows_lab_hosts_reachable_over_ssh(lab: LabHandle) -> None:
    rows = _hosts_json(lab)
    for host in lab.hosts:
        row = rows[host.name]
        assert row["reachable"] is True, row["error"]
        uri = str(row["uri"])
        assert uri.startswith(f"qemu+ssh://root@{host.address}/system?")
        assert "command=" in uri
        assert "keyfile=" in uri
        assert "no_verify" not in uri
        assert "StrictHostKeyChecking" not in uri
        info = row["info"]
        assert isinstance(info, dict)
        assert info["hostname"] == host.name  # its own UTS namespace
    config = (lab.root / "ssh" / "ssh_config").read_text()
    assert "StrictHostKeyChecking yes" in config
    assert "BatchMode yes" in config
    assert f"UserKnownHostsFile {lab.known_hosts}" in config


def test_status_json_reports_daemons_and_contrasting_guests(lab: LabHandle) -> None:
    body = _json(lab.vmtui("lab", "status", "--json"))
    assert isinstance(body, dict)
    by_name = {h["name"]: h for h in body["hosts"]}
    for host in lab.hosts:
        report = by_name[host.name]
        assert report["action"] == "running"
        assert report["reachable"] is True, report["error"]
        assert all(report["pids"].values()), report["pids"]
        pools = [(p["name"], p["state"], p["volumes"]) for p in report["pools"]]
        assert pools == [("default", "running", 1 if host.name == "lab2" else 0)], pools
        guests = {g["name"]: g for g in report["guests"]}
        # A lab host starts empty: the system libvirtd's own definitions must not leak into it.
        system = {p.stem for p in Path("/etc/libvirt/qemu").glob("*.xml")}
        assert not system & set(guests)
        assert guests[f"{host.name}-tcg-e1000"]["accelerator"] == "tcg"
        virtio = guests.get(f"{host.name}-kvm-virtio") or guests[f"{host.name}-tcg-virtio"]
        assert all(g["state"] == "running" for g in guests.values()), guests
        # KVM is usable on this kind of machine (the setup opens /dev/kvm to group kvm): the guest uses it.
        assert virtio["accelerator"] == "kvm"
    with connect(lab.uris["lab1"]) as conn:
        xml = conn.domain_xml("lab1-tcg-e1000")
    assert "e1000" in xml
    assert 'role="lab"' in xml.replace("'", '"')


def test_status_shows_a_markup_name_literally_and_aligned(lab: LabHandle, tmp_path: Path) -> None:
    """A guest named `[red]mk...` is listed as typed (it was "mk", red, and its columns shifted)."""
    from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml

    name = f"[red]mk{secrets.token_hex(2)}"
    xml = tmp_path / "guest.xml"
    xml.write_text(build_guest_xml(GuestSpec(name=name, role="test", domain_type="qemu", nic_model=None)))
    defined = lab.virsh("lab1", "define", str(xml))
    assert defined.returncode == 0, defined.stderr
    try:
        proc = lab.vmtui("lab", "status")
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        guests = [
            line for line in lines if line.startswith("      ") and not line.lstrip().startswith(("error", "pool "))
        ]
        mine = [line for line in guests if name in line]
        assert len(mine) == 1, proc.stdout
        # The state column starts where every other guest's does: 6 spaces, the name in 18, a space.
        assert mine[0][25:].split() == ["shut-off", "tcg"]
        assert all(line[24] == " " and line[25] != " " for line in guests), proc.stdout
        disks = lab.root / "hosts" / "lab2" / "disks"
        assert f"\n      pool default (running, 1 volume) {disks}\n" in proc.stdout
    finally:
        lab.virsh("lab1", "undefine", name)


def test_each_host_has_an_autostarted_pool_default_over_its_guest_disks(lab: LabHandle) -> None:
    """`backup restore --as`, `create` and `clone` find their pool: lab2-linux's disk is a volume of `default`."""
    for host in lab.hosts:
        disks = lab.root / "hosts" / host.name / "disks"
        # One virsh (one SSH session) per host: each costs about a second.
        proc = lab.virsh(host.name, f"pool-info default; echo @@; pool-dumpxml default; echo @@; vol-list default;"
                         f" echo @@; domblklist {host.name}-linux")  # fmt: skip
        assert proc.returncode == 0, f"{host.name}: {proc.stderr}"
        info, xml, volumes, disk = proc.stdout.split("@@")
        fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in info.strip().splitlines())}
        assert (fields["State"], fields["Persistent"], fields["Autostart"]) == ("running", "yes", "yes"), fields
        assert f"<path>{disks}</path>" in xml
        # The pool's definition sits in the host's own /etc/libvirt, which `lab down` removes with the host.
        assert (lab.root / "hosts" / host.name / "etc-libvirt" / "storage" / "default.xml").is_file()
        if host.name == "lab2":  # lab1-linux is diskless, so lab1's pool is empty
            assert disk.split()[:2] == ["vda", f"{disks}/lab2-linux.qcow2"], disk
            assert volumes.split() == ["lab2-linux.qcow2", f"{disks}/lab2-linux.qcow2"], volumes
        else:
            assert (volumes.split(), disk.split()) == ([], []), proc.stdout


def test_hosts_are_distinct_libvirt_hosts(lab: LabHandle) -> None:
    seen = set()
    for host in lab.hosts:
        with connect(f"qemu+tcp://{host.address}/system") as conn:
            caps = conn.host_info()
            seen.add(caps.hostname)
    assert seen == set(lab.names)


def test_up_is_idempotent(lab: LabHandle) -> None:
    before = {h.name: netns.read_pidfile(lab.pidfile(h.name, "libvirtd")) for h in lab.hosts}
    stopped = lab.virsh("lab1", "pool-destroy", "default")  # stopped by hand: up starts it again
    assert stopped.returncode == 0, stopped.stderr
    body = _json(lab.vmtui("lab", "up", "--hosts", str(len(lab.hosts)), "--json"))
    assert isinstance(body, dict)
    assert {h["action"] for h in body["hosts"]} == {"already running"}
    pools = {h["name"]: [(p["name"], p["state"], p["autostart"]) for p in h["pools"]] for h in body["hosts"]}
    assert pools == dict.fromkeys(lab.names, [("default", "running", True)])
    assert "running" in lab.virsh("lab1", "pool-info", "default").stdout
    after = {h.name: netns.read_pidfile(lab.pidfile(h.name, "libvirtd")) for h in lab.hosts}
    assert before == after


@pytest.mark.lab_last
def test_up_rebuilds_a_host_whose_daemon_died(lab: LabHandle) -> None:
    mac_before = _eth0_mac(netns.namespace(2))
    guests_before = _guest_names(lab, "lab2")
    assert guests_before
    libvirtd = netns.read_pidfile(lab.pidfile("lab2", "libvirtd"))
    assert libvirtd
    os.kill(libvirtd, 9)
    try:
        body = _json(lab.vmtui("lab", "up", "--hosts", str(len(lab.hosts)), "--json"))
        assert isinstance(body, dict)
        actions = {h["name"]: h["action"] for h in body["hosts"]}
        assert actions == {**dict.fromkeys(lab.names, "already running"), "lab2": "restarted"}
        # lab2 rebuilt from scratch: its pool again, holding lab2-linux's new disk.
        pools = {h["name"]: [(p["name"], p["state"], p["volumes"]) for p in h["pools"]] for h in body["hosts"]}
        assert pools["lab2"] == [("default", "running", 1)], pools
        # Same address and MAC: peers' neighbour caches stay right (a new MAC stalled reconnects 10 s+).
        assert _eth0_mac(netns.namespace(2)) == mac_before
        assert _hosts_json(lab)["lab2"]["reachable"] is True
        assert _guest_names(lab, "lab2") == guests_before
    finally:
        lab.restore()


def _guest_names(lab: LabHandle, host: str) -> set[str]:
    body = _json(lab.vmtui("list", "--host", host, "--json"))
    assert isinstance(body, dict)
    assert body["errors"] == []
    return {row["name"] for row in body["domains"]}


def _eth0_mac(namespace: str) -> str:
    out = subprocess.run(["ip", "-n", namespace, "-o", "link", "show", "eth0"], capture_output=True, text=True)
    return out.stdout.split("link/ether")[1].split()[0]


def test_linux_guest_reports_balloon_stats(lab: LabHandle) -> None:
    with connect(lab.uris["lab1"]) as conn:
        assert "lab1-linux" in {d.name for d in conn.list_domains()}, "the guest image could not be built"
        deadline = time.monotonic() + 30
        raw: dict[str, object] = {}
        while time.monotonic() < deadline:
            sample = conn.sample("lab1")
            raw = dict(next(d.raw for d in sample.domains if d.name == "lab1-linux"))
            if "balloon.usable" in raw:
                break
            time.sleep(1)
    assert "balloon.usable" in raw, f"the guest's balloon driver never reported: {sorted(raw)}"


def _counters(conn: Connection, host: str, name: str) -> dict[str, int]:
    sample = conn.sample(host)
    raw = next(d.raw for d in sample.domains if d.name == name)
    keys = ("block.0.rd.bytes", "block.0.wr.bytes", "net.0.rx.bytes", "net.0.tx.bytes")
    return {k: int(raw[k]) for k in keys if isinstance(raw.get(k), int)}


def test_the_linux_guests_do_disk_and_network_io(lab: LabHandle) -> None:
    """`make demo` shows every column moving: NET on both Linux guests, DISK on lab2-linux."""
    for host, want in (("lab2", ("block.0.rd.bytes", "block.0.wr.bytes", "net.0.rx.bytes", "net.0.tx.bytes")),
                       ("lab1", ("net.0.rx.bytes", "net.0.tx.bytes"))):  # fmt: skip
        with connect(lab.uris[host]) as conn:
            first = _counters(conn, host, f"{host}-linux")
            deadline = time.monotonic() + 60
            grown: set[str] = set()
            while time.monotonic() < deadline and not set(want) <= grown:
                time.sleep(1)
                now = _counters(conn, host, f"{host}-linux")
                grown = {k for k in want if now.get(k, 0) > first.get(k, 0)}
            assert set(want) <= grown, f"{host}-linux: counters that did not move: {set(want) - grown}"


def test_changed_host_key_is_refused(lab: LabHandle, tmp_path: Path) -> None:
    host = lab.host("lab2")
    original = lab.known_hosts.read_text()
    impostor = tmp_path / "impostor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(impostor)], check=True)
    fake = " ".join(impostor.with_suffix(".pub").read_text().split()[:2])
    lines = [
        f"{host.address} {fake}" if line.startswith(f"{host.address} ") else line for line in original.splitlines()
    ]
    try:
        lab.known_hosts.write_text("\n".join(lines) + "\n")
        with pytest.raises(DeniedError, match="(?i)host key"):
            connect(host.uri).close()
        row = _hosts_json(lab)["lab2"]
        assert row["reachable"] is False
        assert "host key" in json.dumps(row["error"]).lower()
        assert _hosts_json(lab)["lab1"]["reachable"] is True  # only the changed host is refused
        proc = lab.vmtui("list", "-H", "lab2")
        assert proc.returncode == 5
        assert proc.stderr.startswith("vmtui: error: ")
        assert "SSH host key verification failed (the host's key is unknown or has changed" in proc.stderr
        assert proc.stderr.count("\n") == 1
    finally:
        lab.known_hosts.write_text(original)
    connect(host.uri).close()


def test_unknown_host_key_is_refused_never_accepted(lab: LabHandle) -> None:
    """A host missing from known_hosts is refused as a changed one is (exit 5): vmtui never accepts a new key."""
    host = lab.host("lab2")
    original = lab.known_hosts.read_text()
    kept = [line for line in original.splitlines() if not line.startswith(f"{host.address} ")]
    assert len(kept) < len(original.splitlines()), "lab2 was not in known_hosts to begin with"
    try:
        lab.known_hosts.write_text("\n".join(kept) + "\n")
        proc = lab.vmtui("list", "-H", "lab2", "--json")
        assert proc.returncode == 5
        (error,) = json.loads(proc.stdout)["errors"]  # list --json reports per host; exit 5 names the worst
        assert (error["host"], error["code"]) == ("lab2", 5)
        assert "SSH host key verification failed" in error["message"]
        # Nothing was added behind the user's back.
        assert host.address not in lab.known_hosts.read_text()
    finally:
        lab.known_hosts.write_text(original)
    connect(host.uri).close()


def _qemu_pid(ns: str, guest: str) -> int:
    for pid in netns.netns_pids(ns):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and b"qemu-system" in cmdline[0] and f"guest={guest},".encode() in b" ".join(cmdline):
            return pid
    raise AssertionError(f"no QEMU for {guest} in {ns}")


def _mounted_anywhere(path: Path) -> list[str]:
    hits = []
    for mountinfo in Path("/proc").glob("[0-9]*/mountinfo"):
        try:
            if str(path) in mountinfo.read_text():
                hits.append(str(mountinfo))
        except OSError:
            continue
    return hits


@pytest.mark.lab_last
def test_down_cleans_up_after_killed_guest_and_daemon(lab: LabHandle) -> None:
    ours = {pid for h in lab.hosts for pid in netns.netns_pids(h.namespace)}
    assert ours
    os.kill(_qemu_pid(netns.namespace(1), "lab1-tcg-e1000"), 9)  # a guest dies under libvirt
    libvirtd = netns.read_pidfile(lab.pidfile("lab2", "libvirtd"))
    assert libvirtd
    os.kill(libvirtd, 9)  # a daemon dies: its guests' QEMUs are orphans now
    try:
        body = _json(lab.vmtui("lab", "down", "--json"))
        assert isinstance(body, dict)
        assert {h["name"] for h in body["hosts"]} == set(lab.names)
        assert [pid for pid in ours if netns.pid_alive(pid)] == []
        assert [ns for ns in netns.netns_list() if ns.startswith(netns.ns_prefix())] == []
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
        assert "vmtui-" not in links
        assert _mounted_anywhere(lab.root) == []
        assert not set(lab.names) & set(_hosts_json(lab))
        # Nothing up: down succeeds and does nothing.
        again = _json(lab.vmtui("lab", "down", "--json"))
        assert isinstance(again, dict)
        assert again == {"hosts": [], "seconds": again["seconds"]}
    finally:
        try:
            lab.restore()  # later tests (if any) still get a lab
        except VmtuiError as exc:
            pytest.fail(f"the lab did not come back up after down: {exc}")
