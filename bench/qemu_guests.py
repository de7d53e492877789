"""Part 4 of bench_collector: the collector against the bare bulk call on real QEMU guests.

The test driver answers the bulk call from memory, which makes any client-side work look large.
On a real host the call's cost is QEMU's and the daemon's (several ms per guest), and this part
shows what vmtui adds there. The guests are created on qemu:///system and always removed.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import libvirt
from timing import Contender, ms, race, ratio, verdict

from vmtui.drivers import connect
from vmtui.drivers.libvirt.host import STATS_GROUPS
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.monitor.collector import Collector

COLLECTOR_GOAL = 1.3


@dataclass
class QemuResult:
    guests: int
    accelerator: str
    bare: float
    collector: float


def bench_qemu(guests: int, rounds: int) -> QemuResult:
    conn = connect("qemu:///system")
    kvm = conn.host_info().kvm_usable
    prefix = f"vmtui-bench-{secrets.token_hex(3)}"
    made: list[str] = []
    try:
        for i in range(guests):
            spec = GuestSpec(name=f"{prefix}-{i}", role="test", domain_type="kvm" if kvm else "qemu")
            made.append(conn.define_and_start(build_guest_xml(spec)).uuid)
        time.sleep(2)  # let the BIOS settle so both contenders see idle guests
        collector = Collector(conn, "local")
        collector.tick()
        raw = libvirt.open("qemu:///system")  # the baseline: libvirt-python with nothing on top
        bare = Contender("bare", lambda: raw.getAllDomainStats(STATS_GROUPS, 0))
        coll = Contender("collector", collector.tick)
        race([bare, coll], rounds)
        raw.close()
        return QemuResult(guests, "kvm" if kvm else "tcg", bare.median, coll.median)
    finally:
        for uuid in made:
            conn.destroy_and_undefine(uuid)
        conn.close()


def print_qemu(r: QemuResult) -> None:
    print(f"\n== Real guests: {r.guests} diskless {r.accelerator.upper()} guests on qemu:///system, median ms ==")
    print(f"{'bare getAllDomainStats':<32} {ms(r.bare)}")
    print(f"{'vmtui Collector.tick':<32} {ms(r.collector)}   {ratio(r.collector, r.bare)}")
    print(f"  collector/bare {r.collector / r.bare:.2f}x ({verdict(r.collector / r.bare, COLLECTOR_GOAL)} <= 1.3x)")
