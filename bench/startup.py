"""Part 3 of bench_collector: start-up of `vmtui list --json` against `virsh list`.

Also runs alone: `PYTHONPATH=$PWD .venv/bin/python bench/startup.py [--runs 15] [--baseline DIR]`, where
`--baseline DIR` adds the same command with PYTHONPATH=DIR (another tree of vmtui, for example a `git archive`
of main): before and after in one run. The vmtui executable runs whatever `vmtui` its PYTHONPATH finds first.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from testdriver import served_node
from timing import ms, ratio, run_quiet, verdict

STARTUP_GOAL = 4.0


# ----- part 3: start-up ----------------------------------------------------------------------------------


@dataclass
class StartupResult:
    name: str
    median: float
    spread: tuple[float, float]
    cpu: float
    """Median user+system CPU time of the child itself (not of libvirtd): steadier than wall time on a busy host."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(name: str, cmd: Sequence[str], runs: int, env: dict[str, str] | None = None) -> StartupResult:
    run_quiet(cmd, env)  # warm-up: page cache, bytecode cache
    times, cpu = [], []
    for _ in range(runs):
        cpu0 = _children_cpu()
        start = time.perf_counter()
        run_quiet(cmd, env)
        times.append(time.perf_counter() - start)
        cpu.append(_children_cpu() - cpu0)
    return StartupResult(name, statistics.median(times), (min(times), max(times)), statistics.median(cpu))


def bench_startup(runs: int, vmtui: str, virsh: str, baseline: str | None = None) -> list[StartupResult]:
    python = str(Path(vmtui).with_name("python"))
    pycache = tempfile.mkdtemp(prefix="vmtui-bench-pyc-")
    try:
        # A normal install has bytecode caches; this environment may forbid writing them
        # (PYTHONDONTWRITEBYTECODE), which makes every run recompile vmtui. Measure both.
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = pycache
        results = []
        with served_node(10) as node:
            uri = node.uri
            vm_cmd = [vmtui, "list", "--json", "-c", uri]
            results.append(time_command("virsh -c URI list --all", [virsh, "-c", uri, "list", "--all"], runs))
            results.append(time_command("vmtui list --json (bytecode cached)", vm_cmd, runs, cached))
            if os.environ.get("PYTHONDONTWRITEBYTECODE"):
                results.append(time_command("vmtui list --json (env as is: no .pyc for vmtui)", vm_cmd, runs))
            results.append(time_command("python -c pass (floor)", [python, "-c", "pass"], runs, cached))
            results.append(
                time_command("python -c 'import vmtui.cli'", [python, "-c", "import vmtui.cli"], runs, cached)
            )
            if baseline:
                base = {**cached, "PYTHONPATH": str(Path(baseline).resolve())}
                results.append(time_command("vmtui list --json (baseline tree)", vm_cmd, runs, base))
        return results
    finally:
        shutil.rmtree(pycache, ignore_errors=True)


def print_startup(results: Sequence[StartupResult]) -> None:
    print("\n== Start-up, 10-domain test node, median ms (min..max) ==")
    virsh = results[0].median
    print(f"{'command':<52} {'median':>9} {'min..max':>19} {'vs virsh':>9} {'own CPU':>9}")
    for r in results:
        lo, hi = r.spread
        print(
            f"{r.name:<52} {ms(r.median)} {lo * 1000:8.1f}..{hi * 1000:<8.1f} {ratio(r.median, virsh):>9} {ms(r.cpu)}"
        )
    vm = results[1].median / virsh
    best = results[1].spread[0] / results[0].spread[0]
    cpu = results[1].cpu / results[0].cpu if results[0].cpu > 0 else float("nan")
    print(
        f"  vmtui list --json / virsh list: {vm:.2f}x median, {best:.2f}x best-of-runs"
        f" ({verdict(vm, STARTUP_GOAL)} <= {STARTUP_GOAL}x); own CPU {cpu:.2f}x"
    )
    base = next((r for r in results if r.name.endswith("(baseline tree)")), None)
    if base is not None:
        print(
            f"  baseline tree / virsh list: {base.median / virsh:.2f}x median,"
            f" {base.spread[0] / results[0].spread[0]:.2f}x best-of-runs;"
            f" this tree / baseline: {results[1].median / base.median:.2f}x median,"
            f" own CPU {results[1].cpu / base.cpu:.2f}x"
        )
    print("  (on a busy host virsh's wall time waits on libvirtd too; best-of-runs and own CPU are steadier)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="vmtui list --json against virsh list, start-up")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--vmtui", default=str(Path(sys.executable).with_name("vmtui")), help="the vmtui executable")
    parser.add_argument("--virsh", default="virsh")
    parser.add_argument("--baseline", help="another vmtui tree to time in the same run (PYTHONPATH=DIR)")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    print(f"host: {os.cpu_count()} CPUs, load average {load:.2f}")
    print_startup(bench_startup(args.runs, args.vmtui, args.virsh, args.baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
