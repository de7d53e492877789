"""Shared fixtures: an isolated VMTUI_HOME, the real local libvirtd, and guests the tests own.

Every guest a test makes is named `vmtui-test-<random>-...` and removed in a finalizer, also when
the test fails. Locally, tests that need what this machine lacks (libvirtd, KVM, tmux, the lab)
skip with the reason; in CI (`CI` set) a skip is a failure naming the test: CI must run everything.
No test touches the user's own config, state or cache: the session checks them before and after.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vmtui.drivers import connect
from vmtui.drivers.libvirt.driver import Connection
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.errors import VmtuiError
from vmtui.models import DomainInfo

pytest_plugins = ["fixtures_lab"] if (Path(__file__).parent / "fixtures_lab.py").exists() else []
pytest_plugins.append("fixtures_resources")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
VMTUI = str(ROOT / ".venv" / "bin" / "vmtui") if (ROOT / ".venv" / "bin" / "vmtui").exists() else "vmtui"
LOCAL_URI = "qemu:///system"
MARKUP_NAME = "[b]bold[reverse]r[link=x]y[@click=app.quit]z"


IN_CI = bool(os.environ.get("CI"))


def _interrupt_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    """A run stopped by SIGTERM (a CI timeout, `kill`) ends like Ctrl-C: pytest then runs every
    fixture's teardown, so the guests and the lab it made are removed instead of left running."""
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    # One tmux server per pytest-xdist worker: on the shared default socket, one worker's last
    # `kill-session` stops the server while the other's `new-session` is connecting to it ("server
    # exited unexpectedly", exit 1). The tests' tmux commands inherit this.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and "TMUX_TMPDIR" not in os.environ:
        tmux_dir = Path(f"/tmp/vmtui-tests-tmux-{os.getpid()}-{worker}")
        tmux_dir.mkdir(mode=0o700, exist_ok=True)
        os.environ["TMUX_TMPDIR"] = str(tmux_dir)


def pytest_unconfigure(config: pytest.Config) -> None:
    tmux_dir = os.environ.get("TMUX_TMPDIR", "")
    if tmux_dir.startswith("/tmp/vmtui-tests-tmux-"):
        shutil.rmtree(tmux_dir, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI a skipped test fails, with its reason: a green run must mean everything ran."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} was skipped in CI, where nothing may be: {reason}"


def _real_home_files() -> dict[str, tuple[int, int]]:
    """(mtime, size) of every file in the user's real vmtui config, state and cache dirs."""
    import platformdirs

    found: dict[str, tuple[int, int]] = {}
    for folder in (platformdirs.user_config_dir("vmtui"), platformdirs.user_state_dir("vmtui"),
                   platformdirs.user_cache_dir("vmtui")):  # fmt: skip
        for path in Path(folder).rglob("*"):
            if path.is_file():
                stat = path.stat()
                found[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return found


_REAL_HOME_BEFORE = _real_home_files()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any test wrote into the user's real vmtui files."""
    after = _real_home_files()
    if after != _REAL_HOME_BEFORE:
        changed = sorted(k for k in set(after) | set(_REAL_HOME_BEFORE) if after.get(k) != _REAL_HOME_BEFORE.get(k))
        print(f"\nthe test run touched the user's real vmtui files: {changed}", file=sys.stderr)
        session.exitstatus = 1


def need(available: bool, reason: str) -> None:
    """Skip locally (saying why), fail in CI: for tests that need part of the real stack."""
    if not available:
        if IN_CI:
            pytest.fail(f"CI must have this: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def vmtui_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep every test away from the user's own hosts file and logs."""
    home = tmp_path_factory.mktemp("vmtui-home")
    old = os.environ.get("VMTUI_HOME")
    os.environ["VMTUI_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("VMTUI_HOME", None)
    else:
        os.environ["VMTUI_HOME"] = old


def run_vmtui(
    *args: str, check: bool = False, timeout: float = 60, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `vmtui` executable as a user would."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env_extra or {})}
    env.pop("LIBVIRT_DEFAULT_URI", None)
    proc = subprocess.run([VMTUI, *args], capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"vmtui {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def local_conn() -> Iterator[Connection]:
    try:
        conn = connect(LOCAL_URI)
    except VmtuiError as exc:
        need(False, f"local libvirtd not reachable ({exc}); run `make setup`")
        raise
    yield conn
    conn.close()


@dataclass
class Guests:
    """Guests made for a test session; `by_role` maps a short role name to the running domain."""

    conn: Connection
    prefix: str
    kvm: bool
    by_role: dict[str, DomainInfo]

    def make(self, role: str, **spec: object) -> DomainInfo:
        name = spec.pop("name", None) or f"{self.prefix}-{role}"
        info = self.conn.define_and_start(build_guest_xml(GuestSpec(name=str(name), role="test", **spec)))  # type: ignore[arg-type]
        self.by_role[role] = info
        return info

    def remove_all(self) -> None:
        for info in self.by_role.values():
            try:
                self.conn.destroy_and_undefine(info.uuid)
            except VmtuiError as exc:
                print(f"cleanup of {info.name} failed: {exc}", file=sys.stderr)


@pytest.fixture(scope="session")
def guests(local_conn: Connection) -> Iterator[Guests]:
    """Real guests on the local libvirtd: paravirtual and emulated NICs, KVM when usable, plus TCG."""
    kvm = local_conn.host_info().kvm_usable
    need(kvm, "KVM is not usable here (/dev/kvm); the KVM half of these tests needs it")
    accel = "kvm" if kvm else "qemu"
    g = Guests(local_conn, f"vmtui-test-{secrets.token_hex(3)}", kvm, {})
    try:
        g.make("virtio", domain_type=accel, nic_model="virtio")
        g.make("e1000", domain_type=accel, nic_model="e1000")
        g.make("tcg", domain_type="qemu", nic_model="virtio")
        # XML metacharacters in a name must survive define -> XMLDesc -> JSON unchanged.
        g.make("quotes", name=f"{g.prefix}-q'\"<&>", domain_type="qemu", nic_model=None)
        # Rich and Textual markup in a name must be shown as typed, never as bold, a link or an action.
        g.make("markup", name=f"{g.prefix}-{MARKUP_NAME}", domain_type="qemu", nic_model=None)
        yield g
    finally:
        g.remove_all()
