"""vmtui's per-refresh collector cost and CLI start-up time, against raw libvirt-python and virsh.

    .venv/bin/python bench/bench_collector.py [--rounds N] [--sizes 10,100,1000] [--startup-runs N]

Part 1, per refresh, for each size N (libvirt's test driver served by the system libvirtd, N running
domains with 4 vCPUs, a disk and a NIC each):
  bare       conn.getAllDomainStats(STATS_GROUPS, 0) on a raw libvirt-python connection
  sample     vmtui Connection.sample(): the bulk call, conversion to models, host CPU/memory counters
  collector  vmtui Collector.tick(): sample() plus every derived metric (steady state: a previous sample exists)
  virsh      `virsh -c URI domstats --state --cpu-total ...` (same groups), one process per refresh
  virsh-conn `virsh -c URI uri`: what connecting alone costs virsh (the test driver parses the node file per
             connection, so this grows with N)
Part 2: vmtui's Python-side cost on QEMU-shaped records (the test driver only fills `state.*`, so part 1
  under-weights the per-record work): Connection.sample() + Collector.tick() over a stub connection that
  returns, N times, the record of a real KVM guest from tests/fixtures/ (`--records recorded`, counters
  advancing as recorded) or a synthetic 4-vCPU guest with a disk and a NIC (`--records synthetic`). No I/O.
Part 3, start-up: `vmtui list --json -c URI` against `virsh -c URI list --all` on the 10-domain node.

Figures are medians over rounds; within a round each contender runs in turn (rotating order) so drift
hits all alike. Goals from issue 2: collector <= 1.3x bare; start-up <= 4x virsh.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libvirt

from vmtui.drivers.libvirt.connection import init_libvirt
from vmtui.drivers.libvirt.driver import Connection
from vmtui.drivers.libvirt.host import STATS_GROUPS
from vmtui.metrics import EXIT_REASONS
from vmtui.models import Accelerator, DomainInfo, HostInfo
from vmtui.monitor.collector import Collector

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qemu_guests import bench_qemu, print_qemu  # noqa: E402
from startup import bench_startup, print_startup  # noqa: E402
from testdriver import served_node  # noqa: E402
from timing import Contender, ms, race, ratio, run_quiet, verdict  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
COLLECTOR_GOAL = 1.3

VIRSH_FLAGS = {
    libvirt.VIR_DOMAIN_STATS_STATE: "--state",
    libvirt.VIR_DOMAIN_STATS_CPU_TOTAL: "--cpu-total",
    libvirt.VIR_DOMAIN_STATS_BALLOON: "--balloon",
    libvirt.VIR_DOMAIN_STATS_VCPU: "--vcpu",
    libvirt.VIR_DOMAIN_STATS_INTERFACE: "--interface",
    libvirt.VIR_DOMAIN_STATS_BLOCK: "--block",
    libvirt.VIR_DOMAIN_STATS_PERF: "--perf",
    libvirt.VIR_DOMAIN_STATS_IOTHREAD: "--iothread",
    libvirt.VIR_DOMAIN_STATS_MEMORY: "--memory",
    libvirt.VIR_DOMAIN_STATS_DIRTYRATE: "--dirtyrate",
    libvirt.VIR_DOMAIN_STATS_VM: "--vm",
}


def virsh_group_flags(groups: int) -> list[str]:
    flags = [opt for bit, opt in VIRSH_FLAGS.items() if groups & bit]
    unknown = groups & ~sum(VIRSH_FLAGS)
    if unknown:
        raise SystemExit(f"STATS_GROUPS has bits virsh domstats has no option for: {unknown:#x}")
    return flags


# ----- part 1: test driver over the daemon ---------------------------------------------------------------


@dataclass
class SizeResult:
    size: int
    keys_per_record: float
    setup_s: float
    bare: float
    sample: float
    collector: float
    virsh: float
    virsh_conn: float


def bench_size(size: int, rounds: int, virsh: str) -> SizeResult:
    with served_node(size) as node:
        uri = node.uri
        init_libvirt()  # vmtui's error handler and event loop, for both connections: same process conditions
        raw = libvirt.open(uri)
        vconn = Connection(uri)
        try:
            records = raw.getAllDomainStats(STATS_GROUPS, 0)
            if len(records) != size:
                raise RuntimeError(f"{uri}: bulk call returned {len(records)} records, expected {size}")
            keys = statistics.mean(len(stats) for _dom, stats in records)
            start = time.perf_counter()
            collector = Collector(vconn, "bench")
            setup = time.perf_counter() - start
            collector.tick()  # so every timed tick has a previous sample: rates computed, steady state

            domstats = [virsh, "-q", "-c", uri, "domstats", *virsh_group_flags(STATS_GROUPS)]
            contenders = [
                Contender("bare", lambda: raw.getAllDomainStats(STATS_GROUPS, 0)),
                Contender("sample", lambda: vconn.sample("bench")),
                Contender("collector", collector.tick),
                Contender("virsh", lambda: run_quiet(domstats), inner=1),
                Contender("virsh-conn", lambda: run_quiet([virsh, "-q", "-c", uri, "uri"]), inner=1),
            ]
            for c in contenders[:3]:
                c.calibrate()
            race(contenders, rounds)
            by = {c.name: c.median for c in contenders}
        finally:
            vconn.close()
            raw.close()
    return SizeResult(
        size=size,
        keys_per_record=keys,
        setup_s=setup,
        bare=by["bare"],
        sample=by["sample"],
        collector=by["collector"],
        virsh=by["virsh"],
        virsh_conn=by["virsh-conn"],
    )


def print_sizes(results: Sequence[SizeResult]) -> None:
    print("\n== Collector cost per refresh: libvirt test driver via libvirtd (test+unix://), median ms ==")
    print(
        f"{'domains':>7} {'keys/rec':>8} {'bare':>9} {'sample':>9} {'collector':>9} {'virsh':>9} {'virsh-conn':>10}"
        f" {'coll/bare':>9} {'virsh/bare':>10} {'coll/virsh':>10}"
    )
    for r in results:
        print(
            f"{r.size:>7} {r.keys_per_record:>8.1f} {ms(r.bare)} {ms(r.sample)} {ms(r.collector)} {ms(r.virsh)}"
            f" {ms(r.virsh_conn):>10} {ratio(r.collector, r.bare):>9} {ratio(r.virsh, r.bare):>10}"
            f" {ratio(r.collector, r.virsh):>10}"
        )
    print("  per-domain cost, us:      bare / collector")
    for r in results:
        print(f"  {r.size:>5} domains:        {r.bare / r.size * 1e6:8.1f} / {r.collector / r.size * 1e6:8.1f}")
    print(
        "  one-off Collector() set-up (host info + every domain's XML): "
        + ", ".join(f"{r.size}: {r.setup_s * 1000:.1f} ms" for r in results)
    )
    for r in results:
        print(
            f"  {r.size:>5} domains: collector/bare {r.collector / r.bare:.2f}x"
            f" ({verdict(r.collector / r.bare, COLLECTOR_GOAL)} <= {COLLECTOR_GOAL}x);"
            f" sample/bare {r.sample / r.bare:.2f}x; metrics add {(r.collector - r.sample) * 1000:.3f} ms"
        )


# ----- part 2: QEMU-shaped records, no I/O ---------------------------------------------------------------


VCPUS = 4
VCPU_EXTRA = (
    "exits",
    *EXIT_REASONS,
    "insn_emulation",
    "insn_emulation_fail",
    "hypercalls",
    "halt_successful_poll",
    "halt_attempted_poll",
    "halt_poll_invalid",
    "halt_wakeup",
    "pf_fixed",
    "pf_guest",
    "tlb_flush",
    "invlpg",
    "fpu_reload",
    "host_state_reload",
    "l1d_flush",
    "preemption_reported",
)
VM_EXTRA = (
    "mmu_shadow_zapped",
    "mmu_pte_write",
    "mmu_cache_miss",
    "mmu_flooded",
    "mmu_recycled",
    "mmu_unsync",
    "remote_tlb_flush",
    "lpages",
    "nx_lpage_splits",
    "max_mmu_page_hash_collisions",
    "max_mmu_rmap_size",
)


def qemu_record(index: int, tick: int) -> dict[str, Any]:
    """The stats a 4-vCPU KVM guest with one virtio disk and one virtio NIC reports for STATS_GROUPS."""
    t = tick + 1
    rec: dict[str, Any] = {
        "state.state": 1,
        "state.reason": 1,
        "cpu.time": 10_000_000_000 * t + index,
        "cpu.user": 6_000_000_000 * t,
        "cpu.system": 3_000_000_000 * t,
        "cpu.cache.monitor.count": 0,
        "cpu.haltpoll.success.time": 1000 * t,
        "cpu.haltpoll.fail.time": 100 * t,
        "balloon.current": 1_048_576,
        "balloon.maximum": 1_048_576,
        "balloon.swap_in": 0,
        "balloon.swap_out": 0,
        "balloon.major_fault": 300 + t,
        "balloon.minor_fault": 100_000 * t,
        "balloon.unused": 500_000,
        "balloon.available": 1_000_000,
        "balloon.usable": 700_000,
        "balloon.last-update": 1_700_000_000 + t,
        "balloon.disk_caches": 200_000,
        "balloon.hugetlb_pgalloc": 0,
        "balloon.hugetlb_pgfail": 0,
        "balloon.rss": 900_000,
        "vcpu.current": VCPUS,
        "vcpu.maximum": VCPUS,
        "net.count": 1,
        "net.0.name": f"vnet{index}",
        "block.count": 1,
        "block.0.name": "vda",
        "block.0.path": f"/var/lib/libvirt/images/g{index}.qcow2",
        "block.0.backingIndex": 1,
        "block.0.allocation": 1 << 30,
        "block.0.capacity": 10 << 30,
        "block.0.physical": 1 << 30,
    }
    for i in range(VCPUS):
        rec |= {
            f"vcpu.{i}.state": 1,
            f"vcpu.{i}.time": 2_000_000_000 * t,
            f"vcpu.{i}.wait": 10_000_000 * t,
            f"vcpu.{i}.delay": 5_000_000 * t,
            f"vcpu.{i}.halted": "no",
        }
        rec |= {f"vcpu.{i}.{name}.sum": 1000 * t + n for n, name in enumerate(VCPU_EXTRA)}
    for part in ("rx", "tx"):
        rec |= {f"net.0.{part}.{what}": 1000 * t for what in ("bytes", "pkts", "errs", "drop")}
    for op in ("rd", "wr", "fl"):
        rec |= {
            f"block.0.{op}.{what}": 1000 * t
            for what in ("reqs", "bytes", "times")
            if not (op == "fl" and what == "bytes")
        }
    rec |= {f"vm.{name}.sum": 10 * t for name in VM_EXTRA}
    rec |= {"vm.pages_4k.cur": 200_000, "vm.pages_2m.cur": 300, "vm.pages_1g.cur": 0}
    return rec


class _StubDomain:
    def __init__(self, index: int) -> None:
        self._name = f"g{index:04d}"
        self._uuid = f"00000000-0000-4000-8000-{index:012d}"

    def UUIDString(self) -> str:  # noqa: N802 - libvirt's spelling
        return self._uuid

    def name(self) -> str:
        return self._name


RECORDING = REPO / "tests" / "fixtures" / "qemu-kvm-tcg-3guests.jsonl"


def recorded_kvm_pair() -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Two consecutive raw records of the first KVM guest in the repository's recording of real guests."""
    try:
        lines = [json.loads(line) for line in RECORDING.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
        first, second = lines[0], lines[1]
        name = next(d["name"] for d in first["domains"] if "kvm" in d["name"])
        pick = [next(d["raw"] for d in s["domains"] if d["name"] == name) for s in (first, second)]
    except (OSError, ValueError, KeyError, IndexError, StopIteration):
        return None
    return pick[0], pick[1]


def record_source(kind: str) -> tuple[str, Callable[[int], tuple[dict[str, Any], dict[str, Any]]]]:
    """(description, index -> (record at tick 0, growth per tick))."""
    pair = recorded_kvm_pair() if kind == "recorded" else None
    if pair is not None:
        base, nxt = pair
        growth = {
            k: nxt[k] - v for k, v in base.items() if isinstance(v, int) and isinstance(nxt.get(k), int) and nxt[k] > v
        }
        vcpus = base.get("vcpu.current", "?")
        return (
            f"recorded KVM guest ({vcpus} vCPU, {len(base)} keys) from {RECORDING.relative_to(REPO)}",
            lambda _i: (base, growth),
        )
    t0, t1 = qemu_record(0, 0), qemu_record(0, 1)
    growth = {k: t1[k] - v for k, v in t0.items() if isinstance(v, int) and t1[k] > v}
    return (
        f"synthetic KVM guest ({VCPUS} vCPUs, 1 disk, 1 NIC, {len(t0)} keys)",
        lambda i: (qemu_record(i, 0), growth),
    )


class _StubConn:
    """Stands in for a libvirt connection: returns fresh QEMU-shaped records, counters rising per call."""

    def __init__(self, size: int, source: Callable[[int], tuple[dict[str, Any], dict[str, Any]]]) -> None:
        self.domains = [_StubDomain(i) for i in range(size)]
        self.ticks = itertools.count()
        self.templates = [source(i) for i in range(size)]

    def getAllDomainStats(self, _groups: int, _flags: int) -> list[tuple[_StubDomain, dict[str, Any]]]:  # noqa: N802
        tick = next(self.ticks)
        # libvirt-python builds a new dict per record per call; so do we (copy, then move the counters).
        out = []
        for dom, (tpl, growth) in zip(self.domains, self.templates, strict=True):
            rec = dict(tpl)
            for key, step in growth.items():
                rec[key] += tick * step
            out.append((dom, rec))
        return out

    def getType(self) -> str:  # noqa: N802
        """QEMU, as the records are: the busy rule of the NOWAIT bulk call is QEMU's (one lookup per host)."""
        return "QEMU"

    def getCPUStats(self, _which: int, _flags: int) -> dict[str, int]:  # noqa: N802
        return {"kernel": 1, "user": 2, "idle": 3, "iowait": 4}

    def getMemoryStats(self, _which: int, _flags: int) -> dict[str, int]:  # noqa: N802
        return {"total": 1 << 28, "free": 1 << 27, "buffers": 1 << 20, "cached": 1 << 24}


@dataclass
class ShapeResult:
    size: int
    keys_per_record: int
    stub: float
    sample: float
    collector: float


def stub_collector(
    size: int, source: Callable[[int], tuple[dict[str, Any], dict[str, Any]]]
) -> tuple[_StubConn, Connection, Collector]:
    """vmtui's real Connection.sample and Collector.tick over a stub connection (bypassing their constructors,
    which would open a connection and read host facts)."""
    stub = _StubConn(size, source)
    conn = Connection.__new__(Connection)
    conn._conn = stub
    conn.uri = "stub:///qemu-shaped"
    conn.read_only = True
    conn._unsupported = set()
    collector = Collector.__new__(Collector)
    collector._static = {}
    collector.conn = conn
    collector.host = "stub"
    collector.info = HostInfo(
        uri=conn.uri,
        hostname="stub",
        libvirt_version="0",
        hypervisor="QEMU",
        hypervisor_version="0",
        kernel=None,
        cpus=64,
        cpu_model="stub",
        memory_kib=1 << 28,
        kvm_usable=True,
        tdp=True,
        tdp_detail="stub",
    )
    collector.domains = {
        d.UUIDString(): DomainInfo(
            uuid=d.UUIDString(),
            name=d.name(),
            id=i + 1,
            state="running",
            accelerator=Accelerator.KVM,
            vcpus=VCPUS,
            max_memory_kib=1_048_576,
            memory_kib=1_048_576,
            persistent=True,
            machine="pc",
            devices=(),
            balloon_model="virtio",
            balloon_period=None,
        )
        for i, d in enumerate(stub.domains)
    }
    collector._prev = None
    return stub, conn, collector


def bench_shape(size: int, rounds: int, kind: str) -> ShapeResult:
    _desc, source = record_source(kind)
    stub, conn, collector = stub_collector(size, source)
    collector.tick()
    tick = collector.tick()
    if len(tick.domains) != size or next(iter(tick.domains.values())).cpu_pct is None:
        raise RuntimeError("stub collector produced no rates: the benchmark's stub no longer matches vmtui")
    contenders = [
        Contender("stub", lambda: stub.getAllDomainStats(STATS_GROUPS, 0)),
        Contender("sample", lambda: conn.sample("stub")),
        Contender("collector", collector.tick),
    ]
    for c in contenders:
        c.calibrate()
    race(contenders, rounds)
    by = {c.name: c.median for c in contenders}
    return ShapeResult(size, len(stub.templates[0][0]), by["stub"], by["sample"], by["collector"])


def print_shapes(results: Sequence[ShapeResult], sizes: Sequence[SizeResult], desc: str) -> None:
    print("\n== vmtui Python-side cost on QEMU-shaped records (no I/O), median ms ==")
    print(f"   records: {desc}")
    print("   (stub = building the records like libvirt-python does; sample and collector include it)")
    bare_by = {s.size: s.bare for s in sizes}
    print(
        f"{'domains':>7} {'keys/rec':>8} {'stub':>9} {'sample':>9} {'collector':>9}"
        f" {'vmtui adds':>10} {'adds/bare(test)':>15}"
    )
    for r in results:
        added = r.collector - r.stub
        bare = bare_by.get(r.size)
        print(
            f"{r.size:>7} {r.keys_per_record:>8} {ms(r.stub)} {ms(r.sample)} {ms(r.collector)} {ms(added):>10}"
            f" {(ratio(added, bare) if bare else '-'):>15}"
        )
    print("  'vmtui adds' = collector - stub: vmtui's own work per refresh on top of the bulk call's result;")
    print("  compare with the bare test-driver call above (whose records carry only state.*).")


# ----- main ----------------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from None
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per contender (median reported)")
    parser.add_argument("--sizes", type=parse_sizes, default=[10, 100, 1000], help="domain counts, e.g. 10,100,1000")
    parser.add_argument("--startup-runs", type=int, default=10, help="runs of each command for start-up times")
    parser.add_argument("--vmtui", default=str(REPO / ".venv" / "bin" / "vmtui"), help="the vmtui executable")
    parser.add_argument("--virsh", default=shutil.which("virsh") or "virsh")
    parser.add_argument(
        "--records",
        choices=["recorded", "synthetic"],
        default="recorded",
        help="part 2's records: the repository's recording of a real KVM guest (falls back to synthetic), or synthetic",
    )
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--qemu-guests", type=int, default=6, help="real KVM/TCG guests for part 4 (0 skips it)")
    args = parser.parse_args(argv)

    print(f"libvirt {libvirt.getVersion()} (python binding), virsh {args.virsh}, Python {sys.version.split()[0]}")
    load = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    print(
        f"host: {cpus} CPUs, load average {load:.2f}"
        + ("  (BUSY HOST: expect noisy figures)" if load > cpus / 2 else "")
    )
    print(f"rounds {args.rounds}; STATS_GROUPS {STATS_GROUPS:#x} = {' '.join(virsh_group_flags(STATS_GROUPS))}")
    sizes = []
    for n in args.sizes:
        print(f"  measuring {n} domains ...", file=sys.stderr, flush=True)
        sizes.append(bench_size(n, args.rounds, args.virsh))
    print_sizes(sizes)
    shapes = [bench_shape(n, args.rounds, args.records) for n in args.sizes]
    print_shapes(shapes, sizes, record_source(args.records)[0])
    if not args.skip_startup:
        print("  measuring start-up ...", file=sys.stderr, flush=True)
        print_startup(bench_startup(args.startup_runs, args.vmtui, args.virsh))
    if args.qemu_guests:
        print(f"  measuring {args.qemu_guests} real guests on qemu:///system ...", file=sys.stderr, flush=True)
        print_qemu(bench_qemu(args.qemu_guests, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
