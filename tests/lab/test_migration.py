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
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fixtures_lab import LabHandle, Line, Live

from vmtui.drivers import connect
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.lab import image

pytestmark = [pytest.mark.lab, pytest.mark.timeout(240)]


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


def test_a_paused_guest_arrives_paused_and_is_said_so(lab: LabHandle, guests: dict[str, str]) -> None:
    name = guests["idle"]
    source = _where(lab, name)
    target = _other(source)
    assert lab.virsh(source, "suspend", name).returncode == 0
    try:
        proc = lab.vmtui("migrate", name, target)  # the words a person reads, not --json
        assert proc.returncode == 0, proc.stderr
        assert _state(lab, target, name) == "paused"  # libvirt keeps it paused there
        assert f"{name} is paused on {target}" in proc.stdout, proc.stdout
        assert "runs on" not in proc.stdout
        last = _history_of(lab, name)[-1]
        # The number of passes from the history (libvirt's memory_iteration), in the right number.
        shown = re.search(r" · (\d+) (pass|passes)\b", proc.stdout)
        assert shown, proc.stdout
        assert int(shown.group(1)) == last["iterations"]
        assert shown.group(2) == ("pass" if last["iterations"] == 1 else "passes")
    finally:
        lab.virsh(_where(lab, name), "resume", name)
    assert _state(lab, target, name) == "running"


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


def _pid_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True  # dead, waiting to be reaped by whoever adopted it
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)  # no event tells another process's death


@contextmanager
def _slow_migration(lab: LabHandle, name: str, bandwidth: int = 2) -> Iterator[tuple[Live, str, str]]:
    """(live, source, target): the dirty guest migrating so slowly (1-2 MiB/s, ~50 MiB touched, plain
    pre-copy) that the job cannot end by itself during a test, seen in its first pass; killed after."""
    lab.wait_dirtying(_where(lab, name), name)
    source = _where(lab, name)
    live = Live(lab, "migrate", name, _other(source), "--bandwidth", str(bandwidth), "--no-stall-policy", "--json")
    worker = None
    try:
        live.until(lambda line: line.get("type") == "progress" and bool(line.get("iteration")), 60)
        worker = live.worker_pid()
        yield live, source, _other(source)
    finally:
        # Whatever is left (a worker that outlived its parent, a p2p job in the source daemon) is
        # stopped here, or the next test finds the guest on both hosts.
        if live.proc.poll() is None:
            live.kill()
        if worker is not None and not _pid_gone(worker, 0):
            os.kill(worker, signal.SIGKILL)
        if lab.virsh(source, "domjobabort", name).returncode == 0:  # a job was left (not for a dead daemon)
            deadline = time.monotonic() + 60
            while len([h for h in lab.names[:2] if name in _names(lab, h)]) > 1 and time.monotonic() < deadline:
                time.sleep(0.5)  # the target drops its half on its own (libvirt's Finish); no event tells it


def test_a_client_that_dies_leaves_a_job_to_attach_to_and_abort(lab: LabHandle, guests: dict[str, str]) -> None:
    name = guests["dirty"]
    # A slow job: at 16 MiB/s on a busy machine it could converge and end before `attach` comes.
    # Everything happens inside the `with`: on leaving it, the helper aborts any job left.
    with _slow_migration(lab, name) as (live, source, _target):
        worker = live.worker_pid()
        assert worker is not None
        # `kill -9` of the command the user started (not of its worker): the worker dies with it.
        os.kill(live.proc.pid, signal.SIGKILL)
        live.proc.wait(timeout=10)
        assert _pid_gone(worker, 5), "the worker outlived `vmtui migrate`"
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


def test_an_abort_from_another_client_fails_without_the_peer_to_peer_hint(
    lab: LabHandle, guests: dict[str, str]
) -> None:
    name = guests["dirty"]
    with _slow_migration(lab, name) as (live, source, _target):
        aborted = lab.vmtui("migrate", "abort", name, "-H", source)
        assert aborted.returncode == 0, aborted.stderr
        rc = live.finish(60)
    assert rc == 1, live.lines[-2:]
    assert live.result()["outcome"] == "failed"
    error = live.lines[-1]["error"]
    assert error["message"] == f"migration of {name} aborted by another client: it keeps running on {source}"
    assert "hint" not in error, error  # an abort is no link problem
    assert _state(lab, source, name) == "running"


def _qemu_pid(lab: LabHandle, host: str, name: str) -> int:
    """The QEMU process of guest `name` on lab host `host` (both hosts' QEMUs run on this machine)."""
    pids = subprocess.run(["ip", "netns", "pids", lab.host(host).namespace], capture_output=True, text=True)
    for pid in pids.stdout.split():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"guest={name}".encode() in b",".join(argv):
            return int(pid)
    raise AssertionError(f"no QEMU of {name} on {host}")


def test_a_qemu_that_dies_mid_way_points_at_its_log_not_at_the_link(lab: LabHandle, guests: dict[str, str]) -> None:
    name = guests["dirty"]
    with _slow_migration(lab, name) as (live, source, target):
        os.kill(_qemu_pid(lab, target, name), signal.SIGKILL)  # the incoming QEMU
        rc = live.finish(60)
    assert rc == 1, live.lines[-2:]
    error = live.lines[-1]["error"]
    # QEMU's log, named: libvirt's own words say "job 'migration out' failed", or only "End of file"
    # (then the job's failed state, when the monitor read it in time, or the logs decide).
    assert f"(/var/log/libvirt/qemu/{name}.log)" in error.get("hint", ""), error
    assert "peer-to-peer" not in error["hint"]
    assert _state(lab, source, name) == "running"


def test_writes_on_a_migrating_guest_are_refused_at_once(lab: LabHandle, guests: dict[str, str]) -> None:
    name = guests["dirty"]
    with _slow_migration(lab, name) as (live, source, target):
        # 128 MiB: a target the balloon's own checks accept (its floor is 128 MiB), so only the job refuses it.
        for args in (("balloon", "set", name, "128MiB"), ("suspend", name), ("resume", name)):
            began = time.monotonic()
            rc, lines = _run_json(lab, *args, "-H", source)
            took = time.monotonic() - began
            assert rc == 1, (args, lines)
            assert lines[-1]["error"]["message"].endswith(f"{name}: migrating to {target}: wait or abort it"), lines
            # libvirt would hold it ~30 s on the state-change lock; one SSH round trip and a job read here.
            assert took < 10, (args, took)
        # The incoming half on the target: libvirt answers no job question there, its job holds the lock all the same.
        for args in (("balloon", "set", name, "128MiB"), ("resume", name)):
            began = time.monotonic()
            rc, lines = _run_json(lab, *args, "-H", target)
            took = time.monotonic() - began
            assert rc == 1, (args, lines)
            assert lines[-1]["error"]["message"].endswith(f"{name}: arriving here from another host: wait or abort it")
            assert took < 10, (args, took)
        assert live.proc.poll() is None  # the job went on
        live.ctrl_c()
        assert live.finish(60) == 130
    assert _state(lab, source, name) == "running"  # never suspended


def _kill_daemon(lab: LabHandle, host: str, daemon: str) -> None:
    """SIGKILL a lab host's daemon, as a crash does (no clean shutdown, no job cleanup)."""
    pid = int(lab.pidfile(host, daemon).read_text().strip())
    os.kill(pid, signal.SIGKILL)
    assert _pid_gone(pid, 10)


def _history_of(lab: LabHandle, name: str) -> list[Line]:
    records: list[Line] = json.loads(lab.vmtui("migrate", "history", "--json").stdout)["migrations"]
    return [r for r in records if r["domain"] == name]


def test_the_source_daemon_dying_mid_way_is_an_unknown_end_settled_later(
    lab: LabHandle, guests: dict[str, str]
) -> None:
    name = guests["dirty"]
    source = _where(lab, name)
    target = _other(source)
    try:
        with _slow_migration(lab, name, bandwidth=1) as (live, _source, _target):
            _kill_daemon(lab, source, "libvirtd")
            rc = live.finish(90)
        # Neither success nor failure: its own code, the same word in the result, the error and the history.
        assert rc == 6, live.lines[-2:]
        assert live.result()["outcome"] == "unknown"
        assert live.lines[-1]["error"]["kind"] == "unknown"
        assert "unknown" in live.lines[-1]["error"]["message"]
        assert _history_of(lab, name)[-1]["outcome"] == "unknown"
        # While the source is silent, `migrate jobs` says it is still unknown.
        rc, lines = _run_json(lab, "migrate", "jobs")
        assert rc == 0
        (still,) = [s for s in lines[0]["settled"] if s["domain"] == name]
        assert still["outcome"] == "unknown"
        rc, lines = _run_json(lab, "migrate", "attach", name)
        assert (rc, lines[-1]["outcome"]) == (6, "unknown"), lines
    finally:
        restarted = lab.vmtui("lab", "restart", source)
    assert restarted.returncode == 0, restarted.stderr
    # The source's daemon, back, cancels the job it was running: the guest runs on the source.
    rc, lines = _run_json(lab, "migrate", "jobs")
    assert rc == 0, lines
    (settled,) = [s for s in lines[0]["settled"] if s["domain"] == name]
    assert settled["outcome"] == "failed", settled
    assert _state(lab, source, name) == "running"
    deadline = time.monotonic() + 60
    while name in _names(lab, target):
        assert time.monotonic() < deadline, f"{name} stayed on {target}: {_state(lab, target, name)}"
        time.sleep(0.5)  # the target's cleanup is not announced to a client that connects afterwards
    # Settled once: recorded in the history, and not again.
    last = _history_of(lab, name)[-1]
    assert (last["outcome"], last["settled"]) == ("failed", True)
    rc, lines = _run_json(lab, "migrate", "jobs")
    assert [s for s in lines[0]["settled"] if s["domain"] == name] == []


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


def test_copy_storage_onto_the_same_file_is_refused_by_the_precheck(lab: LabHandle) -> None:
    # lab2-linux's qcow2 lies in lab2's own directory (lab2's pool default), and lab1 runs on the same
    # filesystem (and kernel): for lab1 it is the very same file. lab1's pools know nothing of it.
    name = "lab2-linux"
    disk = re.search(r"<source file='([^']+)'", lab.virsh("lab2", "dumpxml", name).stdout)
    assert disk, "the lab's lab2-linux has no disk file"
    same = os.stat(disk.group(1))  # this machine's view is both hosts' view (one kernel, one filesystem)
    assert same.st_size > 0
    rc, lines = _run_json(lab, "migrate", name, "lab1", "--copy-storage")
    assert rc == 1, lines[-2:]
    storage = next(line for line in lines if line.get("key") == "storage")
    assert storage["status"] == "fail"
    assert f"vda ({disk.group(1)}): the target sees the same file" in storage["reason"]
    assert "pre-checks" in lines[-1]["error"]["message"]
    assert _state(lab, "lab2", name) == "running"
    assert name not in _names(lab, "lab1")  # nothing started


def test_place_ranks_the_other_host_first(lab: LabHandle, guests: dict[str, str]) -> None:
    name = guests["idle"]
    source = _where(lab, name)
    rc, lines = _run_json(lab, "place", name)
    assert rc == 0, lines
    hosts = lines[0]["hosts"]
    assert hosts[0]["host"] == _other(source)
    assert hosts[0]["score"] is not None
    assert next(h for h in hosts if h["host"] == source)["current"] is True
