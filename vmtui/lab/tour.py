"""`vmtui lab tour`: each claim of the chapter, measured on the lab's real guests, with what it means here.

Every step starts the guests it needs on lab1 (names `tour-...`), measures them over a few seconds with
the same collector the TUI uses, and removes them, also when it fails. What needs hardware
virtualization that this host lacks (VT-x/AMD-V, EPT/NPT; here KVM is the nested `kvm_pvm`) is said
as such, and what does run here is measured: a boot sector of the project's own under KVM and TCG,
TCG Linux guests for IO, KSM and the balloon, an idle guest migrated live from lab1 to lab2 (when the
lab has a second host).
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmtui.drivers import connect
from vmtui.drivers.hostfiles import host_files
from vmtui.drivers.libvirt.driver import Connection
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.errors import VmtuiError
from vmtui.lab import guests, image
from vmtui.metrics import DomainMetrics, domain_metrics
from vmtui.models import HostInfo
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress

MEASURE_S = 5.0
BOOT_SECTOR = bytes.fromhex("b042e680ebfc")  # mov al,0x42 / loop: out 0x80,al / jmp loop
"""A real-mode program of the project's own: port IO forever, one VM exit per instruction on VT-x."""


def boot_sector_image(path: Path) -> Path:
    """A one-sector raw disk that the BIOS boots: the loop above, padded, with the 0x55AA signature."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A whole MiB: SeaBIOS does not boot a virtio disk of a single sector.
    path.write_bytes((BOOT_SECTOR.ljust(510, b"\x00") + b"\x55\xaa").ljust(1024 * 1024, b"\x00"))
    return path


@dataclass(frozen=True, slots=True)
class TourRow:
    topic: str
    chapter: str
    """What the chapter claims."""
    measured: dict[str, Any]
    """The figures, by name, in base units (%, /s, MiB, ms)."""
    reading: str
    """What the figures mean on this host."""
    needs: str | None = None
    """Hardware this host lacks for the chapter's own figure, or None."""

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "chapter": self.chapter,
            "measured": self.measured,
            "reading": self.reading,
            "needs": self.needs,
        }


@dataclass
class Tour:
    """The lab host the tour runs on and the guests it made (all removed by `close`)."""

    conn: Connection
    info: HostInfo
    work: Path
    made: list[str] = field(default_factory=list)

    def start(self, spec: GuestSpec) -> str:
        uuid = self.conn.define_and_start(build_guest_xml(spec)).uuid
        self.made.append(uuid)
        return uuid

    def close(self) -> None:
        for uuid in self.made:
            with contextlib.suppress(VmtuiError):
                self.conn.destroy_and_undefine(uuid)
        self.made.clear()
        shutil.rmtree(self.work, ignore_errors=True)

    def measure(self, uuids: list[str], seconds: float = MEASURE_S) -> dict[str, DomainMetrics]:
        """Each guest's metrics over `seconds`, from two bulk samples (as the TUI takes them)."""
        first = self.conn.sample("tour")
        time.sleep(seconds)
        second = self.conn.sample("tour")
        before = {d.uuid: d for d in first.domains}
        out = {}
        for d in second.domains:
            if d.uuid in uuids:
                out[d.uuid] = domain_metrics(
                    before.get(d.uuid), d, second.monotonic - first.monotonic, host_cpus=self.info.cpus
                )
        return out

    def wait_for(self, uuid: str, counter: str, *, timeout: float = 120.0) -> dict[str, Any]:
        """Until `counter` of the guest moves (it booted and its load runs); the raw stats then."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            raw = next((dict(d.raw) for d in self.conn.sample("tour").domains if d.uuid == uuid), {})
            value = raw.get(counter)
            if last is not None and isinstance(value, int) and value > last:
                return raw
            last = value if isinstance(value, int) else last
            time.sleep(1.0)
        raise VmtuiError(f"tour: the guest's {counter} did not move within {timeout:.0f} s")


def _round(value: float | None, digits: int = 1) -> float | int | None:
    if value is None:
        return None
    return round(value) if digits == 0 else round(value, digits)


def cpu_and_memory(tour: Tour, progress: Progress) -> list[TourRow]:
    """The same real-mode loop under KVM and under TCG: who runs it, at what cost, and the MMU's side."""
    progress(Step("cpu: booting the project's port-IO loop under KVM and under TCG"))
    made = []
    for accel in ("kvm", "qemu"):
        disk = boot_sector_image(tour.work / f"outloop-{accel}.img")  # one each: QEMU locks an image it writes
        made.append(
            tour.start(
                GuestSpec(
                    f"tour-outloop-{accel}",
                    memory_mib=64,
                    domain_type=accel,
                    nic_model=None,
                    disk=disk,
                    disk_format="raw",
                    role="tour",
                )
            )  # fmt: skip
        )
    kvm, tcg = made
    # SeaBIOS finds the disk and jumps to the loop: a second under KVM, several under TCG (it is emulated).
    time.sleep(8)
    m = tour.measure([kvm, tcg])
    k, t = m[kvm], m[tcg]
    pvm = tour.info.kvm_module == "kvm_pvm"
    io_exits = k.exits_by_reason.get("io")
    cpu = TourRow(
        "cpu",
        "Hardware-assisted virtualization (VT-x/AMD-V) runs guest code natively: 2-5 % CPU overhead; "
        "software emulation translates every instruction",
        {
            "kvm_cpu_pct": _round(k.cpu_pct),
            "kvm_overhead_pct": _round(k.overhead_pct),
            "kvm_exits_per_s": _round(k.exits_per_s, 0),
            "kvm_io_exits_per_s": _round(io_exits, 0),
            "kvm_emulated_insn_per_s": _round(k.insn_emulation_per_s, 0),
            "tcg_cpu_pct": _round(t.cpu_pct),
        },
        (
            f"The loop spins flat out either way ({_round(k.cpu_pct)} % of a core under KVM, {_round(t.cpu_pct)} % "
            f"under TCG); what differs is who runs it. Under this host's KVM its real-mode code goes through "
            f"KVM's instruction emulator: {_round(k.exits_per_s, 0)} VM exits/s and "
            f"{_round(k.insn_emulation_per_s, 0)} emulated instructions/s, IO exits {_round(io_exits, 0)}/s, "
            f"because nested kvm_pvm has no VT-x for real mode. TCG translates it in QEMU instead."
            if pvm
            else f"Every `out` leaves the guest: {_round(io_exits, 0)} IO exits/s under KVM. A hardware-assisted "
            f"guest pays for what leaves the CPU, not per instruction; TCG translates every one."
        ),
        "VT-x/AMD-V for the 2-5 % figure; this host's KVM is nested kvm_pvm" if pvm else None,
    )
    zapped = k.mmu_per_s.get("mmu_shadow_zapped")
    memory = TourRow(
        "memory",
        "With EPT/NPT the CPU walks the guest's page tables itself: 5-10 % memory overhead; "
        "without it the host shadows them",
        {
            "ept_npt": tour.info.tdp,
            "detail": tour.info.tdp_detail,
            "kvm_shadow_pages_zapped_per_s": _round(zapped),
            "kvm_mmu_pages": dict(k.pages),
        },
        (f"{tour.info.tdp_detail}; the KVM guest's shadow MMU zapped {_round(zapped)} pages/s while it ran."),
        "EPT/NPT (Intel VT-x with EPT, AMD-V with NPT)" if tour.info.tdp is False else None,
    )
    return [cpu, memory]


def linux_guests(tour: Tour, linux: image.GuestImage, progress: Progress) -> tuple[str, str]:
    """Two identical TCG Linux guests on the lab bridge, one e1000 and one virtio, both pinging flat out."""
    progress(Step("io: booting two Linux guests (e1000, virtio) that ping their host flat out"))
    made = []
    for n, model in enumerate(("e1000", "virtio")):
        made.append(
            tour.start(
                GuestSpec(
                    f"tour-linux-{model}",
                    memory_mib=256,
                    domain_type="qemu",
                    nic_model=model,
                    bridge=guests.GUEST_BRIDGE,
                    role="tour",
                    kernel=linux.kernel,
                    initrd=linux.initrd,
                    cmdline=linux.cmdline(
                        ip=f"{guests.GUEST_NET}.{30 + n}", gateway=f"{guests.GUEST_NET}.1", load="flood"
                    ),  # fmt: skip
                )
            )
        )
    for uuid in made:
        tour.wait_for(uuid, "net.0.tx.pkts")
    return made[0], made[1]


def io(tour: Tour, e1000: str, virtio: str, progress: Progress) -> TourRow:
    progress(Step(f"io: measuring both NICs under the same load for {MEASURE_S:.0f} s"))
    m = tour.measure([e1000, virtio])

    def per_packet(x: DomainMetrics) -> tuple[float | None, float | None]:
        pps = sum((n.rx_pps or 0) + (n.tx_pps or 0) for n in x.nets) or None
        us = None if pps is None or x.cpu_pct is None else x.cpu_pct / 100 / pps * 1e6
        return pps, us

    e_pps, e_us = per_packet(m[e1000])
    v_pps, v_us = per_packet(m[virtio])
    ratio = None if not e_us or not v_us else e_us / v_us
    return TourRow(
        "io",
        "IO is the largest overhead; paravirtual devices (virtio) cut it, SR-IOV removes the emulation",
        {
            "e1000_packets_per_s": _round(e_pps, 0),
            "e1000_cpu_us_per_packet": _round(e_us),
            "e1000_overhead_pct": _round(m[e1000].overhead_pct),
            "virtio_packets_per_s": _round(v_pps, 0),
            "virtio_cpu_us_per_packet": _round(v_us),
            "virtio_overhead_pct": _round(m[virtio].overhead_pct),
            "e1000_over_virtio_cost": _round(ratio, 2),
        },
        f"The same ping flood costs {_round(e_us)} µs of CPU per packet through the emulated e1000 and "
        f"{_round(v_us)} µs through virtio ({_round(ratio, 2)}x). Under TCG there are no VM exits to count; "
        "on a VT-x host the e1000's register accesses would show as IO/MMIO exits.",
        "VT-x/AMD-V for IO exits per packet (Linux guests run under TCG here)"
        if tour.info.kvm_module == "kvm_pvm"
        else None,
    )


def ksm(tour: Tour, pair: tuple[str, str], progress: Progress) -> TourRow:
    """KSM on for a few seconds with the two identical guests; every KSM setting restored afterwards."""
    from vmtui.ops import ksm as ksm_ops
    from vmtui.ops.memory import memory_host

    host = memory_host(tour.conn)
    before = dict(tour.conn.ksm_parameters())
    files = host_files(tour.conn.uri)
    run_before = files.read(f"{ksm_ops.KSM_DIR}/run")
    progress(Step("ksm: merging the two guests' identical pages for 15 s (settings restored after)"))
    try:
        ksm_ops.tune(host, "lab1", pages_to_scan=2000, sleep_ms=10)
        ksm_ops.set_run(host, "lab1", "on", files=files)
        time.sleep(15)
        status = ksm_ops.read_status(host, "lab1", interval=2.0)
    finally:
        ksm_ops.set_run(host, "lab1", "unmerge", files=files)
        restore: dict[str, int] = {k: before[k] for k in ("pages_to_scan", "sleep_millisecs") if k in before}
        if restore:
            tour.conn.set_ksm_parameters(restore)
        if run_before is not None:
            files.write(f"{ksm_ops.KSM_DIR}/run", run_before.strip())
    ours = [v for v in status.vms if v.uuid in pair]
    merged = sum(v.merging_pages or 0 for v in ours)
    saved_mib = merged * status.page_kib / 1024
    return TourRow(
        "ksm",
        "KSM merges identical pages of different guests into one",
        {
            "guests": len(ours),
            "merged_pages": merged,
            "saved_mib": round(saved_mib, 1),
            "ksmd_cpu_pct": _round(status.ksmd_cpu_pct),
        },
        f"Two identical 256 MiB guests gave up {round(saved_mib, 1)} MiB to KSM in 15 s, for "
        f"{_round(status.ksmd_cpu_pct)} % of a core of ksmd: savings and cost side by side.",
    )


def balloon(tour: Tour, uuid: str, progress: Progress) -> TourRow:
    from vmtui.ops.memory import memory_host, set_balloon

    host = memory_host(tour.conn)
    progress(Step("balloon: 256 -> 160 MiB on a guest with the virtio-balloon driver, and back"))
    down = set_balloon(host, uuid, 160 * 1024)
    with contextlib.suppress(VmtuiError):
        set_balloon(host, uuid, 256 * 1024)
    reclaimed = (down.before_kib - down.actual_kib) / 1024
    return TourRow(
        "balloon",
        "Ballooning reclaims memory the guest does not use, so the host can overcommit",
        {"before_mib": down.before_kib // 1024, "after_mib": down.actual_kib // 1024, "reclaimed_mib": reclaimed},
        f"The guest's driver handed back {reclaimed:.0f} MiB (balloon {down.before_kib // 1024} -> "
        f"{down.actual_kib // 1024} MiB), then took it again.",
    )


def migration(tour: Tour, linux: image.GuestImage, target_uri: str, progress: Progress) -> TourRow:
    """An idle Linux guest migrated live lab1 -> lab2 with vmtui's defaults; the guest is removed on both."""
    from vmtui.ops.migrate import MigrationOptions
    from vmtui.ops.migrate import migrate as migrate_op

    progress(Step("migration: an idle 192 MiB guest, live from lab1 to lab2 over SSH"))
    spec = GuestSpec("tour-migrate", memory_mib=192, domain_type="qemu", nic_model=None, role="tour",
                     kernel=linux.kernel, initrd=linux.initrd, cmdline=linux.cmdline())  # fmt: skip
    uuid = tour.start(spec)
    tour.wait_for(uuid, "balloon.last-update")  # booted: its balloon driver reports
    with connect(target_uri) as dst:
        try:
            done = migrate_op(tour.conn, dst, uuid, MigrationOptions(temporary=True), source="lab1", target="lab2",
                              progress=lambda step: progress(Step(f"migration: {step.text}")))  # fmt: skip
        finally:
            with contextlib.suppress(VmtuiError):
                dst.destroy_and_undefine(uuid)
    mib = (done.bytes_sent or 0) / 1048576
    return TourRow(
        "migration",
        "Live migration moves a running guest between hosts; it pauses only for the last dirty pages",
        {
            "downtime_ms": done.downtime_ms,
            "seconds": _round(done.seconds, 2),
            "sent_mib": _round(mib),
            "memory_mib": _round((done.memory_bytes or 0) / 1048576),
            "passes": done.iterations,
        },
        f"The idle guest ran on lab2 after {_round(done.seconds, 2)} s; it was paused for {done.downtime_ms} ms "
        f"while the last pages went ({_round(mib)} MiB sent in {done.iterations} passes over SSH between namespaces).",
    )


@contextlib.contextmanager
def _tour_on(uri: str, work: Path) -> Iterator[Tour]:
    with connect(uri) as conn:
        tour = Tour(conn, conn.host_info(), work)
        try:
            yield tour
        finally:
            tour.close()


def run(
    uri: str,
    work: Path,
    *,
    target_uri: str | None = None,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> list[TourRow]:
    """Every row of the tour on the lab host at `uri` (scratch files under `work`, removed afterwards);
    the migration row when `target_uri` names a second lab host."""
    cancel = cancel or never_cancelled()
    rows: list[TourRow] = []
    with _tour_on(uri, work) as tour:
        rows += cpu_and_memory(tour, progress)
        tour.close()
        check_cancel(cancel, "tour")
        linux = image.build_image(progress=lambda text: progress(Step(text)))
        e1000, virtio = linux_guests(tour, linux, progress)
        rows.append(io(tour, e1000, virtio, progress))
        check_cancel(cancel, "tour")
        rows.append(ksm(tour, (e1000, virtio), progress))
        check_cancel(cancel, "tour")
        rows.append(balloon(tour, virtio, progress))
        tour.close()
        check_cancel(cancel, "tour")
        if target_uri:
            rows.append(migration(tour, linux, target_uri, progress))
            tour.close()
    return rows
