"""Record two raw `getAllDomainStats` records of a busy guest, for the hand-checked metric tests.

    VMTUI_HOME=/tmp/rec VMTUI_LAB_ID=8 .venv/bin/vmtui lab up --hosts 1 --no-guests
    VMTUI_HOME=/tmp/rec VMTUI_LAB_ID=8 .venv/bin/python scripts/record_metrics_fixture.py tests/fixtures/busy-guest.json

The guest: the lab's TCG Linux image with 2 vCPUs, a memory dirtier, two virtio disks (the first one
written and read in a loop) and two virtio NICs on the lab host's bridge (the first one pinging it).
The file holds the two records and the seconds between them; tests/unit/test_metrics_by_hand.py
works out every figure from them by hand.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

from vmtui.drivers import connect
from vmtui.drivers.libvirt.host import STATS_GROUPS
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.lab import guests, image, manager


def main(out: Path) -> None:
    host = manager.lab_host(1)
    linux = image.build_image()
    scratch = Path(tempfile.mkdtemp(prefix="vmtui-fixture-"))
    disks = [scratch / "a.qcow2", scratch / "b.qcow2"]
    for disk in disks:
        guests.make_disk(disk)
    spec = GuestSpec(
        "fixture-busy",
        memory_mib=256,
        vcpus=2,
        domain_type="qemu",
        bridge=guests.GUEST_BRIDGE,
        disk=disks[0],
        role="test",
        kernel=linux.kernel,
        initrd=linux.initrd,
        cmdline=linux.cmdline(64, 0, ip=f"{guests.GUEST_NET}.20", gateway=f"{guests.GUEST_NET}.1"),
    )
    root = etree.fromstring(build_guest_xml(spec))
    devices = root.find("devices")
    assert devices is not None
    second_disk = etree.fromstring(
        f"<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/>"
        f"<source file='{disks[1]}'/><target dev='vdb' bus='virtio'/></disk>"
    )
    devices.insert(1, second_disk)
    second_nic = etree.fromstring(
        f"<interface type='bridge'><source bridge='{guests.GUEST_BRIDGE}'/><model type='virtio'/></interface>"
    )
    devices.append(second_nic)
    with connect(host.uri) as conn:
        info = conn.define_and_start(etree.tostring(root, encoding="unicode"))
        try:
            dom = conn._conn.lookupByUUIDString(info.uuid)
            deadline = time.monotonic() + 180
            while True:  # boot, then wait for the dirtier and the IO loop to get going
                ((_, first),) = conn._conn.domainListGetStats([dom], STATS_GROUPS, 0)
                if first.get("block.0.wr.bytes", 0) > 0 and first.get("net.0.tx.pkts", 0) > 0:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("the guest did no IO within 180 s")
                time.sleep(1)
            time.sleep(3)
            t0 = time.monotonic()
            time.sleep(2.0)
            ((_, second),) = conn._conn.domainListGetStats([dom], STATS_GROUPS, 0)
            elapsed = time.monotonic() - t0
        finally:
            conn.destroy_and_undefine(info.uuid)
    out.write_text(json.dumps({"elapsed_s": elapsed, "first": first, "second": second}, indent=1, sort_keys=True))
    print(f"wrote {out}: {len(first)} keys, {elapsed:.3f} s apart")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
