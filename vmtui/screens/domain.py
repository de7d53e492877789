"""One domain in depth: per-vCPU bars, exits by reason, snapshots, the explainer, devices, history graphs."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from vmtui import present
from vmtui.drivers.backupstore import backup_store
from vmtui.drivers.resources import GuestFacts
from vmtui.drivers.xml.devices import check_ref_name
from vmtui.drivers.xml.edit import check_domain_name
from vmtui.explain import explain
from vmtui.metrics import DomainMetrics
from vmtui.models import DomainInfo, Snapshot
from vmtui.ops.autostart import set_autostart
from vmtui.ops.backup import (
    Backup,
    GuestAndBackups,
    default_root,
    guest_and_backups,
    live_host,
    restore_as_new,
    take_backup,
)
from vmtui.ops.clone import mark_template
from vmtui.ops.delete import delete
from vmtui.ops.snapshots import check_name
from vmtui.present import count, pct, pct_sign, rate, size_kib
from vmtui.richtext import SEVERITY_STYLE, device_class_text, state_text
from vmtui.screens.form import FormField, FormModal, Values
from vmtui.screens.guest_panel import REFRESH_SECONDS, GuestPanel
from vmtui.screens.host import (
    ACTION_BINDINGS,
    CLONE_BINDINGS,
    DEVICE_BINDINGS,
    HOST_BINDINGS,
    TOOL_BINDINGS,
    domain_refusal,
    host_refusal,
)
from vmtui.screens.prompt import PromptModal
from vmtui.screens.provision import DeleteForm, ask_clone, template_refusal
from vmtui.tui.fleet import Fleet, HostView
from vmtui.tui.messages import (
    ActionRequested,
    ConsoleRequested,
    DataFetched,
    DevicesOpenRequested,
    EditRequested,
    FetchRequested,
    MemoryOpenRequested,
    MigrateRequested,
    OperationRequested,
    ResourcesOpenRequested,
    SnapshotActionRequested,
    SriovOpenRequested,
    XmlRequested,
)
from vmtui.widgets.fitting_footer import FittingFooter
from vmtui.widgets.metric_graph import MetricGraph
from vmtui.widgets.refusals import Refusals, explained

BAR_WIDTH = 30


def bar(pct: float | None, width: int = BAR_WIDTH) -> Text:
    """A horizontal bar for 0-100 %."""
    if pct is None:
        return Text("·" * width, "dim")
    filled = round(max(0.0, min(100.0, pct)) / 100 * width)
    return Text("█" * filled, "green") + Text("░" * (width - filled), "dim")


VCPU_COLUMNS = ("vCPU", "%", "steal%", "exits/s")
"""The vCPU table's titles besides the bar's; each as wide as its figures ("100.0", "12.3k")."""
VCPU_TEXT_WIDTH = sum(max(len(title), 5) for title in VCPU_COLUMNS) + 2 * len(VCPU_COLUMNS)
"""Cells the vCPU table needs besides its bar (two between columns): the bar gets the rest."""


def bar_width(room: int) -> int:
    """The vCPU bar in `room` cells (its half of the screen): 30 cells when there is room, never
    so wide that a title is folded or cut."""
    return max(4, min(BAR_WIDTH, room - VCPU_TEXT_WIDTH))


def vcpu_table(m: DomainMetrics | None, width: int = BAR_WIDTH) -> Table:
    table = Table(title="vCPUs", title_justify="left", box=None, expand=False, pad_edge=False)
    vcpu, cpu_pct, steal, exits = VCPU_COLUMNS
    table.add_column(vcpu, no_wrap=True)
    table.add_column("CPU", no_wrap=True)
    table.add_column(cpu_pct, justify="right", no_wrap=True)
    table.add_column(steal, justify="right", no_wrap=True)
    table.add_column(exits, justify="right", no_wrap=True)
    if m is None or not m.vcpus:
        table.add_row("-", bar(None, width), "-", "-", "-")
        return table
    for v in m.vcpus:
        steal_text = Text(pct(v.steal_pct), "bold red" if v.steal_pct and v.steal_pct >= 5 else "")
        table.add_row(str(v.index), bar(v.cpu_pct, width), pct(v.cpu_pct), steal_text, count(v.exits_per_s))
    return table


def exits_table(m: DomainMetrics | None) -> Table:
    table = Table(title="VM exits by reason (/s)", title_justify="left", box=None, pad_edge=False)
    table.add_column("reason")
    table.add_column("/s", justify="right")
    reasons = sorted((m.exits_by_reason if m else {}).items(), key=lambda kv: -kv[1])
    if not reasons:
        table.add_row(Text("none reported (TCG, or first sample)", "dim"), "")
    for reason, value in reasons[:12]:
        table.add_row(reason, count(value))
    return table


def findings_text(info: DomainInfo | None, m: DomainMetrics | None, view: HostView) -> Text:
    out = Text("Why does it cost what it costs?\n", "bold")
    if info is None:
        return out + Text("no XML facts for this domain yet", "dim")
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
        table.add_row(
            d.kind,
            Text(present.printable(d.name)),
            Text(d.model),
            device_class_text(d.dev_class),
            Text(present.printable(d.detail)),
        )
    return table


def _check_restore(values: Values) -> None:
    check_domain_name(values["name"])
    if values["pool"]:
        check_ref_name("pool", values["pool"])


class DomainScreen(Refusals, Screen[None]):
    """Details of one domain, refreshed from every sample of its host. Reads the fleet; posts requests."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        *ACTION_BINDINGS,
        *DEVICE_BINDINGS,
        *TOOL_BINDINGS,
        *HOST_BINDINGS,
        *CLONE_BINDINGS,
        *explained(
            Binding("e", "edit", "Edit XML", show=False),
            Binding("n", "snapshot('create')", "Snapshot", show=False),
            Binding("R", "snapshot('revert')", "Revert", show=False),
            Binding("D", "snapshot('delete')", "Del snapshot", show=False),
            Binding("A", "autostart", "Autostart", show=False),
            Binding("K", "backup", "Back up", tooltip="Back up (incremental when it can)", show=False),
            Binding("O", "restore", "Restore", tooltip="Restore a backup as a new domain", show=False),
            Binding("ctrl+t", "template", "Template", tooltip="Template mark on / off (asks first)", show=False),
            Binding("delete", "delete_domain", "Delete", tooltip="Delete the domain (asks: its volumes)", show=False),
        ),
    ]

    CLI_OPTIONS: ClassVar[dict[str, str]] = {
        "edit": "key e",
        "snapshot create": "key n",
        "snapshot revert": "key R",
        "snapshot delete": "key D",
        "autostart": "key A",
        "backup create": "key K",
        "backup restore": "key O",
        "backup restore --as": "key O",
        "backup restore --pool": "key O: #form-pool",
        "clone": "key Y",
        "delete": "key delete",
        "template": "key ctrl+t",
        "template --unset": "key ctrl+t on a template",
    }
    """The CLI commands and options this screen's keys stand for (tests/unit/test_parity.py reads them)."""

    def __init__(self, uuid: str, fleet: Fleet, *, host: str | None = None) -> None:
        super().__init__()
        self.uuid = uuid
        self.fleet = fleet
        self.host = host
        """The copy opened (its row's host), when one UUID runs on two hosts; it follows a migration."""
        self.snapshots: tuple[Snapshot, ...] = ()
        """As last listed by the app (`show_snapshots`), oldest first."""
        self.backups: tuple[Backup, ...] = ()
        """As last read from the host's backup folder with the guest's facts, oldest first."""

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        with VerticalScroll(id="domain-body"):
            yield Static(id="summary")
            if self._live_host() is not None:
                yield GuestPanel(id="guest")
            yield Static("Snapshots", id="snapshots-title")
            yield DataTable(id="snapshots", cursor_type="row", show_cursor=True)
            if self._live_host() is not None:
                yield Static("Backups: loading…", id="backups-title")
                yield DataTable(id="backups", cursor_type="row", show_cursor=True)
            with Horizontal(id="cpu-row"):
                yield Static(id="vcpus")
                yield Static(id="exits")
            with Grid(id="graphs"):
                yield MetricGraph("CPU %", lambda v: f"{v:.1f}%", id="g-cpu")
                yield MetricGraph("Overhead %", lambda v: f"{v:.1f}%", id="g-overhead")
                yield MetricGraph("IO (disk+net)", rate, id="g-io")
                yield MetricGraph("Memory", size_kib, id="g-mem")
            yield Static(id="findings")
            yield Static(id="devices")
        yield FittingFooter()

    def on_mount(self) -> None:
        table = self.query_one("#snapshots", DataTable)
        for col in ("", "name", "created", "state", "location", "memory", "description"):
            table.add_column(col, key=col or "current")
        if self.query("#backups"):
            backups = self.query_one("#backups", DataTable)
            for col in ("id", "kind", "parent", "taken", "size", "consistency"):
                backups.add_column(col, key=col)
            backups.display = False
        self.refresh_data()
        self.show_snapshots(None, "loading…")
        self.post_message(SnapshotActionRequested(self.uuid, "list", None))
        # The guest's facts: asked at once and every REFRESH_SECONDS while the screen is open.
        if self._live_host() is not None:
            self.refetch()
            self.set_interval(REFRESH_SECONDS, self.refetch)

    def show_snapshots(self, snapshots: tuple[Snapshot, ...] | None, note: str = "") -> None:
        """Fill the panel (called by the app with a fresh list, or a note while there is none)."""
        if not self.query("#snapshots"):
            return
        table = self.query_one("#snapshots", DataTable)
        title = self.query_one("#snapshots-title", Static)
        if snapshots is None:
            title.update(Text(f"Snapshots: {present.printable(note)}"))
            table.display = False
            return
        self.snapshots = snapshots
        cursor = table.cursor_row
        table.clear()
        for snap in snapshots:
            table.add_row(
                "*" if snap.current else "",
                Text(present.printable(snap.name)),
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snap.created)),
                snap.state,
                snap.location,
                "yes" if snap.memory else "no",
                Text(present.printable(snap.description)),
                key=snap.name,
            )
        table.display = bool(snapshots)
        if snapshots:
            table.move_cursor(row=min(cursor, len(snapshots) - 1))
        how = "n takes one" if not snapshots else "tab to choose; R reverts, D deletes (both ask first)"
        title.update(Text(f"Snapshots ({len(snapshots)}): {note or how}"))

    def highlighted_snapshot(self) -> Snapshot | None:
        table = self.query_one("#snapshots", DataTable)
        if not self.snapshots or not 0 <= table.cursor_row < len(self.snapshots):
            return None
        return self.snapshots[table.cursor_row]

    def on_resize(self) -> None:
        self.refresh_data()

    def selected_uuid(self) -> str | None:
        return self.uuid

    def _found(self) -> tuple[HostView, DomainInfo | None, DomainMetrics | None] | None:
        """The copy shown: the opened host's, else wherever the domain is now (it migrated)."""
        return (self.fleet.find(self.uuid, self.host) if self.host else None) or self.fleet.find(self.uuid)

    def sample_arrived(self, host: str, uuids: Collection[str]) -> None:
        """`vmtui.screens.live.LiveScreen`: data of these domains changed."""
        if self.uuid in uuids:
            self.refresh_data()

    def refresh_data(self) -> None:
        """Re-render from the fleet state (called on mount and for each sample of this domain's host)."""
        if not self.query("#summary"):
            return  # the app is closing and has already removed this screen's widgets
        found = self._found()
        if found is None:
            self.query_one("#summary", Static).update(Text(f"domain {self.uuid} is gone", "bold red"))
            return
        view, info, m = found
        name = self.fleet.name_of(self.uuid)
        self.title = present.printable(f"{name} on {view.name}")
        summary = Text()
        summary.append(present.printable(name), "bold")
        state = self.fleet.shown_state(self.uuid, view.name)
        summary.append("  ")
        summary.append_text(state_text(state))
        summary.append(f"  on {view.name}")
        stale = self.fleet.stale_since(view)
        if stale is not None:
            summary.append(f"  (stale since {present.clock(stale)}: host {view.status})", "bold red")
        if info:
            summary.append(f"  {info.accelerator}  {info.vcpus} vCPU  {info.machine}")
            summary.append(f"  mem {size_kib(info.memory_kib)}/{size_kib(info.max_memory_kib)}")
            balloon = info.balloon_model or "absent"
            summary.append(f"  balloon {balloon}", "dim")
        if m is not None:
            summary.append(
                f"\nCPU {pct_sign(m.cpu_pct)}  guest {pct_sign(m.cpu_guest_pct)}  overhead {pct_sign(m.overhead_pct)}"
            )
            summary.append(f"  steal {pct_sign(m.steal_pct)}  exits/s {count(m.exits_per_s)}")
            summary.append(f"  disk r/w {rate(m.disk_read_bps)} / {rate(m.disk_write_bps)}")
            summary.append(f"  net rx/tx {rate(m.net_rx_bps)} / {rate(m.net_tx_bps)}")
        self.query_one("#summary", Static).update(summary)
        vcpus = self.query_one("#vcpus", Static)
        vcpus.update(vcpu_table(m, bar_width(vcpus.content_region.width or self.size.width // 2)))
        self.query_one("#exits", Static).update(exits_table(m))
        self.query_one("#findings", Static).update(findings_text(info, m, view))
        self.query_one("#devices", Static).update(devices_table(info))
        history = list(self.fleet.history.get(self.uuid, ()))
        self.query_one("#g-cpu", MetricGraph).show([p.cpu for p in history])
        self.query_one("#g-overhead", MetricGraph).show([p.overhead for p in history])
        self.query_one("#g-io", MetricGraph).show([p.io_bps for p in history])
        self.query_one("#g-mem", MetricGraph).show([p.memory_kib for p in history])

    def action_lifecycle(self, action: str) -> None:
        found = self._found()
        self.post_message(ActionRequested(self.uuid, action, found[0].name if found else None))

    def action_devices(self) -> None:
        self.post_message(DevicesOpenRequested(self.uuid))

    def action_sriov(self) -> None:
        found = self._found()
        if found is not None:
            self.post_message(SriovOpenRequested(found[0].name))

    def action_console(self) -> None:
        self.post_message(ConsoleRequested(self.uuid))

    def action_xml(self) -> None:
        self.post_message(XmlRequested(self.uuid))

    def action_edit(self) -> None:
        self.post_message(EditRequested(self.uuid))

    def action_snapshot(self, action: str) -> None:
        if action == "create":

            def named(name: str | None) -> None:
                if name:
                    self.post_message(SnapshotActionRequested(self.uuid, "create", name))

            default = time.strftime("snap-%Y%m%d-%H%M%S")
            self.app.push_screen(PromptModal("Name of the new snapshot:", default, check_name), named)
            return
        snap = self.highlighted_snapshot()
        if snap is not None:
            self.post_message(SnapshotActionRequested(self.uuid, action, snap.name))

    def action_migrate(self) -> None:
        self.post_message(MigrateRequested(self.uuid))

    def action_memory(self) -> None:
        """The memory screen of the host this domain runs on, its cursor on this domain (as M on its row in
        the dashboard): `B` there balloons the guest under the cursor."""
        found = self._found()
        if found is not None:
            self.post_message(MemoryOpenRequested(found[0].name, self.uuid))

    def action_resources(self, kind: str) -> None:
        found = self._found()
        if found is not None:
            self.post_message(ResourcesOpenRequested(found[0].name, kind))

    def refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        found = self._found()
        if action in ("edit", "snapshot", "autostart", "memory", "resources") and found is None:
            return "the domain is gone"
        if action in ("memory", "resources"):
            return host_refusal(self.fleet, found[0].name if found else None)
        if action == "edit":
            return self.fleet.tool_refusal(self.uuid)
        if action == "snapshot" and parameters:
            why = self.fleet.tool_refusal(self.uuid)
            if why is None and parameters[0] != "create" and not self.snapshots:
                why = "no snapshot listed"
            return why
        if action in ("template", "delete_domain"):
            if action == "template":
                return template_refusal(self.fleet, self.uuid)
            return self.fleet.tool_refusal(self.uuid)
        if action in ("backup", "restore"):
            why = self.fleet.tool_refusal(self.uuid, running=action == "backup")
            if why is None and self._live_host() is None:
                why = "a recording has no backups"
            if why is None and action == "restore" and self.highlighted_backup() is None:
                why = "no backup listed"
            return why
        if action == "autostart":
            facts = self._facts()
            why = self.fleet.write_refusal(found[0]) if found is not None else None
            if why is None and (facts is None or facts.autostart is None):
                why = "its autostart setting is not known yet"
            return why
        return domain_refusal(self.fleet, self.uuid, action, parameters, found[0].name if found else None)

    # ----- guest facts: fetched by the app off the loop; autostart as a job ---------------------------

    def _live_host(self) -> str | None:
        """The domain's host, unless it is a recording (which has no guest to ask)."""
        found = self._found()
        return found[0].name if found is not None and not found[0].recorded else None

    @property
    def fetch_key(self) -> str:
        return f"guest:{self.uuid}"

    def refetch(self) -> None:
        """Ask again (on mount, every REFRESH_SECONDS, after a job: saved, started, autostart)."""
        host, uuid = self._live_host(), self.uuid
        if host is not None:
            self.post_message(FetchRequested(host, self.fetch_key, lambda conn: guest_and_backups(conn, uuid)))

    def show_data(self, message: DataFetched) -> None:
        value = message.value
        facts = value.facts if isinstance(value, GuestAndBackups) else None
        for panel in self.query(GuestPanel):
            panel.show(facts, message.error)
        if isinstance(value, GuestAndBackups):
            self.show_backups(value.backups, value.backups_note)
        self.refresh_bindings()

    def show_backups(self, backups: tuple[Backup, ...], note: str) -> None:
        if not self.query("#backups"):
            return
        table = self.query_one("#backups", DataTable)
        self.backups = backups
        cursor = table.cursor_row
        table.clear()
        for b in backups:
            taken = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(b.started))
            table.add_row(
                b.id,
                b.kind,
                b.parent or "-",
                taken,
                present.size(b.size),
                Text(present.printable(b.consistency)),
                key=b.id,
            )
        table.display = bool(backups)
        if backups:
            table.move_cursor(row=min(max(cursor, 0), len(backups) - 1))
        how = note or ("K backs up" if not backups else "K backs up (incremental on the last); O restores as new")
        self.query_one("#backups-title", Static).update(Text(f"Backups ({len(backups)}): {present.printable(how)}"))

    def highlighted_backup(self) -> Backup | None:
        if not self.query("#backups") or not self.backups:
            return None
        row = self.query_one("#backups", DataTable).cursor_row
        return self.backups[row] if 0 <= row < len(self.backups) else None

    def action_backup(self) -> None:
        host = self._live_host()
        if host is None:
            return
        uuid = self.uuid
        self.post_message(
            OperationRequested(
                host,
                uuid,
                f"Back up {self.fleet.name_of(uuid)}",
                lambda conn, progress, cancel: take_backup(
                    live_host(conn), backup_store(conn.uri), uuid, root=default_root(), incremental=None,
                    progress=progress, cancel=cancel,
                ),
                pending="backing up…",
            )
        )  # fmt: skip

    def action_restore(self) -> None:
        host, backup = self._live_host(), self.highlighted_backup()
        if host is None or backup is None:
            return

        def named(values: Values | None) -> None:
            if not values:
                return
            name, pool = values["name"], values["pool"] or None
            self.post_message(
                OperationRequested(
                    host,
                    None,
                    f"Restore {backup.domain} from {backup.id} as {name}",
                    lambda conn, progress, cancel: restore_as_new(
                        conn, backup, name, pool=pool, progress=progress, cancel=cancel
                    ),
                    pending="restoring…",
                )
            )

        default = f"{backup.domain}-{backup.id.split('-')[0].lower()}"
        fields = (
            FormField("name", "Name of the new domain", value=default),
            FormField("pool", "Storage pool for its disks (empty: the pool each backed-up disk was in)"),
        )
        title = f"Restore backup {backup.id} as a new domain"
        self.app.push_screen(FormModal(title, fields, _check_restore), named)

    def _facts(self) -> GuestFacts | None:
        panels = self.query(GuestPanel)
        return panels.first().facts if panels else None

    def action_autostart(self) -> None:
        host, facts = self._live_host(), self._facts()
        if host is None or facts is None or facts.autostart is None:
            return
        uuid, on = self.uuid, not facts.autostart
        self.post_message(
            OperationRequested(
                host,
                uuid,
                f"Autostart {'on' if on else 'off'} for {self.fleet.name_of(uuid)}",
                lambda conn, progress, cancel: set_autostart(
                    conn, "domain", uuid, on, progress=progress, cancel=cancel
                ),
                pending=f"autostart {'on' if on else 'off'}…",
            )
        )

    # ----- clone, template mark, delete: forms and questions first, then a job ------------------------

    def action_clone(self) -> None:
        ask_clone(self, self.fleet, self.uuid, self.host)

    def action_template(self) -> None:
        found = self._found()
        if found is None or found[1] is None:
            return
        uuid, name, on = self.uuid, found[1].name, not found[1].template
        question = (
            f"Mark {name} as a template? It is never started again; Y clones it (linked clones share its volumes)."
            if on
            else f"Clear the template mark of {name}? It can be started again (refused while linked clones use it)."
        )
        self.post_message(
            OperationRequested(
                found[0].name,
                uuid,
                f"{'Mark' if on else 'Unmark'} {name} as a template",
                lambda conn, progress, cancel: mark_template(
                    conn, uuid, on=on, host=found[0].name, progress=progress, cancel=cancel
                ),
                question,
                pending="marking…" if on else "unmarking…",
            )
        )

    def action_delete_domain(self) -> None:
        found = self._found()
        if found is None:
            return
        host, uuid = found[0].name, self.uuid
        form = DeleteForm(host, uuid, self.fleet.name_of(uuid))

        def answered(values: Values | None) -> None:
            if values is None:
                return
            plan = form.plan(values)
            self.post_message(
                OperationRequested(
                    host,
                    uuid,
                    f"Delete {plan.undefine.facts.name}",
                    lambda conn, progress, cancel: delete(conn, plan, progress=progress, cancel=cancel),
                    pending="deleting…",
                )
            )

        self.app.push_screen(form, answered)
