"""Human output of the CLI (rich). JSON output is built from the same models in the commands.

Numbers go through `vmtui.present`, as in the TUI, so both faces print one value the same way.
Every string from a host goes into a `Text` (never into markup): a guest named "[b]x" reads "[b]x".
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from vmtui.explain import Finding
from vmtui.metrics import DomainMetrics
from vmtui.models import DomainInfo, HostInfo
from vmtui.present import count, ms, pct, per_s, printable, rate, shown_state, size_kib
from vmtui.richtext import SEVERITY_STYLE, device_class_text, lit, state_text, tdp_text
from vmtui.thresholds import DEFAULT, LEVEL_STYLE, Level, Thresholds, domain_figures, worst

if TYPE_CHECKING:
    from vmtui.monitor.events import HostSampled
    from vmtui.monitor.watch import Monitor


def console() -> Console:
    """stdout for human output: the terminal's width, or wide enough never to wrap rows into a pipe."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console(highlight=False)
    return Console(width=400, highlight=False)


def hosts_table(rows: Iterable[tuple[str, str, bool, HostInfo | None, str | None, bool]]) -> Table:
    """`maintenance` (the last of a row) is said in STATE: placement, migrate targets and drains skip it."""
    table = Table(title="Hosts", title_justify="left")
    for col in ("NAME", "URI", "STATE", "LIBVIRT", "QEMU", "KERNEL", "KVM", "EPT/NPT", "CPUS", "MEMORY"):
        table.add_column(col, overflow="fold" if col == "URI" else "ellipsis")
    for name, uri, read_only, info, error, maintenance in rows:
        held = Text(", maintenance", "bold yellow") if maintenance else Text()
        if info is None:
            table.add_row(lit(name), lit(uri), Text("unreachable", "red").append_text(held), lit(error or "", "red"))
            continue
        state = Text("connected" + (" (RO)" if read_only else ""), "green").append_text(held)
        table.add_row(
            lit(name),
            lit(uri),
            state,
            info.libvirt_version,
            f"{info.hypervisor} {info.hypervisor_version}",
            lit(info.kernel or "unknown"),
            "yes" if info.kvm_usable else "no",
            tdp_text(info.tdp),
            str(info.cpus),
            size_kib(info.memory_kib),
        )
    return table


def _narrow() -> bool:
    return console().width < 120


def domains_table(rows: Sequence[tuple[str, DomainInfo]]) -> Table:
    """`vmtui list`: below 120 columns the UUID is left out (`--json` has it) so names and states stay whole."""
    narrow = _narrow()
    table = Table(box=None, header_style="bold")
    cols = ["HOST", "NAME", "STATE", "ID", "ACCEL", "VCPUS", "MEMORY"] if narrow else [
        "HOST", "NAME", "UUID", "STATE", "ID", "ACCEL", "VCPUS", "MEMORY"
    ]  # fmt: skip
    for col in cols:
        table.add_column(col, no_wrap=True, overflow="ellipsis" if col == "NAME" else "fold")
    for host, d in rows:
        cells: list[Any] = [lit(host), lit(d.name)]
        if not narrow:
            cells.append(d.uuid)
        cells += [
            state_text(shown_state(d.state, template=d.template)),
            "-" if d.id is None else str(d.id),
            d.accelerator.value,
            str(d.vcpus),
            f"{size_kib(d.memory_kib)}/{size_kib(d.max_memory_kib)}",
        ]
        table.add_row(*cells)
    return table


def _host_summary(sample: HostSampled, monitor: Monitor) -> Text:
    line = lit(sample.host, "bold")
    h = sample.tick.host
    line.append(f" cpu {pct(h.cpu_pct)}% mem {size_kib(h.memory_used_kib)}/{size_kib(h.memory_total_kib)}")
    down = monitor.down.get(sample.host)
    if down is not None:
        line.append(f" stale since {time.strftime('%H:%M:%S', time.localtime(sample.tick.sample.wall))}", "bold red")
        line.append(f" ({printable(down.reason)}, retrying)", "red")
    return line


TOP_COLUMNS = (
    ("HOST", 6), ("NAME", 18), ("STATE", 8), ("ACCEL", 5), ("CPU%", 6), ("STEAL%", 6), ("OVHD%", 6),
    ("EXITS/s", 7), ("MEM", 17), ("DISK R/W", 20), ("NET RX/TX", 20),
)  # fmt: skip
"""`top`'s columns in display order, with the width they need."""
TOP_PRIORITY = ("NAME", "STATE", "CPU%", "HOST", "MEM", "OVHD%", "EXITS/s", "DISK R/W", "NET RX/TX", "STEAL%")
"""Kept first when the terminal is narrow (as in the TUI's table): the name and the state always."""


def top_columns(width: int) -> list[str]:
    """The columns of `top` that fit in `width` cells, in display order."""
    sizes = dict(TOP_COLUMNS)
    keep: list[str] = []
    used = 0
    for col in (*TOP_PRIORITY, *(c for c, _ in TOP_COLUMNS if c not in TOP_PRIORITY)):
        need = sizes[col] + 2
        if keep and used + need > width:
            continue
        keep.append(col)
        used += need
    return [c for c, _ in TOP_COLUMNS if c in keep]


TOP_LEVEL_COLUMNS = {"CPU%": "cpu", "STEAL%": "steal", "OVHD%": "overhead", "EXITS/s": "exits"}
"""top's columns that have levels (vmtui.thresholds), by their measure's key."""


def top_view(
    rows: Sequence[tuple[str, DomainInfo | None, DomainMetrics]],
    samples: Sequence[HostSampled],
    monitor: Monitor,
    *,
    thresholds: Thresholds = DEFAULT,
    colours: Mapping[str, str] = MappingProxyType({}),
) -> Group:
    """The table of `vmtui top`: figures at warn or critical in their level's colour, the NAME in the
    row's worst (memory pressure and disk latency have no column), a saved host's HOST in its colour."""
    summary = Text("  ").join(_host_summary(s, monitor) for s in samples)
    columns = top_columns(console().width)
    table = Table(box=None, header_style="bold reverse")
    for col in columns:
        table.add_column(col, justify="right" if col.endswith(("%", "/s")) else "left", no_wrap=True)
    busy = frozenset().union(*(s.tick.busy for s in samples))
    for host, info, m in rows:
        stale = host in monitor.down
        levels = {} if stale else thresholds.levels(domain_figures(m))
        cells: dict[str, Text | str] = {
            "HOST": lit(host, "dim" if stale else colours.get(host, "")),
            "NAME": lit(m.name, LEVEL_STYLE.get(worst(levels.values()), "")),
            # Busy: its own job held it (an incoming migration); its figures are from before, the rest fresh.
            "STATE": Text("stale", "bold red")
            if stale
            else Text("busy", "yellow")
            if m.uuid in busy
            else state_text(m.state),
            "ACCEL": info.accelerator.value if info else "?",
            "CPU%": pct(m.cpu_pct),
            "STEAL%": pct(m.steal_pct),
            "OVHD%": pct(m.overhead_pct),
            "EXITS/s": count(m.exits_per_s),
            "MEM": f"{size_kib(m.balloon_current_kib)}/{size_kib(m.balloon_max_kib)}",
            "DISK R/W": f"{rate(m.disk_read_bps)} {rate(m.disk_write_bps)}",
            "NET RX/TX": f"{rate(m.net_rx_bps)} {rate(m.net_tx_bps)}",
        }
        for column, key in TOP_LEVEL_COLUMNS.items():
            style = LEVEL_STYLE.get(levels.get(key, Level.OK))
            if style and isinstance(cells[column], str):
                cells[column] = Text(str(cells[column]), style)
        table.add_row(*(cells[c] for c in columns))
    return Group(summary, table)


def stats_tables(host: str, info: DomainInfo, m: DomainMetrics) -> Group:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    domain_line = lit(info.name)
    domain_line.append(f" ({info.uuid}) on ")
    domain_line.append(printable(host))
    rows: list[tuple[str, Text | str]] = [
        ("domain", domain_line),
        ("state / accel", f"{m.state} / {info.accelerator.value} / {m.vcpu_count} vCPU"),
        ("cpu", f"{pct(m.cpu_pct)} % of a core  ({pct(m.cpu_host_pct)} % of host, {pct(m.cpu_guest_pct)} % of vCPUs)"),
        ("overhead", f"{pct(m.overhead_pct)} % of a core outside the vCPUs"),
        ("steal / wait", f"{pct(m.steal_pct)} % / {pct(m.wait_pct)} %"),
        ("exits", f"{per_s(m.exits_per_s)}  " + "  ".join(f"{k} {count(v)}" for k, v in m.exits_by_reason.items())),
        ("emulation", f"insn {per_s(m.insn_emulation_per_s)}  hypercalls {per_s(m.hypercalls_per_s)}"),
        ("mmu", "  ".join(f"{k} {per_s(v)}" for k, v in m.mmu_per_s.items()) or "-"),
        ("pages", "  ".join(f"{k} {v}" for k, v in m.pages.items()) or "-"),
        (
            "memory",
            f"balloon {size_kib(m.balloon_current_kib)} of {size_kib(m.balloon_max_kib)}, "
            f"unused {size_kib(m.guest_unused_kib)}, usable {size_kib(m.guest_usable_kib)}, "
            f"available {size_kib(m.guest_available_kib)}, "
            f"rss {size_kib(m.rss_kib)}, major faults {per_s(m.major_faults_per_s)}",
        ),
    ]
    for key, value in rows:
        # Text, never markup: counter names come from the host.
        head.add_row(key, value if isinstance(value, Text) else Text(value))
    vcpus = Table("vCPU", "CPU%", "STEAL%", "WAIT%", "EXITS/s", box=None, header_style="bold")
    for v in m.vcpus:
        vcpus.add_row(str(v.index), pct(v.cpu_pct), pct(v.steal_pct), pct(v.wait_pct), count(v.exits_per_s))
    io = Table("DEVICE", "READ", "WRITE", "IOPS R/W", "LATENCY R/W", box=None, header_style="bold")
    for d in m.disks:
        io.add_row(
            lit(d.name),
            rate(d.read_bps),
            rate(d.write_bps),
            f"{count(d.read_iops)}/{count(d.write_iops)}",
            f"{ms(d.read_latency_ms)} / {ms(d.write_latency_ms)}",
        )
    for n in m.nets:
        io.add_row(
            lit(n.name),
            f"rx {rate(n.rx_bps)}",
            f"tx {rate(n.tx_bps)}",
            f"{count(n.rx_pps)}/{count(n.tx_pps)} pkt/s",
            f"drops {count(n.rx_drops_per_s)}/{count(n.tx_drops_per_s)}",
        )
    return Group(head, Text(""), vcpus, Text(""), io)


def findings_view(info: DomainInfo, findings: Sequence[Finding]) -> Group:
    devices = Table("DEVICE", "KIND", "MODEL", "CLASS", box=None, header_style="bold")
    for d in info.devices:
        devices.add_row(lit(d.name), d.kind, lit(d.model), device_class_text(d.dev_class))
    title = lit(info.name, "bold")
    title.append(f": {info.accelerator.value}")
    parts: list[Any] = [title, devices, Text("")]
    if not findings:
        parts.append(Text("No overhead causes found.", "green"))
    for i, f in enumerate(findings, 1):
        parts.append(
            Text.assemble(
                (f"{i}. [{f.severity.name.lower()}] ", SEVERITY_STYLE[f.severity]), (printable(f.title), "bold")
            )
        )
        parts.extend(Text(f"     evidence: {printable(e)}") for e in f.evidence)
        parts.append(Text(f"     fix: {printable(f.fix)}", "green"))
    return Group(*parts)
