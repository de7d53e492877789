"""The TUI's own pollers at 50 hosts x 20 domains, polled at 1 Hz: CPU of the whole process.

    .venv/bin/python bench/bench_pollers.py [--hosts 50] [--domains 20] [--seconds 30] [--rounds 2]
        [--baseline DIR] [--profile FILE]

N test-driver nodes of M running domains each (bench/testdriver.py), served by the system libvirtd. Each
contender is its own process that starts one `vmtui.monitor.poller.HostPoller` per host (the class, and
the construction, the TUI uses), asks every poller for a sample once a second as the app's 1 s timer does,
and hands each event to a callback that keeps the newest per host (the TUI's wraps it in a Textual
message; that part is the app's, measured by bench_tui.py). After every host has been sampled once, the
process reads its own CPU time (user + system, `resource.getrusage`: every thread, not libvirtd's) over
`--seconds` of wall time.

Contenders take turns for `--rounds` rounds: `vmtui` is the code on `sys.path` (run this from your tree
with PYTHONPATH=$PWD); `--baseline DIR` adds the same run with PYTHONPATH=DIR (for example a `git archive`
of main), so before and after are measured in one run. `--profile FILE` writes cProfile stats of every
poller thread of one extra `vmtui` run (pstats format; read with `python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from testdriver import served_node  # noqa: E402

GOAL_PCT = 10.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(uris: Sequence[str], seconds: float, profile: str | None) -> None:
    """Run the pollers, print one JSON line: own CPU seconds and wall seconds of the measured window."""
    import cProfile
    import pstats

    from vmtui.models import HostEntry
    from vmtui.monitor.events import HostSampled, MonitorEvent
    from vmtui.monitor.poller import HostPoller

    profiles: list[cProfile.Profile] = []
    if profile:
        # Every poller thread is profiled from its own run(): cProfile sees one thread per Profile.
        original = HostPoller.run

        def profiled(self: HostPoller) -> None:
            prof = cProfile.Profile(time.thread_time)  # CPU, not wall: a poller mostly waits
            profiles.append(prof)
            prof.runcall(original, self)

        HostPoller.run = profiled  # type: ignore[method-assign]

    lock = threading.Lock()
    latest: dict[str, MonitorEvent] = {}
    sampled: set[str] = set()

    def report(event: MonitorEvent) -> None:
        with lock:
            latest[event.host] = event
            if isinstance(event, HostSampled):
                sampled.add(event.host)

    entries = [HostEntry(f"bench{i:02d}", uri, read_only=True) for i, uri in enumerate(uris, 1)]
    pollers = [HostPoller(e, report) for e in entries]
    for p in pollers:
        p.start()
    deadline = time.monotonic() + 120
    while len(sampled) < len(entries):
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(sampled)} of {len(entries)} hosts sampled in 120 s")
        time.sleep(0.05)
    # Warm-up: a few ticks of steady state (the previous sample exists, caches are filled).
    next_tick = time.monotonic()
    end_warm = next_tick + 3
    cpu0 = wall0 = 0.0
    samples0 = 0
    end = 0.0
    while True:
        now = time.monotonic()
        if now >= next_tick:
            for p in pollers:
                p.schedule_update()
            next_tick += 1.0
        if not cpu0 and now >= end_warm:
            cpu0, wall0, samples0 = _cpu(), now, sum(p.samples for p in pollers)
            end = now + seconds
        if cpu0 and now >= end:
            break
        time.sleep(max(0.0, min(next_tick, end or next_tick) - time.monotonic()))
    cpu, wall = _cpu() - cpu0, time.monotonic() - wall0
    samples = sum(p.samples for p in pollers) - samples0
    for p in pollers:
        p.cancel()
    if profile:
        time.sleep(0.5)  # let the pollers leave run() so their profiles are complete
        stats = pstats.Stats(profiles[0])
        for prof in profiles[1:]:
            stats.add(prof)
        stats.dump_stats(profile)
    print(json.dumps({"cpu": cpu, "wall": wall, "samples": samples}), flush=True)


def run_child(uris: Sequence[str], seconds: float, pythonpath: str, profile: str | None = None) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    cmd = [sys.executable, __file__, "child", "--seconds", str(seconds), *(["--profile", profile] if profile else [])]
    proc = subprocess.run(
        cmd, input="\n".join(uris), capture_output=True, text=True, env=env, timeout=seconds + 300, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("command", nargs="?", choices=["child"], help="internal: run one contender (URIs on stdin)")
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per contender and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", help="a tree of vmtui to compare against (PYTHONPATH=DIR)")
    parser.add_argument("--profile", help="write cProfile stats of one more run of the pollers here")
    args = parser.parse_args(argv)
    if args.command == "child":
        child([line for line in sys.stdin.read().splitlines() if line], args.seconds, args.profile)
        return 0

    load = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    print(f"host: {cpus} CPUs, load average {load:.2f}" + ("  (BUSY HOST: noisy)" if load > cpus / 2 else ""))
    here = os.environ.get("PYTHONPATH", "")
    contenders = [("vmtui", here)]
    if args.baseline:
        contenders.insert(0, ("baseline", str(Path(args.baseline).resolve())))
    pct: dict[str, list[float]] = {name: [] for name, _ in contenders}
    per_tick: dict[str, list[float]] = {name: [] for name, _ in contenders}
    with ExitStack() as stack:
        uris = [stack.enter_context(served_node(args.domains, check=i == 0)).uri for i in range(args.hosts)]
        print(f"{args.hosts} hosts x {args.domains} domains, 1 Hz, {args.seconds:.0f} s x {args.rounds} rounds")
        for r in range(args.rounds):
            order = contenders[r % len(contenders) :] + contenders[: r % len(contenders)]
            for name, path in order:
                res = run_child(uris, args.seconds, path)
                pct[name].append(res["cpu"] / res["wall"] * 100)
                # CPU per host sample: steadier than % when a loaded machine delays some ticks.
                per_tick[name].append(res["cpu"] / max(1.0, res["samples"]) * 1000)
                print(f"  round {r + 1} {name:<9} {pct[name][-1]:6.2f} % of a core  ({res['samples']:.0f} samples)")
        if args.profile:
            run_child(uris, args.seconds, here, args.profile)
            print(f"profile written to {args.profile}")
    print(f"\n{'contender':<10} {'CPU, % of a core':>17} {'ms CPU per host sample':>24}")
    for name, _ in contenders:
        print(f"{name:<10} {statistics.median(pct[name]):16.2f} % {statistics.median(per_tick[name]):23.3f}")
    mine = statistics.median(pct["vmtui"])
    verdict = "meets" if mine <= GOAL_PCT else "MISSES"
    print(f"vmtui: {mine:.2f} % of a core ({verdict} the goal <= {GOAL_PCT:.0f} %)")
    if args.baseline:
        base = statistics.median(pct["baseline"])
        print(f"vmtui / baseline: {mine / base:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
