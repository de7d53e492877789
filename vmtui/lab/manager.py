"""`vmtui lab up/down/status`: orchestrates namespaces, daemons, SSH, saved hosts and guests.

Host K (1..4) is `labK`: network namespace `vmtui-labK` at 10.200.0.K on bridge `vmtui-br0` (lab 0;
lab N, chosen with VMTUI_LAB_ID, uses `vmtuiN-labK`, 10.200.N.K and `vmtuiN-br0`), with
its own UTS and mount namespaces, libvirt dirs, virtlogd, libvirtd and sshd. Everything the lab
writes lives under `paths().state / "lab"`; SSH keys survive `down` so URIs stay stable.
Guests: see `vmtui.lab.guests`.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vmtui.config import HostStore, paths
from vmtui.drivers import connect
from vmtui.errors import OperationError, UsageError, VmtuiError
from vmtui.lab import guests, image, netns, ssh
from vmtui.lab.nsinit import DAEMON_ENV
from vmtui.models import HostEntry

MAX_HOSTS = 4
DAEMONS = ("sshd", "libvirtd", "virtlogd")
"""In stop order: sshd first so no new client arrives while libvirtd goes."""

Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class LabHost:
    """One lab host's names and addresses (pure: computed from its index and the state dir)."""

    index: int
    name: str
    namespace: str
    address: str
    uri: str
    dir: Path

    @property
    def tcp_uri(self) -> str:
        """Direct libvirtd URI on the private bridge (auth none there); used only by `down`."""
        return f"qemu+tcp://{self.address}/system"

    def pidfile(self, daemon: str) -> Path:
        return self.dir / f"{daemon}.pid"

    @property
    def disk_dir(self) -> Path:
        """The guests' disk files; also the folder of the host's pool `default` (removed with `dir`)."""
        return self.dir / "disks"


@dataclass(slots=True)
class HostReport:
    """What `up` did or `status` saw for one host (the JSON shape of both commands)."""

    name: str
    namespace: str
    address: str
    uri: str
    action: str = ""
    """up: started | already running | restarted; status: running | partial | down."""
    seconds: float = 0.0
    pids: dict[str, int | None] = field(default_factory=dict)
    other_pids: list[int] = field(default_factory=list)
    reachable: bool = False
    kvm_usable: bool | None = None
    error: str | None = None
    guests: list[dict[str, str]] = field(default_factory=list)
    pools: list[dict[str, object]] = field(default_factory=list)


def lab_root() -> Path:
    return paths().state / "lab"


def ssh_files() -> ssh.SshFiles:
    return ssh.SshFiles(lab_root() / "ssh")


def lab_host(index: int) -> LabHost:
    addr = netns.address(index)
    return LabHost(
        index=index,
        name=f"lab{index}",
        namespace=netns.namespace(index),
        address=addr,
        uri=ssh.host_uri(ssh_files(), addr),
        dir=lab_root() / "hosts" / f"lab{index}",
    )


def _alive_pids(host: LabHost) -> dict[str, int | None]:
    """Each daemon's pid if its pidfile names a live process in the host's namespace, else None."""
    in_ns = set(netns.netns_pids(host.namespace))
    found: dict[str, int | None] = {}
    for daemon in DAEMONS:
        pid = netns.read_pidfile(host.pidfile(daemon))
        found[daemon] = pid if pid in in_ns else None
    return found


@contextmanager
def _locked() -> Iterator[None]:
    """One `up` or `down` at a time: two would race on the same namespaces and pidfiles."""
    lab_root().mkdir(parents=True, exist_ok=True)
    with (lab_root() / "lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise VmtuiError("another `vmtui lab up/down` is running", hint="wait for it to finish") from exc
        yield


def is_running(host: LabHost) -> bool:
    return host.namespace in netns.netns_list() and all(_alive_pids(host).values())


# ----- up ----------------------------------------------------------------------------------------


def up(hosts: int = 2, *, start_guests: bool = True, progress: Progress = _quiet) -> list[HostReport]:
    """Bring lab1..labN up (idempotent: running hosts are left alone) and save them as hosts."""
    netns.require_root()
    if not 1 <= hosts <= MAX_HOSTS:
        raise UsageError(f"--hosts must be 1..{MAX_HOSTS}, not {hosts}")
    with _locked():
        return _up(hosts, start_guests, progress)


def _up(hosts: int, start_guests: bool, progress: Progress) -> list[HostReport]:
    # Remembered, so that `down` and `status` in this home find the same lab without VMTUI_LAB_ID.
    netns.lab_id_file().write_text(f"{netns.lab_id()}\n")
    files = ssh_files()
    ssh.ensure_client(files)
    netns.ensure_bridge()
    lab = [lab_host(i) for i in range(1, hosts + 1)]
    reports = [HostReport(h.name, h.namespace, h.address, h.uri) for h in lab]
    for host, report in zip(lab, reports, strict=True):
        started = time.monotonic()
        if host.namespace in netns.netns_list() and not host.dir.exists():
            raise UsageError(
                f"namespace {host.namespace} belongs to another lab (another VMTUI_HOME)",
                hint=f"bring that one down, or choose another lab with VMTUI_LAB_ID=1..{netns.MAX_LAB_ID}",
            )
        if is_running(host):
            report.action = "already running"
        else:
            report.action = "restarted" if host.namespace in netns.netns_list() else "started"
            if report.action == "restarted":
                _host_down(host)  # half up (a daemon died): rebuild it from scratch
            _start_host(host, files)
        report.seconds = time.monotonic() - started
    # Every lab host ever keyed stays in known_hosts: an address never maps to a foreign key.
    ssh.write_known_hosts(files, {h.name: h.address for h in map(lab_host, _indices()) if _has_key(h)})
    for host, report in zip(lab, reports, strict=True):
        if report.action != "already running":
            report.seconds += _wait_ports(host)
            progress(f"host {host.name}: libvirtd and sshd up ({report.seconds:.1f} s)")
        else:
            progress(f"host {host.name}: already running")
        report.pids = _alive_pids(host)
    store = HostStore()
    for host in lab:
        store.add(HostEntry(host.name, host.uri, read_only=False), replace=True)
    linux: image.GuestImage | None = None
    missing: OperationError | None = None
    if start_guests:
        try:
            linux = guests.linux_image(progress)
        except VmtuiError as exc:
            # The hosts and their other guests still come up; the result fails, naming what is missing.
            missing = guests.without_linux([h.name for h in lab], exc)
            progress(f"image: not built: {exc}")
    with ThreadPoolExecutor(max_workers=len(lab)) as pool:
        list(pool.map(lambda h, r: _ensure_guests(h, r, start_guests, linux, progress), lab, reports))
    if missing is not None:
        for report in reports:
            if report.name in guests.LINUX_HOSTS:
                report.error = str(missing)
    _save_state(reports)
    if missing is not None:
        raise missing
    return reports


def _has_key(host: LabHost) -> bool:
    return ssh_files().host_key(host.name).exists()


def _indices() -> list[int]:
    return list(range(1, MAX_HOSTS + 1))


def _start_host(host: LabHost, files: ssh.SshFiles) -> None:
    """Write the host's configs, create its namespace and start its daemons (via nsinit)."""
    d = host.dir
    shutil.rmtree(d, ignore_errors=True)  # fresh libvirt state: no stale domains or sockets
    for sub in ("varlib", "cache", "log/qemu"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    etc = d / "etc-libvirt"
    shutil.copytree("/etc/libvirt", etc, symlinks=True, ignore=_system_definitions)
    caps = Path("/var/cache/libvirt/qemu/capabilities")
    if caps.is_dir():  # pre-seeded QEMU capabilities spare each daemon a probe of the binary
        shutil.copytree(caps, d / "cache" / "qemu" / "capabilities")
    uuid = f"5f3c0000-0000-4000-8000-{host.index:012d}"
    with (etc / "libvirtd.conf").open("a") as fh:
        # Distinct host_uuid: migration refuses to migrate to "the same host" otherwise.
        fh.write(
            f'\n# --- vmtui lab ---\nhost_uuid = "{uuid}"\nlisten_tls = 0\nlisten_tcp = 1\n'
            f'listen_addr = "{host.address}"\nauth_tcp = "none"\nlog_outputs = "3:file:{d / "libvirtd.log"}"\n'
        )
    with (etc / "qemu.conf").open("a") as fh:
        # QEMU runs as root: /dev/kvm has no udev-managed group here, and images sit in root's state dir.
        # The peer-to-peer migration connection's keepalive (libvirt's default 5 s x 5): a cut link fails
        # a migration in ~6 s instead of ~30 s, so the lab's link-cut test stays short.
        fh.write(
            f'\n# --- vmtui lab ---\nmigration_host = "{host.address}"\nuser = "root"\ngroup = "root"\n'
            "dynamic_ownership = 0\nremember_owner = 0\nkeepalive_interval = 2\nkeepalive_count = 2\n"
        )
    others = "".join(f"{netns.address(i)} lab{i}\n" for i in _indices())
    (d / "hosts").write_text(f"127.0.0.1 localhost {host.name}\n{others}")
    sshd_config = ssh.ensure_host(files, host.name, host.address, host.pidfile("sshd"))
    spec = {
        "hostname": host.name,
        "tmpfs": ["/run"],
        "mkdir": ["/run/sshd", "/run/lock", "/run/libvirt"],
        "binds": [
            [str(d / "hosts"), "/etc/hosts"],
            [str(etc), "/etc/libvirt"],
            [str(d / "varlib"), "/var/lib/libvirt"],
            [str(d / "cache"), "/var/cache/libvirt"],
            [str(d / "log"), "/var/log/libvirt"],
        ],
        "commands": [
            # The guests' bridge (no uplink: their traffic stays inside this host's namespace).
            ["ip", "link", "add", guests.GUEST_BRIDGE, "type", "bridge"],
            ["ip", "addr", "add", f"{guests.GUEST_NET}.1/24", "dev", guests.GUEST_BRIDGE],
            ["ip", "link", "set", guests.GUEST_BRIDGE, "up"],
            ["virtlogd", "-d", "-p", str(host.pidfile("virtlogd"))],
            ["libvirtd", "-d", "--listen", "-p", str(host.pidfile("libvirtd"))],
            [netns.SSHD, "-f", str(sshd_config)],
        ],
    }
    (d / "nsinit.json").write_text(json.dumps(spec, indent=1))
    netns.delete_netns(host.index)
    netns.create_netns(host.index)
    netns.exec_in_namespace(host.namespace, d / "nsinit.json", d / "nsinit.log")


def _system_definitions(folder: str, names: list[str]) -> set[str]:
    """What copying /etc/libvirt must leave out: the system's own domains, pools and autostart links.

    A lab host starts empty; it must not show (or `down` destroy copies of) the system's guests,
    the 'default' network would want dnsmasq and a NAT we do not want, and the system's pools (its
    own 'default' among them) would stand where the lab defines its pool 'default'.
    """
    if Path(folder).name in ("qemu", "storage"):
        return {n for n in names if n.endswith(".xml") or n == "autostart"}
    return {"autostart"} if Path(folder).name == "networks" else set()


def _wait_ports(host: LabHost, timeout: float = 15.0) -> float:
    """Wait until libvirtd (16509) and sshd (22) accept connections on the host's address; returns seconds."""
    began = time.monotonic()
    deadline = began + timeout
    for port in (16509, 22):
        while True:
            try:
                with socket.create_connection((host.address, port), timeout=0.5):
                    break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise VmtuiError(
                        f"host {host.name}: nothing listens on {host.address}:{port} after {timeout:.0f} s",
                        hint=f"see {host.dir / 'libvirtd.log'} and {host.dir / 'nsinit.log'}",
                    ) from exc
                time.sleep(0.02)
    return time.monotonic() - began


def _ensure_guests(
    host: LabHost, report: HostReport, start: bool, linux: image.GuestImage | None, progress: Progress
) -> None:
    """Connect over SSH (proving the saved URI works), then start any missing lab guest."""
    began = time.monotonic()
    try:
        with connect(host.uri) as conn:
            report.kvm_usable = Path("/dev/kvm").exists() and conn.host_info().kvm_usable
            report.reachable = True
            if start:
                found = guests.ensure(conn, host.name, kvm=report.kvm_usable, linux=linux, disk_dir=host.disk_dir)
                for name in found:
                    progress(f"host {host.name}: guest {name} started")
            report.pools = [guests.pool_json(guests.ensure_pool(conn, host.disk_dir))]
            report.guests = [guests.guest_json(d) for d in conn.list_domains()]
    except VmtuiError as exc:
        report.error = str(exc)
        raise
    progress(f"host {host.name}: reachable over ssh, {len(report.guests)} guests ({time.monotonic() - began:.1f} s)")


def _save_state(reports: list[HostReport]) -> None:
    state = lab_root() / "lab.json"
    state.write_text(json.dumps({"hosts": [asdict(r) for r in reports], "updated": time.time()}, indent=1))


# ----- down --------------------------------------------------------------------------------------


def known_indices() -> list[int]:
    """Hosts that may have something left: a namespace, a veth, a host dir or a saved host."""
    names = set(netns.netns_list())
    saved = {e.name for e in HostStore().load()}
    return [
        i
        for i in _indices()
        if netns.namespace(i) in names
        or netns.link_exists(netns.host_veth(i))
        or lab_host(i).dir.exists()
        or f"lab{i}" in saved
    ]


def down(*, progress: Progress = _quiet) -> list[HostReport]:
    """Stop every lab guest, daemon and namespace, remove the bridge and the saved lab hosts."""
    netns.require_root()
    with _locked():
        return _down(progress)


def _down(progress: Progress) -> list[HostReport]:
    lab = [lab_host(i) for i in known_indices()]
    reports = [HostReport(h.name, h.namespace, h.address, h.uri, action="down") for h in lab]
    with ThreadPoolExecutor(max_workers=max(1, len(lab))) as pool:
        list(pool.map(lambda h, r: _down_one(h, r, progress), lab, reports))
    if not any(n.startswith(netns.ns_prefix()) for n in netns.netns_list()):
        netns.delete_link(netns.bridge())
    netns.lab_id_file().unlink(missing_ok=True)
    (lab_root() / "lab.json").unlink(missing_ok=True)
    if not lab:
        progress("lab: nothing was up")
    return reports


def _down_one(host: LabHost, report: HostReport, progress: Progress) -> None:
    began = time.monotonic()
    report.guests = _host_down(host)
    store = HostStore()
    for entry in store.load():
        # Only our own entries: a user's unrelated host that happens to be called lab1 stays.
        if entry.name == host.name and entry.uri.startswith(f"qemu+ssh://root@{host.address}/"):
            store.remove(entry.name)
    report.seconds = time.monotonic() - began
    progress(f"host {host.name}: down ({report.seconds:.1f} s)")


def _host_down(host: LabHost) -> list[dict[str, str]]:
    """Tear one host down whatever state it is in; returns the guests it destroyed."""
    destroyed: list[dict[str, str]] = []
    if host.namespace in netns.netns_list():
        alive = _alive_pids(host)
        if alive["libvirtd"]:
            try:  # clean shutdown through libvirt first, so QEMU is not killed mid-write
                with connect(host.tcp_uri) as conn:
                    doms = conn.list_domains()
                    # In parallel: libvirt waits ~2 s for each QEMU to exit after SIGTERM.
                    with ThreadPoolExecutor(max_workers=max(1, len(doms))) as pool:
                        list(pool.map(conn.destroy_and_undefine, [d.uuid for d in doms]))
                    destroyed = [{**guests.guest_json(d), "state": "destroyed"} for d in doms]
            except VmtuiError:
                pass  # a wedged daemon: the namespace sweep below still stops its QEMUs
        for daemon in DAEMONS:
            netns.stop_pidfile(host.pidfile(daemon), ns=host.namespace)
        # Whatever else lives in the namespace (QEMU, ssh session helpers) was started by the lab.
        left = netns.kill_pids(netns.netns_pids(host.namespace))
        if left:
            raise VmtuiError(f"host {host.name}: processes {left} survive SIGKILL", hint="see `ps` for D state")
    netns.delete_netns(host.index)
    shutil.rmtree(host.dir, ignore_errors=True)
    return destroyed


# ----- status ------------------------------------------------------------------------------------


def status(*, progress: Progress = _quiet) -> list[HostReport]:
    """Per host: namespace, address, daemon pids, SSH reachability and guests."""
    netns.require_root()
    lab = [lab_host(i) for i in known_indices()]
    reports = [HostReport(h.name, h.namespace, h.address, h.uri) for h in lab]
    with ThreadPoolExecutor(max_workers=max(1, len(lab))) as pool:
        list(pool.map(_status_one, lab, reports))
    return reports


def _status_one(host: LabHost, report: HostReport) -> None:
    if host.namespace not in netns.netns_list():
        report.action = "down"
        return
    report.pids = _alive_pids(host)
    daemons = {pid for pid in report.pids.values() if pid}
    report.other_pids = [p for p in netns.netns_pids(host.namespace) if p not in daemons]
    report.action = "running" if all(report.pids.values()) else "partial"
    if not report.pids["sshd"]:
        report.error = "sshd is not running"
        return
    try:
        with connect(host.uri) as conn:
            report.reachable = True
            report.guests = [guests.guest_json(d) for d in conn.list_domains()]
            report.pools = [guests.pool_json(p) for p in conn.list_pools()]
    except VmtuiError as exc:
        report.error = str(exc)


# ----- restart -----------------------------------------------------------------------------------


def restart(name: str, *, progress: Progress = _quiet) -> HostReport:
    """Restart one lab host's libvirtd the way a real host does (`systemctl restart libvirtd`).

    The guests' QEMU processes keep running; the new daemon finds them again, with the same UUIDs.
    Clients see their connection drop (end of file) and must reconnect: what vmtui rides through.
    """
    netns.require_root()
    index = next((i for i in known_indices() if lab_host(i).name == name), None)
    if index is None:
        raise UsageError(f"no lab host {name!r}", hint="see `vmtui lab status`")
    host = lab_host(index)
    with _locked():
        alive = _alive_pids(host)
        anchor = alive["sshd"] or alive["virtlogd"]
        if anchor is None:
            raise VmtuiError(f"host {name} is not running", hint="`vmtui lab up` brings it back")
        began = time.monotonic()
        netns.stop_pidfile(host.pidfile("libvirtd"), ns=host.namespace)
        progress(f"host {name}: libvirtd stopped")
        # Into the namespaces (network, mount, UTS) the host's own daemons live in, as nsinit made them.
        netns.run(
            ["nsenter", "-t", str(anchor), "-n", "-m", "-u", "--",
             "libvirtd", "-d", "--listen", "-p", str(host.pidfile("libvirtd"))],
            env=DAEMON_ENV,
        )  # fmt: skip
        _wait_ports(host)
        report = HostReport(host.name, host.namespace, host.address, host.uri, action="restarted")
        report.seconds = time.monotonic() - began
        report.pids = _alive_pids(host)
        progress(f"host {name}: libvirtd restarted ({report.seconds:.1f} s)")
    with connect(host.uri) as conn:
        report.reachable = True
        report.guests = [guests.guest_json(d) for d in conn.list_domains()]
    return report
