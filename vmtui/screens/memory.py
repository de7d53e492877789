"""`m`: one host's memory. Balloons per guest, host overcommit, the balloon policy's plan, and KSM.

Everything shown comes from state handed in: the fleet (the pollers' samples) and the KSM history
the app's KSM worker fills (KSM is not in the pollers' samples). The plan is computed here from the
latest sample: pure arithmetic, no call to the host. Keys post requests; the app runs them as jobs.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from vmtui.drivers.base import Hypervisor
from vmtui.ops import ksm, memory
from vmtui.ops.balloon_policy import BalloonKnobs, BalloonPlan, GuestMemory, HostMemory, plan_balloons
from vmtui.ops.base import Progress
from vmtui.ops.ksm import RUN_NAMES, KsmStatus
from vmtui.ops.ksm_policy import KsmKnobs
from vmtui.ops.sizes import parse_size_kib
from vmtui.present import MISSING, pct_sign, printable, size, size_kib
from vmtui.screens.form import FormField, FormModal, Values
from vmtui.screens.memory_forms import KsmSettings, KsmSettingsForm, PolicyKnobsForm
from vmtui.thresholds import DEFAULT, LEVEL_STYLE, Thresholds
from vmtui.tui.fleet import Fleet, HostView
from vmtui.tui.messages import BalloonPolicyStepRequested, BalloonRequested, OperationRequested
from vmtui.widgets.fitting_footer import FittingFooter
from vmtui.widgets.metric_graph import MetricGraph
from vmtui.widgets.refusals import Refusals, explained, moved
from vmtui.widgets.table_layout import cut_middle

KSM_POINTS = 150
"""KSM readings kept per host: five minutes at one every 2 s."""
GUEST_CELLS = 24
"""The guest column's most cells: a longer name loses its middle, so "balloon now" and "target set"
stay on an 80-column screen beside the fleet's long names (the dashboard's NAME is as wide)."""


@dataclass(frozen=True, slots=True)
class KsmPoint:
    """One KSM reading with ksmd's CPU since the one before."""

    status: KsmStatus
    cpu_pct: float | None


KsmHistory = deque[KsmPoint]


def guests_of(fleet: Fleet, view: HostView) -> list[GuestMemory]:
    """The running guests of a host as the balloon policy reads them, from the latest sample."""
    out = []
    metrics = view.tick.domains if view.tick else {}
    for uuid, m in metrics.items():
        info = view.domains.get(uuid)
        state = fleet.state_of(uuid)
        out.append(
            GuestMemory(
                uuid=uuid,
                name=info.name if info else m.name,
                state="running" if state == "running" else state,
                max_kib=m.balloon_max_kib or (info.max_memory_kib if info else 0),
                actual_kib=m.balloon_current_kib,
                usable_kib=m.guest_usable_kib,
                unused_kib=m.guest_unused_kib,
                available_kib=m.guest_available_kib,
                model=info.balloon_model if info else None,
                period=info.balloon_period if info else None,
                job_active=state == "migrating",
            )
        )
    return sorted(out, key=lambda g: g.name)


def plan_of(fleet: Fleet, view: HostView, knobs: BalloonKnobs) -> BalloonPlan | None:
    if view.tick is None or "total" not in view.tick.sample.memory_kib:
        return None
    host = HostMemory.from_stats(view.tick.sample.memory_kib)
    return plan_balloons(host, guests_of(fleet, view), knobs)


def ksm_text(history: KsmHistory, thresholds: Thresholds = DEFAULT) -> Text:
    """KSM's state, savings and cost; the cost (ksmd's CPU) in its level's colour (`ksm_cost`)."""
    if not history:
        return Text("KSM: reading…", "dim")
    point = history[-1]
    s = point.status
    out = Text("KSM ", "bold")
    out.append(RUN_NAMES.get(s.run, "?") if s.run is not None else "unknown", "green" if s.run == 1 else "yellow")
    out.append("   saved ")
    out.append(size(s.saved_bytes), "bold green")
    out.append(f" (pages_sharing {s.get('pages_sharing')} x {s.page_kib} KiB)")
    out.append("   cost: ksmd ")
    level = thresholds.level("ksm_cost", point.cpu_pct)
    out.append(pct_sign(point.cpu_pct), LEVEL_STYLE.get(level, "bold"))
    out.append(f" of a core, {s.get('pages_to_scan')} pages every {s.get('sleep_millisecs')} ms")
    out.append(f"\nshared {s.get('pages_shared')}  unshared {s.get('pages_unshared')}")
    out.append(f"  volatile {s.get('pages_volatile')}  full scans {s.get('full_scans')}")
    if s.general_profit_bytes is not None:
        out.append(f"  kernel's general_profit {size(s.general_profit_bytes)}")
    if s.ksmtuned:
        out.append("\nksmtuned runs here and overrides manual settings", "yellow")
    for note in s.notes:
        out.append(f"\n{printable(note)}", "dim")
    return out


class BalloonModal(FormModal[int]):
    """Asks for a new balloon size (512MiB, 1.5GiB); parsed exactly, refused here when it is not a size."""

    PART_ID: ClassVar[str] = "balloon"
    TITLE_ID: ClassVar[str | None] = "balloon-question"
    FIELD_ID: ClassVar[str] = "balloon"
    OK_BUTTON: ClassVar[tuple[str, str]] = ("Set", "set")

    def __init__(self, question: str) -> None:
        """`question` names the guest; the form shows its title as text, never as markup."""
        super().__init__(question, (FormField("size", "", "e.g. 512MiB, 1.5GiB"),))

    def accept(self, values: Values) -> int:
        return parse_size_kib(values["size"])


class MemoryScreen(Refusals, Screen[None]):
    """Memory of one host: per-guest balloons, overcommit, the policy's plan, KSM savings and cost."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        # As on the dashboard: j and k move the cursor, which is the row `B` acts on.
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
        *explained(
            Binding("B", "balloon", "Balloon"),
            Binding("E", "policy_step", "Apply plan step"),
            Binding("o", "knobs", "Knobs", tooltip="The balloon and KSM policies' knobs"),
            Binding("G", "ksm_settings", "KSM", tooltip="KSM on/off/unmerge and its tunables"),
            Binding("L", "ksm_step", "KSM step", tooltip="Apply one step of the KSM policy"),
            Binding("O", "ksm_opt('out')", "KSM opt-out", tooltip="Keep the guest's memory out of KSM", show=False),
            Binding("I", "ksm_opt('in')", "KSM opt-in", tooltip="Let the guest's memory be merged again", show=False),
        ),
        moved("b", "B balloons the guest under the cursor"),
        moved("A", "E applies one step of the plan"),
    ]

    CLI_OPTIONS: ClassVar[dict[str, str]] = {
        "balloon set": "key B",
        "balloon policy": "key E",
        "balloon policy --apply": "key E (one step each time)",
        "ksm policy": "key L",
        "ksm policy --apply": "key L (one step each time)",
        "ksm opt-out": "key O",
        "ksm opt-in": "key I",
        "ksm tune": "key G",
        "ksm on": "key G",
        "ksm off": "key G",
        "balloon policy --target-host-used": "key o",
        "ksm policy --free-percent": "key o",
    }
    """The CLI commands and options this screen's keys and forms stand for (tests/unit/test_parity.py reads them)."""

    def __init__(
        self,
        host: str,
        fleet: Fleet,
        ksm: KsmHistory,
        *,
        knobs: BalloonKnobs | None = None,
        ask: Callable[..., object],
        closed: Callable[[str], object] | None = None,
        select: str | None = None,
        targets: Mapping[str, int] | None = None,
        ksm_knobs: KsmKnobs | None = None,
        knobs_set: Callable[[BalloonKnobs, KsmKnobs], object] | None = None,
    ) -> None:
        """Args:
        host: the host shown. fleet, ksm: state handed down by the app (read only here).
        select: the domain the cursor starts on (the one selected where `M` was pressed).
        targets: per UUID, the balloon target vmtui last set (`b`, a plan step `A`), kept by the app.
        ask: pushes a modal and calls back with its answer (`vmtui.tui.ui.Ui.show`).
        closed: told the host when this screen leaves the app (its KSM readings may stop).
        knobs, ksm_knobs: the policies' knobs to start with; knobs_set is told when o changes them.
        """
        super().__init__()
        self.host = host
        self.fleet = fleet
        self.ksm = ksm
        self.knobs = knobs or BalloonKnobs()
        self.ksm_knobs = ksm_knobs or KsmKnobs()
        self._knobs_set = knobs_set
        self._ask = ask
        self._on_close = closed
        self._select = select
        self.targets: Mapping[str, int] = targets if targets is not None else {}
        self._keys: tuple[str | None, ...] = ()

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        with VerticalScroll(id="memory-body"):
            yield Static(id="memory-host")
            yield DataTable(id="memory-guests", cursor_type="row")
            yield Static(id="memory-plan")
        # KSM under the scrolling part, always in sight (at 80x24 it was below the fold: Tab, then PgDn).
        with Vertical(id="memory-ksm-box"):
            yield Static(id="memory-ksm")
            with Horizontal(id="memory-graphs"):
                yield MetricGraph("KSM saved", size, id="g-ksm-saved")
                yield MetricGraph("ksmd CPU % (cost)", lambda v: f"{v:.1f}%", id="g-ksm-cpu")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.title = printable(f"memory of {self.host}")
        table = self.query_one(DataTable)
        # "balloon now": the guest's memory with the balloon as it is (libvirt's balloon.current, sampled);
        # "target set": what vmtui last asked of it (b, A). <currentMemory> is not shown: it trails "now".
        for col in ("guest", "state", "balloon now", "target set", "max", "guest free", "usable", "driver", "period"):
            table.add_column(col, key=col)
        self.refresh_data()
        if self._select is not None and self._select in {str(k.value) for k in table.rows}:
            table.move_cursor(row=table.get_row_index(self._select))
        self.show_ksm()
        table.focus()

    def selected_uuid(self) -> str | None:
        tables = self.query(DataTable)
        table = tables.first() if tables else None
        if table is None or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(key.value) if key.value is not None else None

    def action_cursor(self, delta: int) -> None:
        table = self.query_one(DataTable)
        table.action_cursor_down() if delta > 0 else table.action_cursor_up()

    def on_unmount(self) -> None:
        if self._on_close is not None:
            self._on_close(self.host)

    def sample_arrived(self, host: str, uuids: Collection[str]) -> None:
        """`vmtui.screens.live.LiveScreen`: this host's data changed."""
        if host == self.host:
            self.refresh_data()

    def refresh_data(self) -> None:
        if not self.query("#memory-host"):
            return
        view = self.fleet.hosts.get(self.host)
        if view is None:
            self.query_one("#memory-host", Static).update(Text(f"{self.host} is no longer watched", "bold red"))
            return
        head = Text(printable(self.host), "bold")
        total = view.tick.host.memory_total_kib if view.tick is not None else None
        if view.tick is not None and total:
            used = view.tick.host.memory_used_kib or 0
            head.append(f"  used {size_kib(used)} of {size_kib(total)} ({used / total * 100:.0f} %)")
        ratio = view.overcommit()
        if ratio is not None:
            head.append(f"  overcommit {ratio:.2f}x", "bold yellow" if ratio > 1 else "")
            head.append(" (running guests' max memory / host memory)", "dim")
        stale = self.fleet.stale_since(view)
        if stale is not None:
            head.append(f"  stale: host {view.status}", "bold red")
        self.query_one("#memory-host", Static).update(head)
        self._fill_table(view)
        plan = plan_of(self.fleet, view, self.knobs)
        step_refused = self.refusal("policy_step", ())
        self.query_one("#memory-plan", Static).update(plan_table(plan, self.knobs, step_refused=step_refused))
        self._refresh_keys()

    def _refresh_keys(self) -> None:
        """The footer again, only when what it offers may have changed (a rebuild per sample costs)."""
        keys = (self.refusal("balloon", ()), self.refusal("policy_step", ()))
        if keys != self._keys:
            self._keys = keys
            self.refresh_bindings()

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._refresh_keys()

    def _fill_table(self, view: HostView) -> None:
        table = self.query_one(DataTable)
        keep = self.selected_uuid()
        table.clear()
        for g in guests_of(self.fleet, view):
            target = self.targets.get(g.uuid)
            table.add_row(
                Text(cut_middle(printable(g.name), GUEST_CELLS)),
                g.state,
                size_kib(g.actual_kib),
                size_kib(target) if target is not None else MISSING,
                size_kib(g.max_kib),
                size_kib(g.unused_kib),
                size_kib(g.usable_kib),
                "yes" if g.reports else ("no device" if g.model in (None, "none") else "no"),
                f"{g.period} s" if g.period else Text("unset", "yellow"),
                key=g.uuid,
            )
        if keep is not None and keep in {str(k.value) for k in table.rows}:
            table.move_cursor(row=table.get_row_index(keep))

    def show_ksm(self) -> None:
        if not self.query("#memory-ksm"):
            return
        self.query_one("#memory-ksm", Static).update(ksm_text(self.ksm, self.fleet.thresholds))
        saved = [float(p.status.saved_bytes or 0) for p in self.ksm]
        cpu = [p.cpu_pct or 0.0 for p in self.ksm]
        self.query_one("#g-ksm-saved", MetricGraph).show(saved)
        self.query_one("#g-ksm-cpu", MetricGraph).show(cpu)

    def refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action not in ("balloon", "policy_step", "ksm_settings", "ksm_step", "ksm_opt"):
            return None
        view = self.fleet.hosts.get(self.host)
        if view is None:
            return f"{self.host} is no longer watched"
        why = self.fleet.write_refusal(view)
        if why is None and action in ("balloon", "ksm_opt"):
            uuid = self.selected_uuid()
            if uuid is None:
                why = "no guest selected"
            else:
                why = self.fleet.busy_refusal(uuid)
        return why

    def action_balloon(self) -> None:
        uuid = self.selected_uuid()
        view = self.fleet.hosts.get(self.host)
        if uuid is None or view is None:
            return
        g = next((g for g in guests_of(self.fleet, view) if g.uuid == uuid), None)
        if g is None:
            return
        question = f"Balloon {printable(g.name)}: now {size_kib(g.actual_kib)}, max {size_kib(g.max_kib)}"

        def answered(kib: int | None) -> None:
            if kib is not None:
                self.post_message(BalloonRequested(uuid, kib))

        self._ask(BalloonModal(question), answered)

    def action_policy_step(self) -> None:
        self.post_message(BalloonPolicyStepRequested(self.host, self.knobs))

    def action_knobs(self) -> None:
        def answered(knobs: tuple[BalloonKnobs, KsmKnobs] | None) -> None:
            if knobs is None:
                return
            self.knobs, self.ksm_knobs = knobs
            if self._knobs_set is not None:
                self._knobs_set(*knobs)
            self.refresh_data()

        self._ask(PolicyKnobsForm(self.host, self.knobs, self.ksm_knobs), answered)

    def action_ksm_settings(self) -> None:
        host = self.host

        def answered(settings: KsmSettings | None) -> None:
            if settings is None:
                return

            def run(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
                mem = memory.memory_host(conn)
                changed = None
                if settings.run is not None:
                    changed = ksm.set_run(mem, host, settings.run, progress=progress, cancel=cancel)
                if settings.tunables:
                    changed = ksm.tune(mem, host, pages_to_scan=settings.tunables.get("pages_to_scan"),
                                       sleep_ms=settings.tunables.get("sleep_millisecs"),
                                       merge_across_nodes=settings.tunables.get("merge_across_nodes"),
                                       progress=progress, cancel=cancel)  # fmt: skip
                return changed

            said = [f"run {settings.run}"] if settings.run else []
            said += [f"{k}={v}" for k, v in settings.tunables.items()]
            question = f"KSM on {host}: {', '.join(said)}?"
            detail = "Every guest of the host shares (or stops sharing) memory through it."
            self.post_message(OperationRequested(host, None, f"KSM on {host}: {', '.join(said)}", run, question,
                                                 detail, pending="changing KSM…"))  # fmt: skip

        self._ask(KsmSettingsForm(host, self.ksm[-1].status if self.ksm else None), answered)

    def action_ksm_step(self) -> None:
        host, knobs = self.host, self.ksm_knobs

        def run(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            return ksm.apply_policy(memory.memory_host(conn), host, knobs, interval=0, count=1, progress=progress,
                                    cancel=cancel)  # fmt: skip

        question = f"Apply one step of the KSM policy on {host}?"
        detail = (f"Under {knobs.free_pct:g} % free memory ksmd scans harder (pages_to_scan {knobs.pages_min} to "
                  f"{knobs.pages_max}); with room to spare it slows down or stops.")  # fmt: skip
        self.post_message(OperationRequested(host, None, f"KSM policy step on {host}", run, question, detail,
                                             pending="changing KSM…"))  # fmt: skip

    def action_ksm_opt(self, way: str) -> None:
        uuid, host = self.selected_uuid(), self.host
        if uuid is None:
            return
        name = self.fleet.name_of(uuid)
        opt_out = way == "out"

        def run(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            return ksm.set_opt_out(memory.memory_host(conn), host, uuid, opt_out=opt_out)

        question = (f"Keep {printable(name)}'s memory out of KSM?" if opt_out
                    else f"Let {printable(name)}'s memory be merged by KSM again?")  # fmt: skip
        detail = "From its next start (QEMU reads <nosharepages/> when it starts)."
        self.post_message(OperationRequested(host, uuid, f"KSM opt-{way} of {name}", run, question, detail,
                                             pending=f"KSM opt-{way}…"))  # fmt: skip


def plan_table(plan: BalloonPlan | None, knobs: BalloonKnobs, *, step_refused: str | None = None) -> Table:
    """The plan; its title offers `A` only when the key is offered (`step_refused` says why it is not)."""
    # Text, never markup: the refusal names the host.
    how = f"dry run only: {step_refused}" if step_refused else "dry run; E applies one step"
    title = Text(f"Balloon policy plan (target host use {knobs.target_used_pct:g} %, {how})")
    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for col in ("guest", "action", "now", "new", "floor", "why"):
        table.add_column(col)
    if plan is None:
        table.add_row("-", "-", "-", "-", "-", Text("no sample yet", "dim"))
        return table
    table.caption = plan.why
    table.caption_justify = "left"
    style = {"grow": "green", "shrink": "yellow", "skip": "dim"}
    for row in plan.rows:
        table.add_row(
            Text(printable(row.name)),
            Text(row.action, style.get(row.action, "")),
            size_kib(row.actual_kib),
            size_kib(row.new_kib),
            size_kib(row.floor_kib),
            Text(printable(row.why)),
        )
    return table
