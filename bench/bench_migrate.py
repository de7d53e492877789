"""`vmtui migrate` against `virsh migrate`, same flags, same guests, in one run (not part of `make test`).

    .venv/bin/python bench/bench_migrate.py --rounds 5 --plain-seconds 90

Brings up its own two-host lab (VMTUI_LAB_ID, default 11; a private VMTUI_HOME) and always takes it
down. Two parts:

1. **Idle guest** (the lab's 128 MiB BIOS guest, KVM where usable): per round, vmtui and virsh each
   migrate it lab1 -> lab2 -> lab1 (who goes first alternates; one untimed round trip by virsh
   first warms the fresh lab), with the same flags (live, peer-to-peer, persistent on the target,
   undefined on the source). Wall time of the whole
   command (connecting included), and the downtime read by `virsh domjobinfo --completed` on the
   target. Goals: median wall time ratio vmtui/virsh <= 1.0; idle downtime <= 50 ms.
2. **The non-converging guest** of the issue: 384 MiB, rewriting 200 MiB at 20 MiB/s, migrated at
   20 MiB/s. `virsh migrate --bandwidth 20` runs `--plain-seconds` and is then aborted (it never
   ends on its own); `vmtui migrate --bandwidth 20` (stall policy, post-copy not allowed) aborts itself
   after its downtime steps; `vmtui migrate --bandwidth 20 --postcopy` completes. Downtime from the
   source's job-completed event (libvirt keeps no completed job on the target after post-copy).
   Goal: completes with downtime <= 500 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VMTUI = str(ROOT / ".venv" / "bin" / "vmtui")
FLAGS = ["--live", "--p2p", "--persistent", "--undefinesource"]


def run(cmd: list[str], timeout: float = 600) -> tuple[float, subprocess.CompletedProcess[str]]:
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    return time.perf_counter() - began, proc


def virsh(uri: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-q", "-c", uri, *args], capture_output=True, text=True, timeout=timeout)


def completed_downtime(uri: str, name: str) -> int | None:
    found = re.search(r"Total downtime:\s+(\d+)\s+ms", virsh(uri, "domjobinfo", "--completed", name).stdout)
    return int(found.group(1)) if found else None


def idle_part(uris: dict[str, str], name: str, rounds: int) -> dict[str, dict[str, list[float]]]:
    figures: dict[str, dict[str, list[float]]] = {t: {"wall": [], "downtime": []} for t in ("vmtui", "virsh")}
    # One untimed round trip first, by virsh (it leaves vmtui nothing to learn from): the fresh lab's
    # first migrations pay for cold caches (sshd, QEMU's binary), which would land on whoever goes first.
    for src, dst in (("lab1", "lab2"), ("lab2", "lab1")):
        _wall, proc = run(["virsh", "-c", uris[src], "migrate", *FLAGS, name, uris[dst]])
        if proc.returncode != 0:
            raise SystemExit(f"warm-up {src}->{dst} failed: {proc.stderr[-500:]}")
    for r in range(rounds):
        order = ("vmtui", "virsh") if r % 2 == 0 else ("virsh", "vmtui")
        for tool in order:
            for src, dst in (("lab1", "lab2"), ("lab2", "lab1")):
                if tool == "vmtui":
                    wall, proc = run([VMTUI, "migrate", name, dst, "--json"])
                else:
                    wall, proc = run(["virsh", "-c", uris[src], "migrate", *FLAGS, name, uris[dst]])
                if proc.returncode != 0:
                    raise SystemExit(f"{tool} {src}->{dst} failed: {proc.stdout[-500:]}{proc.stderr[-500:]}")
                figures[tool]["wall"].append(wall)
                down = completed_downtime(uris[dst], name)
                if down is not None:
                    figures[tool]["downtime"].append(down)
        print(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{t} {statistics.median(f['wall']):.2f} s" for t, f in figures.items()), flush=True)  # fmt: skip
    return figures


def event_watch(uri: str, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["virsh", "-c", uri, "event", "--domain", name, "--event", "job-completed", "--timeout", "900"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def stall_part(uris: dict[str, str], name: str, plain_seconds: float) -> dict[str, object]:
    out: dict[str, object] = {}
    # virsh, plain pre-copy, same cap: run, then abort.
    began = time.perf_counter()
    job = subprocess.Popen(["virsh", "-c", uris["lab1"], "migrate", *FLAGS, "--bandwidth", "20", name, uris["lab2"]],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        job.wait(timeout=plain_seconds)
        out["virsh"] = f"ended by itself after {time.perf_counter() - began:.0f} s (rc {job.returncode})"
    except subprocess.TimeoutExpired:
        info = virsh(uris["lab1"], "domjobinfo", name).stdout
        virsh(uris["lab1"], "domjobabort", name)
        job.wait(timeout=60)
        left = re.search(r"Memory remaining:\s+([\d.]+ \w+)", info)
        out["virsh"] = f"not converged after {plain_seconds:.0f} s ({left.group(1) if left else '?'} left); aborted"
    print(f"  virsh --bandwidth 20: {out['virsh']}", flush=True)

    wall, proc = run([VMTUI, "migrate", name, "lab2", "--bandwidth", "20", "--json"], timeout=900)
    result = json.loads(proc.stdout.splitlines()[-2]) if proc.returncode else json.loads(proc.stdout.splitlines()[-1])
    steps = [a["kind"] if a["kind"] != "downtime" else f"{a['downtime_ms']} ms" for a in result.get("policy", [])]
    out["vmtui"] = f"{result.get('outcome')} after {wall:.0f} s, policy: {' -> '.join(steps)}"
    print(f"  vmtui --bandwidth 20: {out['vmtui']}", flush=True)

    events = event_watch(uris["lab1"], name)
    wall, proc = run([VMTUI, "migrate", name, "lab2", "--bandwidth", "20", "--postcopy", "--json"], timeout=900)
    event_text = events.communicate(timeout=60)[0]
    result = json.loads(proc.stdout.splitlines()[-1])
    found = re.search(r"downtime: (\d+)", event_text)
    steps = [a["kind"] if a["kind"] != "downtime" else f"{a['downtime_ms']} ms" for a in result.get("policy", [])]
    out["vmtui_postcopy"] = {
        "outcome": result.get("outcome"),
        "wall_s": round(wall, 1),
        "downtime_ms_vmtui": result.get("downtime_ms"),
        "downtime_ms_event": int(found.group(1)) if found else None,
        "policy": steps,
        "bytes_sent": result.get("bytes_sent"),
        "forecast": (result.get("forecast") or {}).get("verdict"),
    }
    print(f"  vmtui --bandwidth 20 --postcopy: {out['vmtui_postcopy']}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--plain-seconds", type=float, default=90.0)
    parser.add_argument("--skip-stall", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("VMTUI_LAB_ID", "11")
    home = Path(tempfile.mkdtemp(prefix="vmtui-bench-migrate-"))
    os.environ["VMTUI_HOME"] = str(home)
    sys.path.insert(0, str(ROOT))
    from vmtui.drivers import connect
    from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
    from vmtui.lab import guests, manager

    print(f"load average {os.getloadavg()}, lab {os.environ['VMTUI_LAB_ID']}, home {home}", flush=True)
    try:
        reports = manager.up(2, start_guests=False)
        uris = {r.name: r.uri for r in reports}
        linux = guests.linux_image(print)
        assert linux is not None, "the Linux guest image could not be built"
        with connect(uris["lab1"]) as conn:
            kvm = conn.host_info(probe=False).kvm_usable
            conn.define_and_start(build_guest_xml(GuestSpec("bench-idle", domain_type="kvm" if kvm else "qemu",
                                                            role="test")))  # fmt: skip
        print(f"part 1: idle {'KVM' if kvm else 'TCG'} BIOS guest, 128 MiB, {args.rounds} rounds", flush=True)
        idle = idle_part(uris, "bench-idle", args.rounds)
        for tool, f in idle.items():
            print(f"  {tool}: wall median {statistics.median(f['wall']):.2f} s (min {min(f['wall']):.2f}), "
                  f"downtime median {statistics.median(f['downtime']):.0f} ms "
                  f"(max {max(f['downtime']):.0f})")  # fmt: skip
            print(f"    each run, s: {' '.join(f'{w:.2f}' for w in f['wall'])}")
        ratio = statistics.median(idle["vmtui"]["wall"]) / statistics.median(idle["virsh"]["wall"])
        print(f"  ratio vmtui/virsh (median wall): {ratio:.3f} (goal <= 1.0)", flush=True)
        if not args.skip_stall:
            with connect(uris["lab1"]) as conn:
                conn.define_and_start(build_guest_xml(GuestSpec(
                    "bench-dirty", memory_mib=384, domain_type="qemu", role="test", kernel=linux.kernel,
                    initrd=linux.initrd, cmdline=linux.cmdline(200, 20),
                )))  # fmt: skip
            _wait_dirtying(uris["lab1"], "bench-dirty")
            print("part 2: 384 MiB TCG Linux guest rewriting 200 MiB at 20 MiB/s, migrated at 20 MiB/s", flush=True)
            stall_part(uris, "bench-dirty", args.plain_seconds)
    finally:
        manager.down()
        shutil.rmtree(home, ignore_errors=True)


def _wait_dirtying(uri: str, name: str, used_kib: int = 200 * 1024, within: float = 180) -> None:
    from vmtui.drivers import connect

    deadline = time.monotonic() + within
    with connect(uri) as conn:
        uuid = conn.domain(name).uuid
        while time.monotonic() < deadline:
            raw = next(d.raw for d in conn.sample().domains if d.uuid == uuid)
            available, unused = raw.get("balloon.available"), raw.get("balloon.unused")
            if isinstance(available, int) and isinstance(unused, int) and available - unused >= used_kib:
                return
            time.sleep(1)
    raise SystemExit(f"{name} never started dirtying")


if __name__ == "__main__":
    main()
