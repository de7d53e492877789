"""Fixtures for the TUI tests: real guests on the local libvirtd, a private libvirtd we may kill,
recordings for snapshots, and a polling helper for Pilot tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.screen import Screen

from tests.conftest import need
from tests.guest_disks import LOCAL_URI, DiskGuest, disk_guest
from vmtui.widgets.refusals import WHY_NOT

SYSTEM_URI = "qemu:///system"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RECORDING = FIXTURES / "tui-recording.jsonl"


@pytest.fixture(autouse=True)
def vmtui_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own VMTUI_HOME: the user's hosts file and log are never touched."""
    home = tmp_path / "vmtui-home"
    monkeypatch.setenv("VMTUI_HOME", str(home))
    return home


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], within: float = 15.0) -> None:
    """Let the app run until `condition()` holds (pollers and workers are real threads)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


async def open_devices(app: Any, pilot: Pilot[None], name: str, uuid: str) -> None:
    """From the dashboard: the domain filtered in, `v`, and its devices screen once the devices are read."""
    from vmtui.screens.devices import DevicesScreen

    await wait_for(pilot, lambda: app.fleet.find(uuid) is not None)
    await pilot.press("slash", *f"^{name}$", "enter")
    await pilot.press("v")
    await wait_for(pilot, lambda: isinstance(app.screen, DevicesScreen) and app.screen.report is not None)


def offered(screen: Screen[Any]) -> set[str]:
    """The keys that act now: a refused key's hidden twin (it only says why, `widgets.refusals`) is not one."""
    return {key for key, b in screen.active_bindings.items() if not b.binding.action.startswith(WHY_NOT)}


class Recorder:
    """`run_test(message_hook=...)`: every message the app handled, and the notifications among them."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def __call__(self, message: Message) -> None:
        self.messages.append(message)

    def notes(self) -> list[Notification]:
        return [m.notification for m in self.messages if isinstance(m, Notify)]

    def said(self, text: str) -> bool:
        """A notification's message or title contains `text`."""
        return any(text in n.message or text in n.title for n in self.notes())

    def of(self, kind: type[Message]) -> list[Message]:
        return [m for m in self.messages if isinstance(m, kind)]


@dataclass(frozen=True)
class Guests:
    uri: str
    prefix: str
    names: tuple[str, ...]
    uuids: dict[str, str]
    """name -> UUID"""


def _libvirt_ready() -> bool:
    try:
        from vmtui.drivers import connect

        with connect(SYSTEM_URI):
            return os.path.exists("/dev/kvm")
    except Exception:
        return False


@pytest.fixture
def guest() -> Iterator[DiskGuest]:
    """A running guest with a qcow2 disk on the local libvirtd (`tests/guest_disks.py`), always removed."""
    if not _libvirt_ready():
        pytest.skip("needs the local libvirtd (qemu:///system) and /dev/kvm")
    from vmtui.drivers import connect

    with connect(LOCAL_URI) as conn, disk_guest(conn) as made:
        yield made


@pytest.fixture
def local_guests() -> Iterator[Guests]:
    """Two small real KVM guests (one emulated e1000 NIC, one virtio) on qemu:///system, always removed."""
    need(_libvirt_ready(), "needs the local libvirtd (qemu:///system) and /dev/kvm")
    from vmtui.drivers import connect
    from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml

    prefix = f"vmtui-tui-{uuid.uuid4().hex[:6]}"
    names = (f"{prefix}-e1000", f"{prefix}-virtio")
    made: dict[str, str] = {}
    conn = connect(SYSTEM_URI)
    try:
        for name, nic in zip(names, ("e1000", "virtio"), strict=True):
            spec = GuestSpec(name=name, role="test", domain_type="kvm", nic_model=nic)
            made[name] = conn.define_and_start(build_guest_xml(spec)).uuid
        yield Guests(SYSTEM_URI, prefix, names, made)
    finally:
        for dom_uuid in made.values():
            try:
                conn.destroy_and_undefine(dom_uuid)
            except Exception as exc:  # keep removing the others
                print(f"cleanup of {dom_uuid} failed: {exc}")
        conn.close()


TEST_DRIVER_XML = """<node>
  <domain type='test'>
    <name>priv-one</name>
    <uuid>6f1e1d0c-5a1b-4c3d-9e8f-000000000001</uuid>
    <memory>131072</memory><currentMemory>131072</currentMemory><vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
  </domain>
  <domain type='test'>
    <name>priv-two</name>
    <uuid>6f1e1d0c-5a1b-4c3d-9e8f-000000000002</uuid>
    <memory>262144</memory><currentMemory>262144</currentMemory><vcpu>2</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
  </domain>
</node>
"""


class PrivateDaemon:
    """A libvirtd of our own, in a private mount namespace, whose socket we choose.

    The system libvirtd is shared with other engineers and must never be killed; this one may be.
    Its /run, /etc/libvirt and /var/lib/libvirt are private, so it shares no state with the system one.
    It serves libvirt's test driver (`test+unix:///<xml>?socket=...`), which needs no QEMU.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("etc", "sock", "varlib", "cache", "log/qemu"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "etc" / "libvirtd.conf").write_text(
            f'unix_sock_dir = "{root / "sock"}"\nlisten_tcp = 0\nlisten_tls = 0\n', encoding="utf-8"
        )
        self.xml = root / "host.xml"
        self.xml.write_text(TEST_DRIVER_XML, encoding="utf-8")
        self.socket = root / "sock" / "libvirt-sock"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"test+unix://{self.xml}?socket={self.socket}"

    def start(self) -> None:
        script = (
            "mount -t tmpfs -o mode=755 vmtui-test-run /run\n"
            f"mount --bind {self.root / 'etc'} /etc/libvirt\n"
            f"mount --bind {self.root / 'varlib'} /var/lib/libvirt\n"
            f"mount --bind {self.root / 'cache'} /var/cache/libvirt\n"
            f"mount --bind {self.root / 'log'} /var/log/libvirt\n"
            f"exec libvirtd -f {self.root / 'etc' / 'libvirtd.conf'} -p {self.root / 'libvirtd.pid'}\n"
        )
        log = (self.root / "libvirtd.out").open("ab")
        # unshare without --fork execs sh, which execs libvirtd: the child PID is the daemon's PID.
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "/bin/sh", "-ec", script], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 15
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private libvirtd did not start: {(self.root / 'libvirtd.out').read_text()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """Kill only our own daemon, by its PID."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None
        for stale in self.socket.parent.glob("*"):
            stale.unlink(missing_ok=True)


@pytest.fixture
def private_daemon() -> Iterator[PrivateDaemon]:
    tools = shutil.which("libvirtd") is not None and shutil.which("unshare") is not None
    need(os.geteuid() == 0 and tools, "needs root, libvirtd and unshare for a private daemon")
    # A short path: unix socket paths are limited to 107 bytes, pytest's tmp_path can exceed that.
    root = Path(tempfile.mkdtemp(prefix="vmtui-pd-"))
    daemon = PrivateDaemon(root)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.kill()
        shutil.rmtree(root, ignore_errors=True)
