"""`vmtui export`'s CPU with 50 hosts x 20 domains, polled every 5 s and scraped every 15 s, with baselines.

    .venv/bin/python bench/bench_export.py [--hosts 50] [--domains 20] [--seconds 90] [--sources stub,testdriver]
                                           [--baseline DIR]

Each contender is a separate process whose own CPU time (user + system, psutil; not libvirtd's) is read over
`--seconds` of steady state, after every host has been sampled once:

  monitor      the exporter's pollers driven every --interval with nothing on top (samples without domain
               metrics: Monitor(derive=False)): the floor under the exporter
  monitor-full the pollers as the TUI and `vmtui top` run them (every domain's metrics derived each poll), as
               the exporter ran them before issue 26: the floor under the baseline of an older tree
  export-idle  `vmtui export`, never scraped: pollers + the exporter's bookkeeping
  export       `vmtui export` scraped every --scrape seconds by this script, as Prometheus would (gzip): the figure
  baseline-idle, baseline   (with --baseline DIR) the same two as another tree of vmtui has them (PYTHONPATH=DIR),
               in the same run: before and after on the same machine at the same load

Two sources of hosts, the realistic one first:

  stub         N in-process hosts returning QEMU-shaped records (bench_collector's synthetic 4-vCPU KVM guest
               with a disk and a NIC, 183 keys, every counter moving) through vmtui's real Connection.sample():
               the series a real fleet has (~71 per domain), without I/O.
  testdriver   N libvirt test-driver nodes served by the system libvirtd (`test+unix://`, bench/testdriver.py),
               each with M running domains. Real connections and bulk calls, but the test driver fills only
               `state.*`: few series per domain, no fleet looks like it.

For the testdriver source both exports are the real CLI (`vmtui export -H ...` over a private VMTUI_HOME
whose hosts.toml lists the nodes); the other contenders run this file in child mode (the same `Exporter`
class). Nothing outside /tmp is written, and every node file and child process is removed or stopped at the end.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_collector import _StubConn, record_source, stub_collector  # noqa: E402
from testdriver import served_node  # noqa: E402

from vmtui.config import HostStore  # noqa: E402
from vmtui.drivers.base import Hypervisor  # noqa: E402
from vmtui.drivers.replay import ReplayHost  # noqa: E402
from vmtui.models import HostEntry, HostSample  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
VMTUI = REPO / ".venv" / "bin" / "vmtui"


# ----- the stub source: QEMU-shaped hosts without I/O ----------------------------------------------------


class _KsmStub(_StubConn):
    def getMemoryParameters(self, _flags: int) -> dict[str, int]:  # noqa: N802 - libvirt's spelling
        return {"shm_pages_shared": 1000, "shm_pages_sharing": 5000, "shm_full_scans": 3, "shm_pages_to_scan": 100}


class StubHost(ReplayHost):
    """A `vmtui.drivers.base.Hypervisor` whose samples come from vmtui's real Connection.sample() over a stub.

    The rest of the protocol (read-only refusals, domain lookup) is the replay driver's: this is a recording
    that never ends and whose counters keep moving.
    """

    finite = False

    def __init__(self, uri: str, domains: int) -> None:  # no super().__init__(): there is no recording file
        _desc, source = record_source("synthetic")
        _stub, conn, collector = stub_collector(domains, source)
        conn._conn = _KsmStub(domains, source)
        self.uri = uri
        self.host = uri
        self._conn = conn
        self._info = collector.info
        self._domains = dict(collector.domains)

    def __enter__(self) -> StubHost:
        return self

    def sample(self, host: str | None = None, *, only: Collection[str] | None = None) -> HostSample:
        return self._conn.sample(host, only=only)


def stub_entries(hosts: int) -> list[HostEntry]:
    return [HostEntry(f"stub{i:02d}", f"stub:///{i}", read_only=True) for i in range(1, hosts + 1)]


# ----- child mode: the contenders that are not the real CLI ----------------------------------------------


def child(mode: str, source: str, hosts: int, domains: int, interval: float) -> None:
    """Run one contender until killed; print one JSON line when every host has been sampled once."""
    from vmtui.config import resolve_targets
    from vmtui.export.server import Exporter, Listen
    from vmtui.monitor.poller import open_host
    from vmtui.monitor.watch import Monitor

    entries = stub_entries(hosts) if source == "stub" else resolve_targets(None, None, read_only=True)

    def connector(entry: HostEntry) -> Hypervisor:
        return StubHost(entry.uri, domains) if source == "stub" else open_host(entry)

    if mode == "export":
        exporter = Exporter(entries, interval=interval, listen=Listen("127.0.0.1", 0), connector=connector)
        bound = exporter.start()
        import vmtui

        print(json.dumps({"listen": str(bound), "vmtui": vmtui.__file__}), flush=True)
        exporter.wait()
        return
    # The pollers alone, driven as the exporter drives them: tick every interval, drain the events.
    monitor = Monitor(entries, connector=connector, derive=mode == "monitor-full")
    monitor.start()
    ready = False
    next_tick = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= next_tick:
            monitor.tick()
            next_tick = max(next_tick + interval, now)
        monitor.next_event(min(next_tick - time.monotonic(), 0.5))
        if not ready and len(monitor.last_sample) == len(entries):
            ready = True
            print(json.dumps({"ready": True}), flush=True)


# ----- the parent: start, warm up, measure ---------------------------------------------------------------


@dataclass
class Result:
    source: str
    contender: str
    cpu_s: float
    wall_s: float
    scrapes: list[float] = field(default_factory=list)
    """Seconds per scrape (request to last byte)."""
    scrape_cpu: list[float] = field(default_factory=list)
    """The exporter's CPU seconds during each scrape (a poll that lands in one counts too: rarely)."""
    scrape_bytes: int = 0
    series: int = 0
    rss_mb: float = 0.0
    """Resident memory of the process at the end of the measurement."""

    @property
    def pct(self) -> float:
        return self.cpu_s / self.wall_s * 100


SCRAPED = frozenset({"export", "baseline"})

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
"""What Prometheus 2.x sends when it scrapes."""


def scrape(url: str, process: psutil.Process) -> tuple[float, float, int, int]:
    """One scrape as Prometheus does it (its Accept header, gzip): seconds, the exporter's CPU seconds meanwhile,
    bytes on the wire, samples."""
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip", "Accept": PROMETHEUS_ACCEPT})
    start, before = time.perf_counter(), process.cpu_times()
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = resp.read()
        encoding = resp.headers.get("Content-Encoding")
    took, after = time.perf_counter() - start, process.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    text = gzip.decompress(body).decode() if encoding == "gzip" else body.decode()
    samples = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    return took, cpu, len(body), samples


def wait_until_all_sampled(url: str, hosts: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url, timeout=60) as resp:
            text = resp.read().decode()
        if text.count("vmtui_host_sample_age_seconds{") >= hosts:
            return
        time.sleep(0.5)
    raise RuntimeError(f"not every host was sampled within the warm-up: {url}")


@contextmanager
def started(cmd: list[str], env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{' '.join(cmd[:4])} ... exited: {proc.stderr.read() if proc.stderr else ''}")
        yield proc, json.loads(line)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(source: str, contender: str, args: argparse.Namespace, env: dict[str, str], names: Sequence[str]) -> Result:
    common = ["--source", source, "--hosts", str(args.hosts), "--domains", str(args.domains)]
    common += ["--interval", str(args.interval)]
    if contender.startswith("baseline"):
        # The other tree's vmtui (its package first on the path), driven by this file's stub and scraper.
        env = {**env, "PYTHONPATH": str(args.baseline)}
    if not contender.startswith("monitor") and source == "testdriver":
        cmd = [sys.executable, "-m", "vmtui", "export", "--listen", "127.0.0.1:0", "--json"]
        cmd += ["--interval", str(args.interval), *(arg for name in names for arg in ("-H", name))]
    else:
        mode = contender if contender.startswith("monitor") else "export"
        cmd = [sys.executable, __file__, "child", "--mode", mode, *common]
    print(f"  {source}: {contender} ...", file=sys.stderr, flush=True)
    with started(cmd, env) as (proc, hello):
        if "vmtui" in hello:
            print(f"    vmtui from {Path(hello['vmtui']).parent}", file=sys.stderr, flush=True)
        url = f"http://{hello['listen']}/metrics" if "listen" in hello else ""
        if url:
            wait_until_all_sampled(url, args.hosts, time.monotonic() + 120)
        time.sleep(args.interval)  # one more poll of everyone: steady state, rates and all
        process = psutil.Process(proc.pid)
        before = process.cpu_times()
        began = time.monotonic()
        result = Result(source, contender, 0.0, 0.0)
        next_scrape = began
        while time.monotonic() - began < args.seconds:
            if contender in SCRAPED and time.monotonic() >= next_scrape:
                took, cpu, size, samples = scrape(url, process)
                result.scrapes.append(took)
                result.scrape_cpu.append(cpu)
                result.scrape_bytes, result.series = size, samples
                next_scrape += args.scrape
            time.sleep(min(0.5, max(0.0, args.seconds - (time.monotonic() - began))))
        after = process.cpu_times()
        result.rss_mb = process.memory_info().rss / 1e6
        result.wall_s = time.monotonic() - began
        result.cpu_s = (after.user - before.user) + (after.system - before.system)
    return result


def report(results: Sequence[Result], args: argparse.Namespace) -> None:
    print(
        f"\n== vmtui export: {args.hosts} hosts x {args.domains} domains, polled every {args.interval:g} s,"
        f" scraped every {args.scrape:g} s; CPU of the process over {args.seconds:g} s =="
    )
    header = f"{'source':<11} {'contender':<14} {'CPU s':>7} {'% of a core':>12}"
    print(f"{header} {'scrape ms':>10} {'CPU ms':>7} {'series':>7} {'gzip KB':>8} {'RSS MB':>7}")
    for r in results:
        scrape_ms = f"{statistics.median(r.scrapes) * 1000:10.1f}" if r.scrapes else f"{'-':>10}"
        scrape_ms += f" {statistics.median(r.scrape_cpu) * 1000:7.1f}" if r.scrape_cpu else f" {'-':>7}"
        series = f"{r.series:7d}" if r.scrapes else f"{'-':>7}"
        kb = f"{r.scrape_bytes / 1024:8.1f}" if r.scrapes else f"{'-':>8}"
        line = f"{r.source:<11} {r.contender:<14} {r.cpu_s:7.2f} {r.pct:11.2f}% {scrape_ms} {series} {kb}"
        print(f"{line} {r.rss_mb:7.1f}")
    for source in dict.fromkeys(r.source for r in results):
        by = {r.contender: r for r in results if r.source == source}
        floors = (("monitor-full", "baseline-idle", "baseline"), ("monitor", "export-idle", "export"))
        for floor, idle_name, name in floors:
            mon = by.get(floor)
            if mon is None or not {idle_name, name} <= set(by):
                continue
            idle, exp = by[idle_name], by[name]
            per_scrape = statistics.median(exp.scrape_cpu) * 1000 if exp.scrape_cpu else 0.0
            print(
                f"  {source} {name}: {exp.pct:.2f} % of a core; the pollers alone ({floor}) {mon.pct:.2f} %; on top"
                f" {exp.pct - mon.pct:+.2f} % (never scraped: {idle.pct - mon.pct:+.2f} %); a scrape of {exp.series}"
                f" series {per_scrape:.0f} ms of CPU (median); RSS {exp.rss_mb:.0f} MB"
            )
        if {"baseline", "export"} <= set(by) and by["baseline"].pct:
            print(f"  {source} export / baseline: {by['export'].pct / by['baseline'].pct:.2f}x CPU")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min), {os.getloadavg()[1]:.2f} (5 min)")


@contextmanager
def testdriver_home(hosts: int, domains: int) -> Iterator[tuple[dict[str, str], list[str]]]:
    """N served test-driver nodes saved as hosts bench01.. in a private VMTUI_HOME; all removed on exit."""
    with ExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vmtui-bench-export-")))
        env = {**os.environ, "VMTUI_HOME": str(home)}
        old = os.environ.get("VMTUI_HOME")
        os.environ["VMTUI_HOME"] = str(home)
        try:
            store = HostStore()
            names = []
            for i in range(1, hosts + 1):
                node = stack.enter_context(served_node(domains, check=i == 1))
                names.append(f"bench{i:02d}")
                store.add(HostEntry(names[-1], node.uri, read_only=True))
        finally:
            if old is None:
                os.environ.pop("VMTUI_HOME", None)
            else:
                os.environ["VMTUI_HOME"] = old
        yield env, names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command")
    kid = sub.add_parser("child", help="internal: run one contender")
    kid.add_argument("--mode", choices=["monitor", "monitor-full", "export"], required=True)
    for p in (parser, kid):
        p.add_argument("--hosts", type=int, default=50)
        p.add_argument("--domains", type=int, default=20)
        p.add_argument("--interval", type=float, default=5.0, help="seconds between polls of each host")
    kid.add_argument("--source", choices=["testdriver", "stub"], required=True)
    parser.add_argument("--scrape", type=float, default=15.0, help="seconds between scrapes")
    parser.add_argument("--seconds", type=float, default=90.0, help="measured seconds per contender")
    parser.add_argument("--sources", default="stub,testdriver", help="stub, testdriver, or both")
    parser.add_argument("--baseline", type=Path, help="another vmtui tree, measured as `baseline` in the same run")
    args = parser.parse_args(argv)
    if args.baseline:
        args.baseline = args.baseline.resolve()
    if args.command == "child":
        child(args.mode, args.source, args.hosts, args.domains, args.interval)
        return 0

    load = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    print(f"host: {cpus} CPUs, load average {load:.2f}" + ("  (BUSY HOST: noisy)" if load > cpus / 2 else ""))
    results = []
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    contenders = ["monitor-full", "monitor"]
    contenders += [*(["baseline-idle", "baseline"] if args.baseline else []), "export-idle", "export"]
    for source in sources:
        with ExitStack() as stack:
            if source == "testdriver":
                env, names = stack.enter_context(testdriver_home(args.hosts, args.domains))
            else:
                env, names = dict(os.environ), []
            for contender in contenders:
                results.append(measure(source, contender, args, env, names))
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
