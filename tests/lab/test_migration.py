"""Live migration between the lab's hosts, through the real `vmtui` executable, checked with virsh.

Every figure vmtui reports is checked against libvirt through virsh (`domjobinfo --completed` on the
target, `domstate`, `list --all`, the `job-completed` event), never recomputed with vmtui's code.
Guests are this module's own (`mig-test-*`), removed from both hosts at the end, also on failure.

The dirtying guest is the lab's TCG Linux guest with 32 MiB rewritten at 16 MiB/s, migrated at
16 MiB/s: each pass after the first leaves the same ~32 MiB (2 s of link for 100-500 ms of allowed
downtime), so plain pre-copy stalls for good, and the stall policy has to act.
"""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures_lab import VMTUI, LabHandle

from vmtui.drivers import connect
from vmtui.drivers.xmledit import GuestSpec, build_guest_xml
from vmtui.lab import image

pytestmark = [pytest.mark.lab, pytest.mark.timeout(240)]

Line = dict[str, Any]


class Live:
    """`vmtui ... --json` running in its own session, its JSON lines read as they come."""

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


def _run_json(lab: LabHandle, *args: str, timeout: float = 120) -> tuple[int, list[Line]]:
    proc = lab.vmtui(*args, "--json", timeout=timeout)
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _names(lab: LabHandle, host: str) -> set[str]:
    out = lab.virsh(host, "list", "--all", "--name")
    assert out.returncode == 0, out.stderr
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def _state(lab: LabHandle, host: str, name: str) -> str:
    return lab.virsh(host, "domstate", name).stdout.strip()


def _completed_downtime(lab: LabHandle, host: str, name: str) -> int:
    out = lab.virsh(host, "domjobinfo", "--completed", name)
    found = re.search(r"Total downtime:\s+(\d+)\s+ms", out.stdout)
    assert found, f"no completed job on {host}: {out.stdout}{out.stderr}"
    return int(found.group(1))


def _where(lab: LabHandle, name: str) -> str:
    (host,) = [h for h in lab.names[:2] if name in _names(lab, h)]
    return host


def _other(host: str) -> str:
    return "lab2" if host == "lab1" else "lab1"


def _progress_fractions(lines: list[Line]) -> list[float]:
    return [float(line["fraction"]) for line in lines if line.get("type") == "progress"]


@pytest.fixture(scope="module")
def guests(lab: LabHandle) -> Iterator[dict[str, str]]:
    """An idle BIOS guest and a dirtying Linux guest on lab1; both removed from every host at the end.

    The Linux guest boots while the idle guest's tests run; tests that need it dirtying wait for it.
    """
    prefix = f"mig-test-{secrets.token_hex(2)}"
    linux = image.find_image()
    assert linux is not None, "the lab's Linux guest image is missing"
    names = {"idle": f"{prefix}-idle", "dirty": f"{prefix}-dirty"}
    try:
        with connect(lab.uris["lab1"]) as conn:
            kvm = conn.host_info(probe=False).kvm_usable
            conn.define_and_start(build_guest_xml(GuestSpec(names["idle"], domain_type="kvm" if kvm else "qemu",
                                                            role="test")))  # fmt: skip
            conn.define_and_start(build_guest_xml(GuestSpec(
                names["dirty"], memory_mib=128, domain_type="qemu", role="test", kernel=linux.kernel,
                initrd=linux.initrd, cmdline=linux.cmdline(32, 16),
            )))  # fmt: skip
        yield names
    finally:
        for host in lab.names:
            with connect(lab.uris[host]) as conn:
                for name in names.values():
                    conn.destroy_and_undefine(name)


def _rss_kib(lab: LabHandle, host: str, name: str) -> int:
    out = lab.virsh(host, "domstats", "--balloon", name).stdout
    found = re.search(r"balloon\.rss=(\d+)", out)
    assert found, out
    return int(found.group(1))


def test_precheck_only_forecasts_the_memory_qemu_has_touched(lab: LabHandle, guests: dict[str, str]) -> None:
    name = guests["idle"]
    source = _where(lab, name)
    before = _rss_kib(lab, source, name)
    rc, lines = _run_json(lab, "migrate", name, _other(source), "--precheck-only")
    after = _rss_kib(lab, source, name)
    assert rc == 0, lines[-2:]
    (fc,) = [line for line in lines if line.get("type") == "forecast"]
    # The first pass sends what QEMU has touched (virsh's balloon.rss), not the guest's 128 MiB.
    assert min(before, after) * 1024 <= fc["memory_bytes"] <= max(before, after) * 1024 < 128 * 1048576
    assert lines[-1]["outcome"] == "checked"
    assert _state(lab, source, name) == "running"  # nothing moved


def test_idle_guest_both_ways_with_downtime_from_the_target(lab: LabHandle, guests: dict[str, str]) -> None:
    name = guests["idle"]
    for source, target in (("lab1", "lab2"), ("lab2", "lab1")):
        rc, lines = _run_json(lab, "migrate", name, target)
        assert rc == 0, lines[-2:]
        result = lines[-1]
        assert result["type"] == "result"
        assert result["outcome"] == "completed"
        assert (result["source"], result["target"]) == (source, target)
        # libvirt's own figure, read by virsh on the target, is what vmtui reported.
        assert result["downtime_ms"] == _completed_downtime(lab, target, name)
        assert name not in _names(lab, source)  # undefined on the source
        assert _state(lab, target, name) == "running"
        assert "Persistent:     yes" in lab.virsh(target, "dominfo", name).stdout
        fractions = _progress_fractions(lines)
        assert fractions == sorted(fractions), "the bar ran backwards"
        assert [line["phase"] for line in lines if line.get("type") == "phase"][-1] == "completed"
        # Asked again, from the only other host: it is already there (exit 2), and nothing moves.
        rc, lines = _run_json(lab, "migrate", name, target, "-H", source)
        assert rc == 2
        assert lines[-1]["error"]["message"] == f"{name} already runs on {target}"
        assert _state(lab, target, name) == "running"
    rc, lines = _run_json(lab, "migrate", "no-such-guest", "lab2", "-H", "lab1")
    assert rc == 3
    assert "no-such-guest" in lines[-1]["error"]["message"]
    history = json.loads(lab.vmtui("migrate", "history", "--json").stdout)["migrations"]
    mine = [r for r in history if r["domain"] == name]
    assert [(r["source"], r["target"], r["outcome"]) for r in mine[-2:]] == [
        ("lab1", "lab2", "completed"), ("lab2", "lab1", "completed"),
    ]  # fmt: skip
    assert all(r["downtime_ms"] is not None and r["bytes_sent"] and r["iterations"] for r in mine[-2:])


def test_abort_half_way_keeps_the_source_running(lab: LabHandle, guests: dict[str, str]) -> None:
    name = guests["dirty"]
    lab.wait_dirtying(_where(lab, name), name)
    source = _where(lab, name)
    live = Live(lab, "migrate", name, _other(source), "--bandwidth", "16", "--json")
    try:
        seen = live.until(lambda line: line.get("type") == "progress" and 0.25 <= line["fraction"] < 1, 60)
        live.ctrl_c()
        rc = live.finish(60)
    finally:
        if live.proc.poll() is None:
            live.kill()
    assert rc == 130, live.lines[-2:]
    result = live.result()
    assert result["outcome"] == "cancelled"
    assert 0.25 <= seen["fraction"] < 1
    assert _state(lab, source, name) == "running"
    assert name not in _names(lab, _other(source))  # nothing left on the target
    assert lab.virsh(source, "domjobinfo", name).stdout.split()[2] == "None"  # no job left behind


def test_plain_precopy_stalls_and_the_policy_finishes_with_postcopy(lab: LabHandle, guests: dict[str, str]) -> None:
    name = guests["dirty"]
    lab.wait_dirtying(_where(lab, name), name)
    source = _where(lab, name)
    target = _other(source)
    # Plain pre-copy (the policy only reports): pass after pass, the same rest.
    live = Live(lab, "migrate", name, target, "--bandwidth", "16", "--no-stall-policy", "--json")
    try:
        # 128 MiB at 16 MiB/s: an 8 s first pass, long enough to measure the dirty rate beside it.
        early = live.until(lambda line: line.get("type") == "forecast", 30)
        assert early["dirty_source"] == "sampled"
        assert early["bandwidth_bps"] == 16 * 1048576
        for _ in range(2):
            live.until(lambda line: line.get("type") == "policy" and line["kind"] == "stalled", 90)
        live.ctrl_c()
        assert live.finish(60) == 130
    finally:
        if live.proc.poll() is None:
            live.kill()
    assert _state(lab, source, name) == "running"
    assert not [line for line in live.lines if line.get("type") == "policy" and line["kind"] != "stalled"]

    # The same with the stall policy and post-copy allowed: steps up to 500 ms, then post-copy.
    # --max-downtime 300 starts the steps at 300 ms so that only two are left (400, 500): the full
    # table (100 -> ... -> 500) is the unit tests' and the benchmark's.
    event = subprocess.Popen(
        ["virsh", "-c", lab.uris[source], "event", "--domain", name, "--event", "job-completed", "--timeout", "200"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        rc, lines = _run_json(lab, "migrate", name, target, "--bandwidth", "16", "--postcopy",
                              "--max-downtime", "300", timeout=200)  # fmt: skip
        event_out = event.communicate(timeout=30)[0]
    finally:
        if event.poll() is None:
            event.kill()
    assert rc == 0, lines[-2:]
    result = lines[-1]
    assert result["outcome"] == "completed"
    assert result["postcopy"] is True
    assert [(a["kind"], a["downtime_ms"]) for a in result["policy"]] == [
        ("downtime", 400), ("downtime", 500), ("postcopy", 500),
    ]  # fmt: skip
    # After post-copy libvirt keeps no completed job on the target: the source's job-completed
    # event (read here by virsh) carries the downtime.
    found = re.search(r"downtime: (\d+)", event_out)
    assert found, event_out
    assert result["downtime_ms"] == int(found.group(1)) <= 500
    assert _state(lab, target, name) == "running"
    assert name not in _names(lab, source)


def test_unreachable_target_is_refused_before_anything_starts(lab: LabHandle, guests: dict[str, str]) -> None:
    name = guests["idle"]
    source = _where(lab, name)
    nowhere = lab.uris["lab2"].replace(lab.host("lab2").address, lab.host("lab2").address.rsplit(".", 1)[0] + ".99")
    rc, lines = _run_json(lab, "migrate", name, nowhere)
    assert rc == 4, lines
    reachable = next(line for line in lines if line.get("key") == "reachable")
    assert reachable["status"] == "fail"
    assert lines[-1]["error"]["kind"] == "unreachable"
    assert _state(lab, source, name) == "running"
    assert lab.virsh(source, "domjobinfo", name).stdout.split()[2] == "None"


def test_link_cut_during_the_job_leaves_the_source_running(lab: LabHandle, guests: dict[str, str]) -> None:
    name = guests["dirty"]
    lab.wait_dirtying(_where(lab, name), name)
    source = _where(lab, name)
    target = _other(source)
    namespace = lab.host(target).namespace
    live = Live(lab, "migrate", name, target, "--bandwidth", "16", "--json")
    try:
        live.until(lambda line: line.get("type") == "progress" and line["fraction"] > 0.1, 60)
        subprocess.run(["ip", "-n", namespace, "link", "set", "eth0", "down"], check=True)
        try:
            rc = live.finish(120)
        finally:
            subprocess.run(["ip", "-n", namespace, "link", "set", "eth0", "up"], check=True)
    finally:
        if live.proc.poll() is None:
            live.kill()
    assert rc == 1, live.lines[-2:]
    result = live.result()
    assert result["outcome"] == "failed"
    assert result["source_state"].startswith("running")
    assert _state(lab, source, name) == "running"
    # Once the link is back, the target drops its half (libvirt's Finish or its keepalive).
    deadline = time.monotonic() + 60
    while name in _names(lab, target):
        assert time.monotonic() < deadline, f"{name} stayed on {target}"
        time.sleep(0.5)  # the target's cleanup is not announced to a client that connects afterwards


def test_a_client_that_dies_leaves_a_job_to_attach_to_and_abort(lab: LabHandle, guests: dict[str, str]) -> None:
    name = guests["dirty"]
    lab.wait_dirtying(_where(lab, name), name)
    source = _where(lab, name)
    live = Live(lab, "migrate", name, _other(source), "--bandwidth", "16", "--no-stall-policy", "--json")
    try:
        live.until(lambda line: line.get("type") == "progress" and bool(line.get("iteration")), 60)
    finally:
        live.kill()
    rc, lines = _run_json(lab, "migrate", "jobs")
    assert rc == 0
    (job,) = [j for j in lines[0]["jobs"] if j["domain"] == name]
    assert (job["host"], job["target"], job["orphaned"], job["direction"]) == (source, _other(source), True,
                                                                               "migration-out")  # fmt: skip
    attached = Live(lab, "migrate", "attach", name, "--json")
    try:
        attached.until(lambda line: line.get("type") == "progress", 30)
        attached.ctrl_c()
        assert attached.finish(60) == 130
    finally:
        if attached.proc.poll() is None:
            attached.kill()
    result = attached.result()
    assert (result["outcome"], result["reattached"], result["target"]) == ("cancelled", True, _other(source))
    assert _state(lab, source, name) == "running"
    assert json.loads(lab.vmtui("migrate", "jobs", "--json").stdout)["jobs"] == []


def test_hostdev_is_refused_by_the_precheck(lab: LabHandle, tmp_path: Path) -> None:
    from lxml import etree

    name = f"mig-test-{secrets.token_hex(2)}-vf"
    root = etree.fromstring(build_guest_xml(GuestSpec(name, role="test")).encode())
    devices = root.find("devices")
    assert devices is not None
    hostdev = etree.SubElement(devices, "hostdev", mode="subsystem", type="pci", managed="yes")
    etree.SubElement(etree.SubElement(hostdev, "source"), "address", domain="0x0000", bus="0x00", slot="0x1f",
                     function="0x0")  # fmt: skip
    xml = tmp_path / "vf.xml"
    xml.write_bytes(etree.tostring(root))
    # Defined, not started: this machine has no device to pass through (no SR-IOV, no VFIO).
    defined = lab.virsh("lab1", "define", str(xml))
    assert defined.returncode == 0, defined.stderr
    try:
        rc, lines = _run_json(lab, "migrate", name, "lab2")
    finally:
        lab.virsh("lab1", "undefine", name)
    assert rc == 1
    checks = {line["key"]: line for line in lines if line.get("type") == "precheck"}
    assert checks["hostdev"]["status"] == "fail"
    assert "0000:00:1f.0" in checks["hostdev"]["reason"]
    assert "pre-checks" in lines[-1]["error"]["message"]
    assert name not in _names(lab, "lab2")


def test_place_ranks_the_other_host_first(lab: LabHandle, guests: dict[str, str]) -> None:
    name = guests["idle"]
    source = _where(lab, name)
    rc, lines = _run_json(lab, "place", name)
    assert rc == 0, lines
    hosts = lines[0]["hosts"]
    assert hosts[0]["host"] == _other(source)
    assert hosts[0]["score"] is not None
    assert next(h for h in hosts if h["host"] == source)["current"] is True
