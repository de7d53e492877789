"""`vmtui export` scraped by a real Prometheus server over the lab hosts (qemu+ssh).

The test starts Debian's `prometheus` on 127.0.0.1 with its own config and data directory (scraping the
exporter every 2 s), a busy Linux guest of its own on lab1, and `vmtui export` on a port the system
picks. It asks Prometheus' HTTP API, as a Grafana panel would:

1. a busy guest's `rate(vmtui_domain_cpu_seconds_total[30s])` agrees with what `vmtui stats` measured over
   the same 30 s;
2. the alerting rules of `vmtui export --rules` (levels from a config.toml of the test's: CPU critical from
   2 % of the vCPUs), loaded into that Prometheus, evaluate over the real scrape without an error, and the
   busy guest's CPU alert goes pending;
3. after lab2's libvirtd is killed (that host only, by its pidfile), `vmtui_host_up{host="lab2"}` drops to 0
   while every scrape of the exporter still succeeds and lab1 keeps being sampled.

Everything it starts is stopped, and everything it makes is removed, also on failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fixtures_lab import VMTUI, LabHandle

from vmtui.drivers import connect
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.lab import image, netns

pytestmark = pytest.mark.lab

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
WAIT = 60.0
"""Upper bound for things that take a few seconds; reaching it fails the test with what was seen."""
WINDOW = 30
"""Seconds of the rate() window, and of the `vmtui stats` interval it is compared with."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    """A running Prometheus server and its HTTP API."""

    def __init__(self, base: str, proc: subprocess.Popen[str]) -> None:
        self.base = base
        self.proc = proc

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": promql, **({"time": f"{at:.3f}"} if at is not None else {})}
        url = f"{self.base}/api/v1/query?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def rules(self) -> list[dict[str, Any]]:
        """Every alerting rule Prometheus loaded, with its health and last error (`/api/v1/rules`)."""
        with urllib.request.urlopen(f"{self.base}/api/v1/rules?type=alert", timeout=10) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return [rule for group in body["data"]["groups"] for rule in group["rules"]]

    def value(self, promql: str, at: float | None = None) -> float | None:
        """The one value of an instant query (None when it has no result)."""
        result = self.query(promql, at)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, promql: str, want: float) -> None:
        deadline = time.monotonic() + WAIT
        seen: float | None = None
        while time.monotonic() < deadline:
            seen = self.value(promql)
            if seen == want:
                return
            time.sleep(0.5)
        raise AssertionError(f"{promql} stayed {seen}, never {want}, within {WAIT:g} s")


@contextmanager
def prometheus(target: str, rules: str = "") -> Iterator[Prometheus]:
    """Prometheus on a free loopback port, scraping `target` every 2 s and evaluating `rules` (a rules
    file's text) every 2 s; stopped and removed after."""
    with tempfile.TemporaryDirectory(prefix="vmtui-prometheus-") as tmp:
        config = Path(tmp) / "prometheus.yml"
        rule_files = ""
        if rules:
            (Path(tmp) / "rules.yml").write_text(rules, encoding="utf-8")
            rule_files = f"rule_files: ['{Path(tmp) / 'rules.yml'}']\n"
        config.write_text(
            "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 2s\n"
            + rule_files
            + f"scrape_configs:\n  - job_name: vmtui\n    static_configs:\n      - targets: ['{target}']\n",
            encoding="utf-8",
        )
        port = free_port()  # a tiny race with other tests on the machine: a clash fails loudly below
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={Path(tmp) / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + WAIT
            while True:
                if proc.poll() is not None:
                    raise AssertionError(
                        f"prometheus exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
                    )
                try:
                    with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("prometheus never became ready")
                time.sleep(0.2)
            yield Prometheus(base, proc)
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> int:
    """Stop a process this test started (by its own handle), killing it if it does not go."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@contextmanager
def exporter(lab: LabHandle) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`vmtui export` over every lab host on a port the system picks; yields its address."""
    cmd = [str(VMTUI)] if VMTUI.exists() else [sys.executable, "-m", "vmtui"]
    proc = subprocess.Popen(
        [*cmd, "export", "--listen", "127.0.0.1:0", "--interval", "1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "VMTUI_HOME": str(lab.home)},
    )
    try:
        assert proc.stdout is not None
        start = json.loads(proc.stdout.readline() or "{}")
        assert set(start.get("hosts", [])) == set(lab.names), start
        yield start["listen"], proc
    finally:
        stop(proc, signal.SIGINT)


@contextmanager
def busy_guest(lab: LabHandle) -> Iterator[str]:
    """A TCG Linux guest of this test on lab1 whose memory dirtier keeps one vCPU steadily busy."""
    linux = image.find_image() or image.build_image()
    name = f"lab1-export-busy-{secrets.token_hex(3)}"
    # 48 MiB rewritten flat out: one vCPU steadily busy (a paced dirtier costs TCG only ~3 % of a core).
    spec = GuestSpec(
        name,
        memory_mib=192,
        domain_type="qemu",
        nic_model=None,
        role="test",
        kernel=linux.kernel,
        initrd=linux.initrd,
        cmdline=linux.cmdline(dirty_mib=48, rate_mib_s=0),
    )
    with connect(lab.uris["lab1"]) as conn:
        conn.define_and_start(build_guest_xml(spec))
        try:
            yield name
        finally:
            conn.destroy_and_undefine(name)


@pytest.mark.lab_last  # it kills lab2's daemon (and brings it back)
def alert_rules(tmp_path: Path) -> str:
    """`vmtui export --rules` with the CPU levels of a config.toml of the test's own (the lab's home, which
    other tests share, is not touched): warn from 1 %, critical from 2 % of the vCPUs."""
    home = tmp_path / "rules-home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text("[thresholds]\ncpu = { warn = 1, critical = 2 }\n")
    proc = subprocess.run(
        [*([str(VMTUI)] if VMTUI.exists() else [sys.executable, "-m", "vmtui"]), "export", "--rules"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "VMTUI_HOME": str(home)}, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_prometheus_scrapes_the_lab_rates_agree_with_stats_and_a_dead_host_is_down(
    lab: LabHandle, tmp_path: Path
) -> None:
    rules = alert_rules(tmp_path)
    with busy_guest(lab) as guest, exporter(lab) as (address, export_proc), prometheus(address, rules) as prom:
        cpu = f'vmtui_domain_cpu_seconds_total{{host="lab1",domain="{guest}"}}'
        prom.wait_for(f"count({cpu})", 1)
        began = time.time()

        # 1. rate() over Prometheus' samples against `vmtui stats` over the same WINDOW seconds.
        proc = lab.vmtui("stats", guest, "--host", "lab1", "--json", "--interval", str(WINDOW))
        ended = time.time()
        assert proc.returncode == 0, proc.stderr
        stats_pct = json.loads(proc.stdout)["metrics"]["cpu_pct"]
        # Both reads of the window's end must be in Prometheus before asking about it.
        prom.wait_for(f"timestamp({cpu}) > bool {ended:.3f}", 1)
        rate = prom.value(f"rate({cpu}[{WINDOW}s])", at=ended)
        assert rate is not None
        # The two windows differ only by when each started (stats: after its own connect over SSH, up to
        # ~1 s later; Prometheus: the first of the exporter's 1 s samples in the window) and by cpu.time's 10 ms ticks:
        # at most ~1 s of 30 s of a steady load, 3.3 %. 10 % relative plus 1 % of a core of slack still
        # catches a wrong unit (1e9, 100x), a wrong counter (vCPU time only misses the overhead) or
        # rates computed against scrape time instead of sample time.
        assert stats_pct > 5, f"the guest is not busy ({stats_pct:.1f} % of a core): nothing to compare"
        assert rate * 100 == pytest.approx(stats_pct, rel=0.10, abs=1.0), (rate * 100, stats_pct)

        # 2. The alerting rules, over these real series: each evaluates without an error, and the busy
        # guest (above 5 % of a core, so above 2 % of its one vCPU) has its CPU critical alert pending
        # or firing (`for: 1m` keeps it pending for the first minute).
        prom.wait_for(f'count(ALERTS{{alertname="VmtuiDomainCpuCritical",host="lab1",domain="{guest}"}})', 1)
        loaded = prom.rules()  # evaluated at least once by now (the alert above came from an evaluation)
        assert len(loaded) == 12, [r["name"] for r in loaded]
        assert [(r["name"], r["health"], r.get("lastError", "")) for r in loaded if r["health"] != "ok"] == []

        # 3. One host dies; the exporter keeps answering, and says which host is down.
        pid = netns.read_pidfile(lab.pidfile("lab2", "libvirtd"))
        assert pid, "lab2's libvirtd has no pidfile"
        killed = time.time()
        try:
            os.kill(pid, signal.SIGKILL)
            prom.wait_for('vmtui_host_up{host="lab2"}', 0)
            prom.wait_for(f'vmtui_host_last_sample_timestamp_seconds{{host="lab1"}} > bool {killed:.3f}', 1)
            assert prom.value('vmtui_host_up{host="lab1"}') == 1
            span = int(time.time() - began) + 1
            # Every scrape since the test began succeeded, before and after the kill.
            assert prom.value(f'min_over_time(up{{job="vmtui"}}[{span}s])') == 1
            reasons = prom.query('vmtui_host_error_info{host="lab2"}')
            assert reasons, "lab2 is down without a reason"
            assert reasons[0]["metric"]["reason"], reasons
            age = prom.value('vmtui_host_sample_age_seconds{host="lab2"}')
            assert age is not None
            assert age > 0
            # Its guests' last sample is still served (with its age), not dropped at once.
            assert (prom.value('count(vmtui_domain_cpu_seconds_total{host="lab2"})') or 0) >= 2
            assert export_proc.poll() is None
        finally:
            lab.restore()
        assert stop(export_proc, signal.SIGINT) == 130  # Ctrl-C: vmtui's exit code for an interrupted command
