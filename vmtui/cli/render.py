"""Human output of the CLI (rich). JSON output is built from the same models in the commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import humanize
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from vmtui.explain import Finding, Severity, fmt
from vmtui.metrics import DomainMetrics, HostMetrics
from vmtui.models import DomainInfo, HostInfo


def console() -> Console:
    """stdout for human output: the terminal's width, or wide enough never to wrap rows into a pipe."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console()
    return Console(width=400)


SEVERITY_STYLE = {Severity.HIGH: "bold red", Severity.MEDIUM: "yellow", Severity.LOW: "cyan", Severity.INFO: "dim"}
STATE_STYLE = {"running": "green", "paused": "yellow", "shut-off": "dim", "crashed": "bold red"}


def size_kib(kib: int | float | None) -> str:
    return "-" if kib is None else humanize.naturalsize(kib * 1024, binary=True, format="%.0f")


def rate_bytes(bps: float | None) -> str:
    return "-" if bps is None else humanize.naturalsize(bps, binary=True, format="%.1f") + "/s"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def hosts_table(rows: Iterable[tuple[str, str, bool, HostInfo | None, str | None]]) -> Table:
    table = Table(title="Hosts", title_justify="left")
    for col in ("NAME", "URI", "STATE", "LIBVIRT", "QEMU", "KERNEL", "KVM", "EPT/NPT", "CPUS", "MEMORY"):
        table.add_column(col)
    for name, uri, read_only, info, error in rows:
        if info is None:
            table.add_row(name, uri, Text("unreachable", "red"), Text(error or "", "red"))
            continue
        state = Text("connected" + (" (RO)" if read_only else ""), "green")
        tdp = "?" if info.tdp is None else ("on" if info.tdp else "off")
        table.add_row(
            name,
            uri,
            state,
            info.libvirt_version,
            f"{info.hypervisor} {info.hypervisor_version}",
            info.kernel or "?",
            "yes" if info.kvm_usable else "no",
            tdp,
            str(info.cpus),
            size_kib(info.memory_kib),
        )
    return table


def domains_table(rows: Sequence[tuple[str, DomainInfo]]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("HOST", "NAME", "UUID", "ID", "STATE", "ACCEL", "VCPUS", "MEMORY"):
        table.add_column(col, no_wrap=col in ("UUID", "NAME"))
    for host, d in rows:
        table.add_row(
            host,
            d.name,
            d.uuid,
            "-" if d.id is None else str(d.id),
            Text(d.state, STATE_STYLE.get(d.state, "")),
            d.accelerator.value,
            str(d.vcpus),
            f"{size_kib(d.memory_kib)} / {size_kib(d.max_memory_kib)}",
        )
    return table


def top_table(rows: Sequence[tuple[str, DomainInfo | None, DomainMetrics]], hosts: Sequence[HostMetrics]) -> Group:
    summary = "  ".join(
        f"[bold]{h.host}[/] cpu {pct(h.cpu_pct)}% mem {size_kib(h.memory_used_kib)}/{size_kib(h.memory_total_kib)}"
        for h in hosts
    )
    table = Table(box=None, header_style="bold reverse")
    for col in ("HOST", "NAME", "STATE", "ACCEL", "CPU%", "STEAL%", "OVHD%", "EXITS/s", "MEM", "DISK R/W", "NET RX/TX"):
        table.add_column(col, justify="right" if col.endswith(("%", "/s")) else "left", no_wrap=True)
    for host, info, m in rows:
        table.add_row(
            host,
            m.name,
            Text(m.state, STATE_STYLE.get(m.state, "")),
            info.accelerator.value if info else "?",
            pct(m.cpu_pct),
            pct(m.steal_pct),
            pct(m.overhead_pct),
            fmt(m.exits_per_s),
            f"{size_kib(m.balloon_current_kib)}/{size_kib(m.balloon_max_kib)}",
            f"{rate_bytes(m.disk_read_bps)} {rate_bytes(m.disk_write_bps)}",
            f"{rate_bytes(m.net_rx_bps)} {rate_bytes(m.net_tx_bps)}",
        )
    return Group(Text.from_markup(summary), table)


def stats_tables(host: str, info: DomainInfo, m: DomainMetrics) -> Group:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for key, value in (
        ("domain", f"{info.name} ({info.uuid}) on {host}"),
        ("state / accel", f"{m.state} / {info.accelerator.value} / {m.vcpu_count} vCPU"),
        ("cpu", f"{pct(m.cpu_pct)} % of a core  ({pct(m.cpu_host_pct)} % of host, {pct(m.cpu_guest_pct)} % of vCPUs)"),
        ("overhead", f"{pct(m.overhead_pct)} % of a core outside the vCPUs"),
        ("steal / wait", f"{pct(m.steal_pct)} % / {pct(m.wait_pct)} %"),
        ("exits", f"{fmt(m.exits_per_s, '/s')}  " + "  ".join(f"{k} {fmt(v)}" for k, v in m.exits_by_reason.items())),
        ("emulation", f"insn {fmt(m.insn_emulation_per_s, '/s')}  hypercalls {fmt(m.hypercalls_per_s, '/s')}"),
        ("mmu", "  ".join(f"{k} {fmt(v, '/s')}" for k, v in m.mmu_per_s.items()) or "-"),
        ("pages", "  ".join(f"{k} {v}" for k, v in m.pages.items()) or "-"),
        (
            "memory",
            f"balloon {size_kib(m.balloon_current_kib)} of {size_kib(m.balloon_max_kib)}, "
            f"unused {size_kib(m.guest_unused_kib)}, usable {size_kib(m.guest_usable_kib)}, "
            f"available {size_kib(m.guest_available_kib)}, "
            f"rss {size_kib(m.rss_kib)}, major faults {fmt(m.major_faults_per_s, '/s')}",
        ),
    ):
        head.add_row(key, value)
    vcpus = Table("vCPU", "CPU%", "STEAL%", "WAIT%", "EXITS/s", box=None, header_style="bold")
    for v in m.vcpus:
        vcpus.add_row(str(v.index), pct(v.cpu_pct), pct(v.steal_pct), pct(v.wait_pct), fmt(v.exits_per_s))
    io = Table("DEVICE", "READ", "WRITE", "IOPS R/W", "LATENCY R/W ms", box=None, header_style="bold")
    for d in m.disks:
        io.add_row(
            d.name,
            rate_bytes(d.read_bps),
            rate_bytes(d.write_bps),
            f"{fmt(d.read_iops)}/{fmt(d.write_iops)}",
            f"{fmt(d.read_latency_ms)}/{fmt(d.write_latency_ms)}",
        )
    for n in m.nets:
        io.add_row(
            n.name,
            f"rx {rate_bytes(n.rx_bps)}",
            f"tx {rate_bytes(n.tx_bps)}",
            f"{fmt(n.rx_pps)}/{fmt(n.tx_pps)} pkt/s",
            f"drops {fmt(n.rx_drops_per_s)}/{fmt(n.tx_drops_per_s)}",
        )
    return Group(head, Text(""), vcpus, Text(""), io)


def findings_view(info: DomainInfo, findings: Sequence[Finding]) -> Group:
    devices = Table("DEVICE", "KIND", "MODEL", "CLASS", box=None, header_style="bold")
    for d in info.devices:
        style = {"emulated": "yellow", "paravirtual": "green", "passthrough": "cyan"}.get(str(d.dev_class), "")
        devices.add_row(d.name, d.kind, d.model, Text(str(d.dev_class), style))
    parts: list[Any] = [Text(f"{info.name}: {info.accelerator.value}", "bold"), devices, Text("")]
    if not findings:
        parts.append(Text("No overhead causes found.", "green"))
    for i, f in enumerate(findings, 1):
        parts.append(
            Text.assemble((f"{i}. [{f.severity.name.lower()}] ", SEVERITY_STYLE[f.severity]), (f.title, "bold"))
        )
        parts.extend(Text(f"     evidence: {e}") for e in f.evidence)
        parts.append(Text(f"     fix: {f.fix}", "green"))
    return Group(*parts)
