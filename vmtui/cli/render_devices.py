"""Human output of `vmtui devices` and `vmtui sriov` (rich). Strings from hosts go into `Text`, never markup."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from vmtui.ops.changes import DeviceChange, Outcome
from vmtui.ops.devices import DevicesReport
from vmtui.ops.sriov import SriovReport
from vmtui.present import MISSING, printable
from vmtui.richtext import device_class_text, lit

SWITCH_STYLE = {"live": "bold green", "next-boot": "yellow", "done": "dim", "no": "dim", "n/a": "dim"}
OUTCOME_STYLE = {Outcome.DONE: "green", Outcome.FAILED: "bold red", Outcome.SKIPPED: "dim"}


def devices_view(host: str, report: DevicesReport) -> Group:
    title = lit(report.domain, "bold")
    title.append(f" on {printable(host)}: {report.state}" + ("" if report.persistent else ", transient"))
    table = Table(box=None, header_style="bold")
    for col in ("KIND", "NAME", "CLASS", "BUS/TYPE", "MODEL", "TO VIRTIO", "GUEST DRIVER", "NOTE"):
        table.add_column(col, overflow="fold")
    for a in report.devices:
        d = a.device
        name = lit(d.name)
        if d.mac and d.mac != d.name:
            name.append(f" {d.mac}", "dim")
        note = lit(a.note)
        if a.next_boot:
            note.append(f" (next boot: {printable(a.next_boot)})", "yellow")
        table.add_row(
            d.kind,
            name,
            device_class_text(d.dev_class),
            lit(d.bus or d.flavor or MISSING),
            lit(d.model),
            Text(a.switch, SWITCH_STYLE.get(a.switch, "")),
            lit(a.guest_driver or MISSING),
            note,
        )
    return Group(title, table)


def _half(name: str, outcome: Outcome, detail: str) -> Text:
    line = Text(f"  {name:<6} ")
    line.append(str(outcome), OUTCOME_STYLE[outcome])
    if detail:
        line.append(f"  {printable(detail)}")
    return line


def change_view(result: Any) -> Group:
    """A DeviceChange, or a VirtioResult (several), half by half."""
    changes: tuple[DeviceChange, ...] = getattr(result, "changes", (result,))
    parts: list[Any] = []
    if not changes:
        parts.append(Text(result.summary(), "dim"))
    for c in changes:
        head = lit(f"{c.action} {c.device}", "bold")
        head.append(" on ")
        head.append(printable(c.domain))
        head.append(f": {printable(c.before)} -> {printable(c.after)}  (changed: {c.changed})")
        parts += [
            head,
            _half("live", c.live.outcome, c.live.detail),
            _half("config", c.config.outcome, c.config.detail),
        ]
        parts += [Text(f"  note: {printable(n)}", "dim") for n in c.notes]
        parts += [Text(f"  {k}: {printable(str(v))}", "dim") for k, v in c.facts.items() if v is not None]
    return Group(*parts)


def sriov_view(host: str, report: SriovReport) -> Group:
    parts: list[Any] = []
    if not report.pfs:
        parts.append(lit(f"{host}: no SR-IOV physical functions (no PCI device with virtual functions)", "dim"))
    for pf in report.pfs:
        head = lit(pf.netdev or str(pf.address), "bold")
        head.append(f"  {pf.address}  ")
        head.append(printable(f"{pf.vendor} {pf.product}".strip()))
        head.append(f"  VFs {pf.current_vfs}/{pf.total_vfs if pf.total_vfs is not None else '?'}")
        if pf.pools:
            head.append("  pools: " + ", ".join(printable(p.name) for p in pf.pools), "cyan")
        table = Table(box=None, header_style="bold", pad_edge=False)
        for col in ("VF", "NETDEV", "DRIVER", "MAC", "VLAN", "USED BY"):
            table.add_column(col)
        for vf in pf.vfs:
            users = Text()
            for i, u in enumerate(vf.used_by):
                if i:
                    users.append(", ")
                users.append(printable(u.domain), "bold" if u.live else "")
                where = "running" if u.live else "config"
                users.append(f" ({where}{', next boot too' if u.live and u.config else ''})", "dim")
            table.add_row(
                str(vf.address),
                lit(vf.netdev or MISSING),
                lit(vf.driver or MISSING),
                lit(vf.mac or MISSING),
                str(vf.vlan) if vf.vlan is not None else MISSING,
                users if vf.used_by else Text("free", "green"),
            )
        parts += [head, table, Text("")]
    for p in report.other_pools:
        parts.append(lit(f"pool {p.name}: over {', '.join(p.pf_devs) or 'listed VFs'} (no such PF here)", "yellow"))
    return Group(*parts)
