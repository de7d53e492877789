"""Migration in the TUI: a modal to pick the target (with each host's pre-checks), then a progress view.

Both read what the app hands them (reports, steps) and post requests up; neither imports the app.
Host names, reasons and libvirt's messages are shown as `Text` (never markup).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Input, Label, ProgressBar, Static

from vmtui.errors import UsageError
from vmtui.ops.base import Step
from vmtui.ops.migrate import MigrationOptions
from vmtui.ops.migrate.policy import DOWNTIME_STEPS_MS
from vmtui.ops.migrate.precheck import PrecheckReport
from vmtui.present import counted, ms, one_line, rate, seconds, size, size_kib
from vmtui.tui.messages import MigrationAbortRequested
from vmtui.widgets.fitting_footer import FittingFooter
from vmtui.widgets.refusals import Refusals, explained, moved
from vmtui.widgets.tick_box import TickBox

REASON_MIN = 12
"""The first reason's column is never narrower than this (a very narrow terminal scrolls sideways)."""
WHY_LIMIT = 600
"""A reason under the table is cut only past this many characters (a list of every disk, say)."""
MARK = {"ok": ("ok", "green"), "warn": ("ok (warnings)", "yellow"), "fail": ("refused", "bold red")}


@dataclass(frozen=True, slots=True)
class MigrateChoice:
    """What the modal hands back: where to, and how."""

    target: str
    options: MigrationOptions


class MigrateModal(ModalScreen[MigrateChoice | None]):
    """Pick a target host; each row fills in with that host's pre-check results as they arrive."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "migrate", "Migrate", priority=True),
    ]
    CLI_OPTIONS: ClassVar[dict[str, str]] = {
        "migrate start --postcopy": "#opt-postcopy",
        "migrate start --auto-converge": "#opt-autoconverge",
        "migrate start --compressed": "#opt-compressed",
        "migrate start --temporary": "#opt-temporary",
        "migrate start --copy-storage": "#opt-copy-storage",
        "migrate start --tunnelled": "#opt-tunnelled",
        "migrate start --no-stall-policy": "#opt-stall-policy",
        "migrate start --bandwidth": "#opt-bandwidth",
        "migrate start --max-downtime": "#opt-max-downtime",
        "migrate start --parallel": "#opt-parallel",
    }
    """The CLI's options this dialog's widgets stand for (tests/unit/test_parity.py reads them)."""

    def __init__(
        self, name: str, source: str, targets: list[str], recheck: Callable[[bool], object] | None = None
    ) -> None:
        """`recheck(copy_storage)`: run the pre-checks again (the storage check depends on copy-storage);
        the reports then come to `show_report` as before."""
        super().__init__()
        self.domain_name = name
        self.source = source
        self.targets = targets
        self.reports: dict[str, PrecheckReport] = {}
        self._recheck = recheck

    def compose(self) -> ComposeResult:
        with Vertical(id="migrate-box"):
            yield Label(Text.assemble("Migrate ", (self.domain_name, "bold"), f" from {self.source} to:"))
            yield DataTable(id="migrate-hosts", cursor_type="row")
            yield Static(id="migrate-why")
            # Compact (one line each, no borders): the whole dialog fits an 80x24 terminal.
            with Horizontal(id="migrate-options"):
                yield TickBox("post-copy on stall", id="opt-postcopy", compact=True)
                yield TickBox("auto-converge", id="opt-autoconverge", compact=True)
                yield TickBox("compressed", id="opt-compressed", compact=True)
                yield TickBox("temporary", id="opt-temporary", compact=True)
            with Horizontal(id="migrate-options-2"):
                yield TickBox("copy storage", id="opt-copy-storage", compact=True)
                yield TickBox("tunnelled", id="opt-tunnelled", compact=True)
                # On by default, as in the CLI (where --no-stall-policy turns it off).
                yield TickBox("stall policy", True, id="opt-stall-policy", compact=True)
            with Horizontal(id="migrate-bandwidth"):
                yield Label("bandwidth MiB/s ")
                yield Input(placeholder="unlimited", id="opt-bandwidth", restrict=r"[0-9]*", compact=True)
                yield Label(" max downtime ms ")
                yield Input(value=str(DOWNTIME_STEPS_MS[0]), id="opt-max-downtime", restrict=r"[0-9]*", compact=True)
                yield Label(" parallel ")
                yield Input(placeholder="off", id="opt-parallel", restrict=r"[0-9]*", compact=True)
            yield Static(id="migrate-error")
            with Horizontal(id="migrate-buttons"):
                yield Button("Migrate (enter)", variant="primary", id="go", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)
        yield FittingFooter()

    def on_mount(self) -> None:
        table = self.query_one("#migrate-hosts", DataTable)
        # Fixed widths, known before the reports come: the first reason gets the rest (`show_report`).
        table.add_column("host", width=max([4, *(cell_len(h) for h in self.targets)]))
        table.add_column("pre-checks", width=max(cell_len(word) for word, _style in MARK.values()))
        table.add_column("free memory", width=11)
        table.add_column("first reason")
        for host in self.targets:
            table.add_row(Text(host), Text("checking…", "dim"), "", "", key=host)
        table.focus()

    def show_report(self, host: str, report: PrecheckReport) -> None:
        """A host's pre-checks are in (called by the app from the job's progress)."""
        self.reports[host] = report
        tables = self.query("#migrate-hosts")
        if not tables or host not in self.targets:
            return
        table = self.query_one("#migrate-hosts", DataTable)
        worst = "fail" if not report.ok else ("warn" if any(c.status == "warn" for c in report.checks) else "ok")
        word, style = MARK[worst]
        first = next((c for c in report.checks if c.status == worst), None) if worst != "ok" else None
        columns = table.ordered_columns
        table.update_cell(host, columns[1].key, Text(word, style))
        table.update_cell(host, columns[2].key, size_kib(report.memory_available_kib))
        # The reason gets what the other columns leave (each cell is padded by one on either side); the
        # whole of it is under the table, for the highlighted host.
        room = table.scrollable_content_region.width - sum(c.get_render_width(table) for c in columns[:3]) - 2
        reason = one_line(first.reason, max(REASON_MIN, room)) if first else ""
        table.update_cell(host, columns[3].key, Text(reason), update_width=True)
        self._show_why()

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_why()

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_migrate()

    def _highlighted(self) -> str | None:
        table = self.query_one("#migrate-hosts", DataTable)
        if not self.targets or table.cursor_row < 0:
            return None
        return self.targets[min(table.cursor_row, len(self.targets) - 1)]

    def _show_why(self) -> None:
        host = self._highlighted()
        report = self.reports.get(host) if host else None
        text = Text()
        if report is not None:
            for check in report.checks:
                if check.status in ("fail", "warn", "skipped"):
                    text.append(f"{check.label}: ", "bold red" if check.status == "fail" else "yellow")
                    # Whole, wrapped by the Static: the column above is the one that cuts.
                    text.append(one_line(check.reason, WHY_LIMIT) + "\n")
        self.query_one("#migrate-why", Static).update(text)

    def _number(self, selector: str) -> int | None:
        raw = self.query_one(selector, Input).value.strip()
        return int(raw) if raw else None

    def _ticked(self, selector: str) -> bool:
        return self.query_one(selector, Checkbox).value

    def _options(self) -> MigrationOptions:
        downtime = self._number("#opt-max-downtime")
        options = MigrationOptions(
            bandwidth_mib_s=self._number("#opt-bandwidth"),
            max_downtime_ms=DOWNTIME_STEPS_MS[0] if downtime is None else downtime,
            postcopy=self._ticked("#opt-postcopy"),
            auto_converge=self._ticked("#opt-autoconverge"),
            compressed=self._ticked("#opt-compressed"),
            temporary=self._ticked("#opt-temporary"),
            copy_storage=self._ticked("#opt-copy-storage"),
            tunnelled=self._ticked("#opt-tunnelled"),
            stall_policy=self._ticked("#opt-stall-policy"),
            parallel=self._number("#opt-parallel"),
        )
        options.validate()
        return options

    def on_input_changed(self, _event: Input.Changed) -> None:
        self._show_invalid()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self._show_invalid()
        if event.checkbox.id == "opt-copy-storage" and self._recheck is not None:
            # The storage pre-check depends on it: every host's rows are checked again.
            self.reports.clear()
            table = self.query_one("#migrate-hosts", DataTable)
            columns = table.ordered_columns
            for host in self.targets:
                table.update_cell(host, columns[1].key, Text("checking…", "dim"))
                table.update_cell(host, columns[2].key, "")
                table.update_cell(host, columns[3].key, "")
            self._show_why()
            self._recheck(event.value)

    def _show_invalid(self) -> None:
        """A combination `MigrationOptions.validate` refuses is said at once, under the options."""
        error = self.query_one("#migrate-error", Static)
        try:
            self._options()
        except UsageError as exc:
            error.update(Text(exc.message, "bold red"))
            return
        error.update("")

    def action_migrate(self) -> None:
        host = self._highlighted()
        error = self.query_one("#migrate-error", Static)
        report = self.reports.get(host) if host else None
        if host is None:
            return
        if report is None:
            error.update(Text(f"{host}: the pre-checks are still running", "yellow"))
            return
        if not report.ok:
            error.update(Text(f"{host}: refused by the pre-checks (see above)", "bold red"))
            return
        try:
            options = self._options()
        except UsageError as exc:
            error.update(Text(exc.message, "bold red"))
            return
        self.dismiss(MigrateChoice(host, options))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "go":
            self.action_migrate()
        else:
            self.action_cancel()


POLICY_WORDS = {"stalled": "stalled", "downtime": "max downtime raised", "postcopy": "post-copy", "abort": "aborting"}


class MigrationScreen(Refusals, ModalScreen[None]):
    """The progress of one migration job: a bar that never runs backwards, the figures, and the log."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *explained(Binding("x", "abort", "Abort migration")),
        moved("a", "x aborts the migration"),
        # One key, two meanings: while the job runs the screen only hides; once it ended it closes.
        Binding("escape", "hide", "Hide (it goes on)"),
        Binding("escape", "close", "Close"),
    ]
    CLI_OPTIONS: ClassVar[dict[str, str]] = {"migrate abort": "key x"}
    """The CLI command this view's key stands for (tests/unit/test_parity.py reads them)."""

    def __init__(self, job_id: int, title: str, last: Step | None = None) -> None:
        super().__init__()
        self.job_id = job_id
        self.heading = title
        self.log_lines: list[Text] = []
        self.ended: str | None = None
        self._last = last
        self._figures_shown = False
        """A progress step with figures came: the phase lines no longer take their place."""

    def compose(self) -> ComposeResult:
        with Vertical(id="migration-box"):
            yield Label(Text(self.heading, "bold"), id="migration-title")
            yield ProgressBar(total=1.0, show_eta=False, id="migration-bar")
            yield Static(id="migration-figures")
            with VerticalScroll(id="migration-log"):
                yield Static(id="migration-lines")
        yield FittingFooter()

    def on_mount(self) -> None:
        if self._last is not None:
            self.show_step(self._last)

    def show_step(self, step: Step) -> None:
        """A step of the job (called by the app for each JobProgressed of this job)."""
        if not self.query("#migration-bar"):
            return
        data: Mapping[str, Any] = step.data
        kind = data.get("type")
        if step.fraction is not None:
            self.query_one("#migration-bar", ProgressBar).update(progress=step.fraction)
        if kind == "progress":
            self._figures_shown = self._figures_shown or data.get("phase") != "setup"
            self.query_one("#migration-figures", Static).update(figures(data, step.text))
        elif not self._figures_shown and kind in PHASE_LINES:
            # Before the first figures: what the job does now, from the steps it already sent.
            self.query_one("#migration-figures", Static).update(Text(PHASE_LINES[kind](step), "dim"))
        if kind == "policy":
            self._log(Text.assemble((f"stall policy: {POLICY_WORDS.get(str(data.get('kind')), '?')} ", "cyan"),
                                    one_line(str(data.get("reason", "")))))  # fmt: skip
        elif kind in ("forecast", "phase", "precheck"):
            if kind != "precheck" or data.get("status") != "ok":
                self._log(Text(one_line(step.text), "dim" if kind == "phase" else ""))

    def show_end(self, ok: bool, message: str, result: object) -> None:
        """The job ended: its outcome, and the figures of the result."""
        summary = getattr(result, "to_json", None)
        body = summary() if callable(summary) else {}
        # An unknown end (the source stopped answering) is neither done nor failed: `migrate jobs` settles it.
        unknown = body.get("outcome") == "unknown"
        self.ended = "done" if ok else "unknown" if unknown else "failed"
        if not self.query("#migration-bar"):
            return
        line = Text(one_line(message), "bold green" if ok else "bold yellow" if unknown else "bold red")
        if body:
            line.append(f"\ntotal {seconds(body.get('seconds'))} · downtime {ms(body.get('downtime_ms'))} · ")
            passes = counted(body.get("iterations") or 0, "pass", "passes")
            line.append(f"{size(body.get('bytes_sent'))} sent · {passes}")
        if ok:
            self.query_one("#migration-bar", ProgressBar).update(progress=1.0)
        self._log(line)
        self.refresh_bindings()

    def _log(self, line: Text) -> None:
        self.log_lines.append(line)
        self.query_one("#migration-lines", Static).update(Text("\n").join(self.log_lines[-200:]))

    def refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action == "abort" and self.ended is not None:
            return f"the migration is over ({self.ended})"
        if action == "hide" and self.ended is not None:
            return "the migration is over: esc closes"
        if action == "close" and self.ended is None:
            return "the migration goes on: esc hides it"
        return None

    def action_abort(self) -> None:
        if self.ended is None:
            self.post_message(MigrationAbortRequested(self.job_id))
            self._log(Text("abort requested: the source keeps running", "yellow"))

    def action_hide(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


PHASE_LINES: dict[str, Callable[[Step], str]] = {
    "precheck": lambda step: f"pre-checks: {step.data.get('label', step.text)}…",
    "forecast": lambda step: "forecast made; starting the migration…",
    "phase": lambda step: (
        "setting up the target (its QEMU starts, the connections open)…"
        if step.data.get("phase") == "started"
        else f"{step.text}…"
    ),
}
"""What the figures line says before the first figures, by the kind of the last step."""

DOWNTIME_SHOWN_FACTOR = 10
"""The expected downtime is shown as a figure while within this factor of the max: QEMU switches over
once it fits the max, so a pause of minutes mid-pass is not a forecast of the downtime."""


def downtime_line(expected_ms: object, max_ms: object) -> str:
    """What the expected downtime (the pause if QEMU stopped the guest now) means beside the max."""
    if not isinstance(expected_ms, (int, float)):
        return ""
    if not isinstance(max_ms, (int, float)):
        return f"  expected downtime {ms(expected_ms)}"
    if expected_ms <= DOWNTIME_SHOWN_FACTOR * max_ms:
        return f"  expected downtime {ms(expected_ms)} (max {ms(max_ms)})"
    return f"  switch-over once the rest fits {ms(max_ms)} (it would take {seconds(expected_ms / 1000)} now)"


def figures(data: Mapping[str, Any], text: str) -> Text:
    """The figures of a progress step, one line each kind."""
    if data.get("phase") == "setup":
        elapsed = data.get("elapsed_s")
        after = f" {seconds(elapsed)}" if elapsed is not None else ""
        return Text(f"setting up the target (its QEMU starts, the connections open)…{after}", "dim")
    out = Text()
    out.append(f"pass {data.get('iteration') or 0}", "bold")
    if data.get("postcopy"):
        out.append("  post-copy", "cyan")
    out.append(f"  {size(data.get('data_remaining'))} of {size(data.get('data_total'))} left")
    out.append(f"  throughput {rate(data.get('throughput_bps'))}  dirty {rate(data.get('dirty_bps'))}")
    eta = data.get("eta_s")
    out.append(f"\nETA {seconds(eta) if eta is not None else 'unknown (not converging now)'}")
    out.append(downtime_line(data.get("expected_downtime_ms"), data.get("max_downtime_ms")))
    if data.get("throttle_pct"):
        out.append(f"  auto-converge throttle {data.get('throttle_pct')} %")
    out.append(f"  elapsed {seconds(data.get('elapsed_s'))}")
    return out
