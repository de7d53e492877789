"""Human output of `vmtui balloon` and `vmtui ksm` (rich); names from hosts always in `Text`."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from vmtui.ops.balloon_policy import BalloonPlan
from vmtui.ops.ksm import RUN_NAMES, KsmStatus
from vmtui.ops.ksm_policy import KsmPlan
from vmtui.ops.memory import BalloonResult
from vmtui.present import MISSING, pct_sign, size, size_kib
from vmtui.richtext import lit


def count(value: int | None) -> str:
    """A page count as it is (present.count rounds rates: 0 would read 0.0)."""
    return MISSING if value is None else str(value)


ACTION_STYLE = {"grow": "green", "shrink": "yellow", "hold": "", "skip": "dim"}


def balloon_result(host: str, r: BalloonResult) -> Text:
    line = lit(r.name, "bold")
    line.append(f" on {host}: balloon {size_kib(r.before_kib)} -> {size_kib(r.target_kib)}")
    status = "reached" if r.reached else "not reached yet"
    line.append(f" (actual {size_kib(r.actual_kib)}, {status})", "green" if r.reached else "yellow")
    line.append(f"\n  floor {size_kib(r.floor_kib)}, max {size_kib(r.max_kib)}")
    if r.guest_available_kib is not None:
        line.append(
            f"; the guest last reported {size_kib(r.guest_available_kib)} total, {size_kib(r.guest_usable_kib)} usable"
        )
    return line


def _delta(kib: int) -> str:
    if kib == 0:
        return MISSING
    return ("+" if kib > 0 else "-") + size_kib(abs(kib))


def balloon_plan(host: str, plan: BalloonPlan) -> Group:
    head = Text(f"balloon policy on {host} (dry run): ", "bold")
    head.append(plan.why, "")
    head.append(
        f"\n  host used {size_kib(plan.host_used_kib)} of {size_kib(plan.host_total_kib)}, "
        f"target {size_kib(plan.target_used_kib)}, gap {_delta(plan.goal_kib)}"
    )
    table = Table(box=None, header_style="bold")
    for col in ("NAME", "ACTION", "ACTUAL", "NEW", "CHANGE", "FLOOR", "MAX", "SHARES", "WHY"):
        table.add_column(col, no_wrap=col != "WHY", justify="right" if col in ("ACTUAL", "NEW", "CHANGE") else "left")
    for row in plan.rows:
        table.add_row(
            lit(row.name),
            Text(row.action, ACTION_STYLE.get(row.action, "")),
            size_kib(row.actual_kib),
            size_kib(row.new_kib),
            _delta(row.delta_kib),
            size_kib(row.floor_kib),
            size_kib(row.max_kib),
            MISSING if row.shares is None else str(row.shares),
            lit(row.why),
        )
    return Group(head, table)


def ksm_view(host: str, s: KsmStatus) -> Group:
    run = RUN_NAMES.get(s.run, "?") if s.run is not None else "unknown"
    head = Text(f"KSM on {host}: ", "bold")
    head.append(run, "green" if s.run == 1 else "yellow" if s.run == 2 else "dim")
    if s.run is not None:
        head.append(f" (run={s.run})")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    sharing, shared = s.get("pages_sharing"), s.get("pages_shared")
    saved = f"{size(s.saved_bytes)} (pages_sharing {count(sharing)} x {s.page_kib} KiB)"
    if s.general_profit_bytes is not None:
        saved += f"; kernel's general_profit {size(s.general_profit_bytes)} (after KSM's own bookkeeping)"
    grid.add_row("saved", saved)
    cost = f"ksmd {pct_sign(s.ksmd_cpu_pct)} of a core; {count(s.get('pages_to_scan'))} pages every"
    cost += f" {count(s.get('sleep_millisecs'))} ms; full scans {count(s.get('full_scans'))}"
    grid.add_row("cost", cost)
    ratio = MISSING if s.sharing_ratio is None else f"x{s.sharing_ratio:.1f}"
    grid.add_row(
        "pages",
        f"shared {count(shared)}, sharing {count(sharing)} ({ratio} per shared page), "
        f"unshared {count(s.get('pages_unshared'))}, volatile {count(s.get('pages_volatile'))}",
    )
    grid.add_row("merge across NUMA nodes", {1: "yes", 0: "no"}.get(s.get("merge_across_nodes") or -1, MISSING))
    parts: list[Text | Table] = [head, grid]
    if s.vms:
        vms = Table(box=None, header_style="bold")
        for col in ("VM", "MERGED PAGES", "MERGED", "PROFIT"):
            vms.add_column(col, justify="left" if col == "VM" else "right")
        for vm in s.vms:
            merged = None if vm.merging_pages is None else vm.merging_pages * s.page_kib * 1024
            vms.add_row(lit(vm.name), count(vm.merging_pages), size(merged), size(vm.profit_bytes))
        parts.append(vms)
    if s.ksmtuned:
        parts.append(Text("warning: ksmtuned runs on this host and overrides manual settings", "yellow"))
    parts.extend(lit(f"note: {n}", "dim") for n in s.notes)
    return Group(*parts)


def ksm_plan(host: str, plan: KsmPlan) -> Group:
    head = Text(f"KSM policy on {host} (dry run): ", "bold")
    head.append(f"run={plan.run}, pages_to_scan={plan.pages_to_scan}, sleep_millisecs={plan.sleep_ms}")
    lines: list[Text] = [head, lit(f"  {plan.why}")]
    if not plan.changes:
        lines.append(Text("  nothing to change", "green"))
    for c in plan.changes:
        lines.append(lit(f"  {c.knob}: {c.old} -> {c.new} ({c.why})"))
    return Group(*lines)
