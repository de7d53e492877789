"""One domain in depth: per-vCPU bars, exits by reason, the explainer, devices, history graphs."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from vmtui.explain import Severity, explain
from vmtui.metrics import DomainMetrics
from vmtui.models import DeviceClass, DomainInfo
from vmtui.screens.actions import ACTION_BINDINGS
from vmtui.widgets.domain_table import human_bytes
from vmtui.widgets.metric_graph import MetricGraph

if TYPE_CHECKING:
    from vmtui.app import VmtuiApp

SEVERITY_STYLE = {Severity.HIGH: "bold red", Severity.MEDIUM: "yellow", Severity.LOW: "cyan", Severity.INFO: "dim"}
CLASS_STYLE = {
    DeviceClass.PARAVIRTUAL: "green",
    DeviceClass.EMULATED: "bold yellow",
    DeviceClass.PASSTHROUGH: "cyan",
    DeviceClass.OTHER: "dim",
}
BAR_WIDTH = 30


def bar(pct: float | None, width: int = BAR_WIDTH) -> Text:
    """A horizontal bar for 0-100 %."""
    if pct is None:
        return Text("·" * width, "dim")
    filled = round(max(0.0, min(100.0, pct)) / 100 * width)
    return Text("█" * filled, "green") + Text("░" * (width - filled), "dim")


def vcpu_table(m: DomainMetrics | None) -> Table:
    table = Table(title="vCPUs", title_justify="left", box=None, expand=False, pad_edge=False)
    table.add_column("vCPU")
    table.add_column("CPU", no_wrap=True)
    table.add_column("%", justify="right")
    table.add_column("steal %", justify="right")
    table.add_column("exits/s", justify="right")
    if m is None or not m.vcpus:
        table.add_row("-", bar(None), "-", "-", "-")
        return table
    for v in m.vcpus:
        steal = "-" if v.steal_pct is None else f"{v.steal_pct:.1f}"
        steal_text = Text(steal, "bold red" if v.steal_pct and v.steal_pct >= 5 else "")
        exits = "-" if v.exits_per_s is None else f"{v.exits_per_s:.0f}"
        cpu = "-" if v.cpu_pct is None else f"{v.cpu_pct:.1f}"
        table.add_row(str(v.index), bar(v.cpu_pct), cpu, steal_text, exits)
    return table


def exits_table(m: DomainMetrics | None) -> Table:
    table = Table(title="VM exits by reason (/s)", title_justify="left", box=None, pad_edge=False)
    table.add_column("reason")
    table.add_column("/s", justify="right")
    reasons = sorted((m.exits_by_reason if m else {}).items(), key=lambda kv: -kv[1])
    if not reasons:
        table.add_row(Text("none reported (TCG, or first sample)", "dim"), "")
    for reason, value in reasons[:12]:
        table.add_row(reason, f"{value:,.0f}")
    return table


def findings_text(info: DomainInfo | None, m: DomainMetrics | None, app: VmtuiApp, host: str) -> Text:
    out = Text("Why does it cost what it costs?\n", "bold")
    if info is None:
        return out + Text("no XML facts for this domain yet", "dim")
    view = app.fleet.host(host)
    findings = explain(info, m, view.info)
    if not findings:
        return out + Text("nothing to fix: no overhead cause found", "green")
    for f in findings:
        out.append(f"[{f.severity.name.lower()}] ", SEVERITY_STYLE[f.severity])
        out.append(f.title + "\n", "bold")
        for line in f.evidence:
            out.append(f"    {line}\n", "dim")
        out.append("    fix: ", "bold green")
        out.append(f.fix + "\n")
    return out


def devices_table(info: DomainInfo | None) -> Table:
    table = Table(title="Devices", title_justify="left", box=None, pad_edge=False)
    for title in ("kind", "name", "model", "class", "detail"):
        table.add_column(title)
    for d in info.devices if info else ():
        table.add_row(d.kind, d.name, d.model, Text(str(d.dev_class), CLASS_STYLE[d.dev_class]), d.detail)
    return table


class DomainScreen(Screen[None]):
    """Details of one domain, refreshed from every sample of its host."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        *ACTION_BINDINGS,
    ]

    def __init__(self, uuid: str) -> None:
        super().__init__()
        self.uuid = uuid

    @property
    def vmtui(self) -> VmtuiApp:
        from vmtui.app import VmtuiApp

        assert isinstance(self.app, VmtuiApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        with VerticalScroll(id="domain-body"):
            yield Static(id="summary")
            with Horizontal(id="cpu-row"):
                yield Static(id="vcpus")
                yield Static(id="exits")
            with Grid(id="graphs"):
                yield MetricGraph("CPU %", lambda v: f"{v:.1f}%", id="g-cpu")
                yield MetricGraph("Overhead %", lambda v: f"{v:.1f}%", id="g-overhead")
                yield MetricGraph("IO (disk+net)", lambda v: human_bytes(v) + "/s", id="g-io")
                yield MetricGraph("Memory", lambda v: human_bytes(v * 1024), id="g-mem")
            yield Static(id="findings")
            yield Static(id="devices")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_data()

    def selected_uuid(self) -> str | None:
        return self.uuid

    def refresh_data(self) -> None:
        """Re-render from the fleet state (called on mount and for each sample of this domain's host)."""
        if not self.query("#summary"):
            return  # the app is closing and has already removed this screen's widgets
        found = self.vmtui.fleet.find(self.uuid)
        if found is None:
            self.query_one("#summary", Static).update(Text(f"domain {self.uuid} is gone", "bold red"))
            return
        view, info, m = found
        name = info.name if info else (m.name if m else self.uuid)
        self.title = f"{name} on {view.name}"
        summary = Text()
        summary.append(name, "bold")
        state = m.state if m else (info.state if info else "?")
        summary.append(f"  {state}  on {view.name}")
        if view.status == "disconnected" and view.last_sample_wall:
            summary.append("  (stale: host disconnected)", "bold red")
        if info:
            summary.append(f"  {info.accelerator}  {info.vcpus} vCPU  {info.machine}")
            summary.append(f"  mem {human_bytes(info.memory_kib * 1024)}/{human_bytes(info.max_memory_kib * 1024)}")
            balloon = info.balloon_model or "absent"
            summary.append(f"  balloon {balloon}", "dim")
        if m is not None:
            summary.append(f"\nCPU {_pct(m.cpu_pct)}  guest {_pct(m.cpu_guest_pct)}  overhead {_pct(m.overhead_pct)}")
            summary.append(f"  steal {_pct(m.steal_pct)}  exits/s {_val(m.exits_per_s)}")
            summary.append(f"  disk r/w {human_bytes(m.disk_read_bps)}/{human_bytes(m.disk_write_bps)}")
            summary.append(f"  net rx/tx {human_bytes(m.net_rx_bps)}/{human_bytes(m.net_tx_bps)}")
        self.query_one("#summary", Static).update(summary)
        self.query_one("#vcpus", Static).update(vcpu_table(m))
        self.query_one("#exits", Static).update(exits_table(m))
        self.query_one("#findings", Static).update(findings_text(info, m, self.vmtui, view.name))
        self.query_one("#devices", Static).update(devices_table(info))
        history = list(self.vmtui.fleet.history.get(self.uuid, ()))
        self.query_one("#g-cpu", MetricGraph).show([p.cpu for p in history])
        self.query_one("#g-overhead", MetricGraph).show([p.overhead for p in history])
        self.query_one("#g-io", MetricGraph).show([p.io_bps for p in history])
        self.query_one("#g-mem", MetricGraph).show([p.memory_kib for p in history])

    def action_lifecycle(self, action: str) -> None:
        self.vmtui.request_action(self.uuid, action)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "lifecycle" and parameters:
            return self.vmtui.action_allowed(self.uuid, str(parameters[0]))
        return True


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _val(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"
