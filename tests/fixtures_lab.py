"""pytest plugin: the session-scoped `lab` fixture (real libvirt hosts in namespaces, over SSH).

Load it with `pytest_plugins = ["fixtures_lab"]` in tests/conftest.py. The lab comes up once per
session (with guests) under a private VMTUI_HOME and always goes down at the end, also on failure.
Tests marked `lab_last` run after every other test (they may tear the lab down; see `LabHandle.restore`).
Without root or namespaces the fixture skips with the reason.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
VMTUI = REPO / ".venv" / "bin" / "vmtui"


@dataclass(frozen=True)
class LabHostInfo:
    name: str
    namespace: str
    address: str
    uri: str


@dataclass
class LabHandle:
    """What tests get from the `lab` fixture."""

    home: Path
    """The session's VMTUI_HOME (config, state and cache of this lab)."""
    hosts: list[LabHostInfo] = field(default_factory=list)
    host_count: int = 2

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.hosts]

    @property
    def uris(self) -> dict[str, str]:
        return {h.name: h.uri for h in self.hosts}

    @property
    def root(self) -> Path:
        """The lab's state dir (keys, configs, per-host dirs, pidfiles)."""
        return self.home / "state" / "lab"

    @property
    def known_hosts(self) -> Path:
        return self.root / "ssh" / "known_hosts"

    def host(self, name: str) -> LabHostInfo:
        return next(h for h in self.hosts if h.name == name)

    def pidfile(self, name: str, daemon: str) -> Path:
        return self.root / "hosts" / name / f"{daemon}.pid"

    def vmtui_argv(self) -> list[str]:
        """The real CLI: `.venv/bin/vmtui`, or `python -m vmtui`."""
        return [str(VMTUI)] if VMTUI.exists() else [sys.executable, "-m", "vmtui"]

    def env(self) -> dict[str, str]:
        """The environment of a CLI run against this lab (its VMTUI_HOME)."""
        return {**os.environ, "VMTUI_HOME": str(self.home)}

    def vmtui(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the real CLI with this lab's VMTUI_HOME."""
        return subprocess.run(
            [*self.vmtui_argv(), *args], capture_output=True, text=True, timeout=timeout, env=self.env(), check=False
        )

    def virsh(self, host: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """virsh on a lab host, over the same qemu+ssh URI vmtui uses: an independent second opinion."""
        return subprocess.run(
            ["virsh", "-q", "-c", self.uris[host], *args], capture_output=True, text=True, timeout=timeout, check=False
        )

    def wait_dirtying(self, host: str, name: str, *, used_kib: int = 48 * 1024, within: float = 90) -> None:
        """Until a lab Linux guest reports (balloon driver) that its memory dirtier holds its memory.

        The guest boots in 3 to 20 s under TCG, depending on how busy the machine is; one that has not
        started dirtying yet migrates at once and proves nothing. `used_kib`: guest memory in use once
        the dirtier has touched most of its 32 MiB (the kernel and init use about 29 MiB).
        """
        import time

        from vmtui.drivers import connect

        deadline = time.monotonic() + within
        with connect(self.uris[host]) as conn:
            uuid = conn.domain(name).uuid
            while True:
                raw = next(d.raw for d in conn.sample().domains if d.uuid == uuid)
                available, unused = raw.get("balloon.available"), raw.get("balloon.unused")
                if isinstance(available, int) and isinstance(unused, int) and available - unused >= used_kib:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"{name} never started dirtying: {dict(raw)}")
                time.sleep(0.5)  # the guest reports every 2 s (balloon stats period); no event to wait on

    @contextmanager
    def idle_guest(self, host: str, prefix: str) -> Iterator[str]:
        """An idle BIOS guest (`prefix`-xxxx) defined and running on `host`; removed from every lab host
        at the end, also on failure (a migration may have moved it)."""
        import secrets

        from vmtui.drivers import connect
        from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml

        name = f"{prefix}-{secrets.token_hex(2)}"
        try:
            with connect(self.uris[host]) as conn:
                kind = "kvm" if conn.host_info(probe=False).kvm_usable else "qemu"
                conn.define_and_start(build_guest_xml(GuestSpec(name, domain_type=kind, role="test")))
            yield name
        finally:
            for each in self.names:
                with connect(self.uris[each]) as conn:
                    conn.destroy_and_undefine(name)

    def restore(self) -> None:
        """Bring the lab (back) up with guests; a no-op for hosts that still run."""
        from vmtui.lab import manager

        reports = manager.up(self.host_count, start_guests=True)
        self.hosts = [LabHostInfo(r.name, r.namespace, r.address, r.uri) for r in reports]


Line = dict[str, Any]


class Live:
    """`vmtui ... --json` running in its own session, its JSON lines read as they come (migrations, drains)."""

    def __init__(self, lab: LabHandle, *args: str) -> None:
        env = {**os.environ, "VMTUI_HOME": str(lab.home), "COLUMNS": "200"}
        self.proc = subprocess.Popen(
            [str(VMTUI), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            start_new_session=True,  # a process group of its own, as a terminal gives a foreground job
        )  # fmt: skip
        self.lines: list[Line] = []
        self._queue: queue.Queue[Line | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if raw.strip():
                self._queue.put(json.loads(raw))
        self._queue.put(None)

    def until(self, wanted: Callable[[Line], bool], within: float) -> Line:
        deadline = time.monotonic() + within
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"not seen within {within} s; last lines: {self.lines[-3:]}") from None
            if line is None:
                raise AssertionError(f"vmtui ended first ({self.proc.wait()}): {self.lines[-3:]}")
            self.lines.append(line)
            if wanted(line):
                return line

    def ctrl_c(self) -> None:
        """What a terminal does on Ctrl-C: SIGINT to every process of the foreground group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def finish(self, within: float) -> int:
        rc = self.proc.wait(timeout=within)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return rc

    def worker_pid(self) -> int | None:
        """The child that does the work (vmtui forks so that Ctrl-C spares its ssh processes)."""
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def kill(self) -> None:
        """SIGKILL, as when the terminal or the machine dies: the parent and the worker, nothing cleaned up."""
        worker = self.worker_pid()
        for pid in (worker, self.proc.pid):
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc.wait(timeout=10)

    def result(self) -> Line:
        return next(line for line in reversed(self.lines) if line.get("type") == "result")


def lab_unavailable() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the lab needs root (network, mount and UTS namespaces, a bridge)"
    for tool in ("ip", "unshare", "libvirtd", "virtlogd", "ssh", "ssh-keygen", "/usr/sbin/sshd"):
        if shutil.which(tool) is None:
            return f"the lab needs {tool} (make setup installs it)"
    probe = subprocess.run(["unshare", "--net", "--uts", "--mount", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"namespaces are not available: {probe.stderr.strip()}"
    return None


def free_lab_id() -> int:
    """A lab number no other lab on this machine uses: a demo (lab 0) or another test run stays untouched."""
    from vmtui.lab import netns

    for lab in range(1, netns.MAX_LAB_ID + 1):
        if not netns.lab_in_use(lab):
            return lab
    raise RuntimeError("every lab number 1..99 is taken on this machine")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lab_last: runs after all other tests (may take the lab down)")
    # pytest-xdist's own mark, declared for runs without it (`pytest tests/lab/...` by hand).
    config.addinivalue_line("markers", "xdist_group(name): tests that one xdist worker runs together")


LAB_TESTS = Path(__file__).parent / "lab"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Stable sort: tests that tear the lab down run last, so the session lab serves everyone first.
    items.sort(key=lambda item: item.get_closest_marker("lab_last") is not None)
    # Under pytest-xdist (`make test` runs two workers) the lab's tests are one group, so one worker
    # runs them all, in this order, on one session lab; the other tests go to either worker. First
    # (tryfirst): xdist's own hook turns the group marks into node ids, and a mark added after it is
    # ignored; the two workers then each brought a lab up, at the same time, on the same lab id.
    for item in items:
        if LAB_TESTS in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("lab"))


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[LabHandle]:
    """The multi-host lab, up once per session with guests; always down at the end."""
    reason = lab_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the lab: {reason}")
        pytest.skip(reason)
    # Share the session's VMTUI_HOME when conftest made one, so every test's `vmtui` sees the lab hosts.
    try:
        home = Path(request.getfixturevalue("vmtui_home"))
    except pytest.FixtureLookupError:
        home = tmp_path_factory.mktemp("vmtui-home")
    # The kernel package (~70 MB) is kept across sessions in pytest's cache, not re-downloaded.
    cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    (home / "cache").mkdir(parents=True, exist_ok=True)
    if cache is not None and not (home / "cache" / "downloads").exists():
        (home / "cache" / "downloads").symlink_to(cache.mkdir("vmtui-lab-downloads"))
    old_home = os.environ.get("VMTUI_HOME")
    os.environ["VMTUI_HOME"] = str(home)
    # Our own lab number (namespaces, bridge, subnet): a lab already up elsewhere is worked around.
    # VMTUI_LAB_ID set by the caller wins (parallel runs on one machine pick theirs up front).
    own_id = "VMTUI_LAB_ID" not in os.environ
    if own_id:
        os.environ["VMTUI_LAB_ID"] = str(free_lab_id())
    from vmtui.lab import manager

    handle = LabHandle(home=home)
    try:
        handle.restore()
        yield handle
    finally:
        try:
            manager.down()
        finally:
            if own_id:
                os.environ.pop("VMTUI_LAB_ID", None)
            if old_home is None:
                os.environ.pop("VMTUI_HOME", None)
            else:
                os.environ["VMTUI_HOME"] = old_home
