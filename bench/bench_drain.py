"""`vmtui host drain --parallel 2` against the same guests moved by `virsh migrate`, two at a time by a
shell loop, in one run (not part of `make test`).

    .venv/bin/python bench/bench_drain.py --guests 6 --rounds 3

Brings up its own two-host lab without the lab's guests (VMTUI_LAB_ID, default 12; a private VMTUI_HOME)
and always takes it down. N idle 128 MiB BIOS guests (KVM where usable) on lab1. Per round each tool
moves all N lab1 -> lab2 and back (who goes first alternates; one untimed virsh round trip first warms
the fresh lab), with the same migration flags (live, peer-to-peer, persistent on the target, undefined
on the source). vmtui's wall time is the whole `vmtui host drain HOST --parallel 2 --yes` command
(planning included: pre-checks, placement, forecast); `vmtui host undrain` between the legs is not
counted. virsh's is the whole loop. Goal: median wall time ratio vmtui/virsh <= 1.0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VMTUI = str(ROOT / ".venv" / "bin" / "vmtui")
FLAGS = "--live --p2p --persistent --undefinesource"
# Two at a time, as an operator's shell loop would: start one per guest, wait for one to end at two.
VIRSH_LOOP = """
for name in $NAMES; do
  virsh -q -c "$SRC" migrate FLAGS "$name" "$DST" || exit 1 &
  if [ "$(jobs -rp | wc -l)" -ge 2 ]; then wait -n || exit 1; fi
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || exit 1; done
""".replace("FLAGS", FLAGS)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False, env=env)
    took = time.perf_counter() - began
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({proc.returncode}): {proc.stdout[-800:]}{proc.stderr[-800:]}")
    return took


def virsh_leg(uris: dict[str, str], names: list[str], src: str, dst: str) -> float:
    env = {**os.environ, "NAMES": " ".join(names), "SRC": uris[src], "DST": uris[dst]}
    return timed(["bash", "-c", VIRSH_LOOP], env=env)


def vmtui_leg(src: str, dst: str) -> float:
    took = timed([VMTUI, "host", "drain", src, "--to", dst, "--parallel", "2", "--yes", "--json"])
    timed([VMTUI, "host", "undrain", src])  # not counted: the next leg drains the other way
    return took


def placed(uris: dict[str, str], host: str) -> set[str]:
    out = subprocess.run(["virsh", "-q", "-c", uris[host], "list", "--name"], capture_output=True, text=True)
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guests", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("VMTUI_LAB_ID", "12")
    home = Path(tempfile.mkdtemp(prefix="vmtui-bench-drain-"))
    os.environ["VMTUI_HOME"] = str(home)
    sys.path.insert(0, str(ROOT))
    from vmtui.drivers import connect
    from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
    from vmtui.lab import manager

    print(f"load average {os.getloadavg()}, lab {os.environ['VMTUI_LAB_ID']}, home {home}", flush=True)
    names = [f"bench-drain-{i}" for i in range(args.guests)]
    try:
        uris = {r.name: r.uri for r in manager.up(2, start_guests=False)}
        with connect(uris["lab1"]) as conn:
            kvm = conn.host_info(probe=False).kvm_usable
            for name in names:
                conn.define_and_start(build_guest_xml(GuestSpec(name, domain_type="kvm" if kvm else "qemu",
                                                                role="test")))  # fmt: skip
        print(f"{args.guests} idle {'KVM' if kvm else 'TCG'} BIOS guests of 128 MiB, {args.rounds} rounds", flush=True)
        virsh_leg(uris, names, "lab1", "lab2")  # warm-up, untimed
        virsh_leg(uris, names, "lab2", "lab1")
        walls: dict[str, list[float]] = {"vmtui": [], "virsh": []}
        for r in range(args.rounds):
            for tool in ("vmtui", "virsh") if r % 2 == 0 else ("virsh", "vmtui"):
                for src, dst in (("lab1", "lab2"), ("lab2", "lab1")):
                    took = vmtui_leg(src, dst) if tool == "vmtui" else virsh_leg(uris, names, src, dst)
                    assert placed(uris, dst) >= set(names), f"{tool} {src}->{dst} left guests behind"
                    walls[tool].append(took)
            print(f"  round {r + 1}/{args.rounds}: " + ", ".join(
                f"{t} {statistics.median(w):.2f} s" for t, w in walls.items()), flush=True)  # fmt: skip
        for tool, w in walls.items():
            print(f"  {tool}: median {statistics.median(w):.2f} s per {args.guests} guests (min {min(w):.2f}); "
                  f"each leg, s: {' '.join(f'{x:.2f}' for x in w)}")  # fmt: skip
        ratio = statistics.median(walls["vmtui"]) / statistics.median(walls["virsh"])
        print(f"  ratio vmtui/virsh (median wall): {ratio:.3f} (goal <= 1.0)", flush=True)
    finally:
        manager.down()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
