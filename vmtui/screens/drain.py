"""A host's drain in the TUI: the plan's lines (for the confirmation), then every guest's progress.

The screen reads what the app hands it (the plan, the job's steps, the summary) and posts its abort
up; it never imports the app. Names and libvirt's words are shown as `Text` (never markup).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from vmtui.errors import UsageError
from vmtui.ops.base import Step
from vmtui.ops.drain import PARALLEL_DEFAULT, DrainPlan, DrainSummary, GuestPlan, validate_parallel
from vmtui.ops.migrate import MigrationOptions
from vmtui.present import bar_cells, ms, one_line, seconds, size_kib
from vmtui.screens.form import FormCheck, FormField, FormModal, Values, whole_number
from vmtui.tui.messages import DrainAbortRequested
from vmtui.widgets.refusals import Refusals, explained

BAR = 20
"""Cells of each guest's bar."""


def plan_line(guest: GuestPlan) -> str:
    """One guest of the plan, as the confirmation lists it."""
    head = f"{guest.domain} ({guest.state}, {size_kib(guest.memory_kib)})"
    if guest.action == "move":
        fc = guest.forecast
        when = "" if fc is None else f", about {seconds(fc.seconds)}, downtime {ms(fc.downtime_ms)}"
        return f"{head} -> {guest.target}{when}"
    if guest.action == "stays":
        return f"{head}: stays ({one_line(guest.reason, 120)})"
    return f"{head}: CANNOT MOVE: {one_line(guest.reason, 240)}"


def plan_lines(plan: DrainPlan) -> list[str]:
    total = plan.forecast_seconds
    lines = [plan_line(g) for g in plan.guests] or ["no guests"]
    lines += [f"target {host} unreachable: {one_line(why, 160)}" for host, why in plan.unreachable]
    if plan.moving:
        lines.append(f"{len(plan.moving)} to move, {plan.parallel} at once, about {seconds(total)} in all; "
                     "the host stays in maintenance until undrained")  # fmt: skip
    return lines


@dataclass(frozen=True, slots=True)
class DrainChoice:
    """How to drain, as the CLI's `host drain` options say it: where to, how many at once, and how."""

    targets: tuple[str, ...]
    parallel: int
    options: MigrationOptions


class DrainForm(FormModal[DrainChoice]):
    """Before the plan: the targets, migrations at once, copy-storage and the bandwidth cap (checked here,
    the error in place). The plan's confirmation that follows is the CLI's --dry-run."""

    PART_ID: ClassVar[str] = "form"
    FIELD_ID: ClassVar[str] = "drain"
    OK_BUTTON: ClassVar[tuple[str, str]] = ("Plan", "plan")
    CLI_OPTIONS: ClassVar[dict[str, str]] = {
        "host drain --to": "#drain-to",
        "host drain --parallel": "#drain-parallel",
        "host drain --copy-storage": "#drain-copy_storage",
        "host drain --bandwidth": "#drain-bandwidth",
    }
    """The CLI's options this form's widgets stand for (tests/unit/test_parity.py reads them)."""

    def __init__(self, host: str, candidates: Sequence[str]) -> None:
        self.candidates = tuple(candidates)
        fields = (
            FormField("to", f"Targets (empty: all of {', '.join(self.candidates)})", "host names, space-separated"),
            FormField("parallel", "Migrations at once", value=str(PARALLEL_DEFAULT)),
            FormField("bandwidth", "Bandwidth cap per migration, MiB/s", "unlimited"),
            FormCheck("copy_storage", "copy disks the target does not share"),
        )
        super().__init__(f"Drain {host}", fields)

    def accept(self, values: Values) -> DrainChoice:
        names = tuple(dict.fromkeys(values["to"].replace(",", " ").split()))
        for name in names:
            if name not in self.candidates:
                raise UsageError(f"{name}: not a target now (read-only, down, in maintenance or the host itself)")
        parallel = whole_number("migrations at once", values["parallel"])
        if parallel is None:
            raise UsageError("migrations at once: a number is needed")
        validate_parallel(parallel)
        options = MigrationOptions(
            bandwidth_mib_s=whole_number("bandwidth", values["bandwidth"]), copy_storage=self.checked("copy_storage")
        )
        options.validate()
        return DrainChoice(names or self.candidates, parallel, options)


class DrainScreen(Refusals, ModalScreen[None]):
    """Every moving guest's bar (never backwards), the drain's own with its ETA, and each guest's end."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *explained(Binding("x", "abort", "Abort drain")),
        Binding("escape", "app.pop_screen", "Hide (it goes on)"),
    ]

    def __init__(self, job_id: int, plan: DrainPlan) -> None:
        super().__init__()
        self.job_id = job_id
        self.plan = plan
        self.fractions: dict[str, float] = {g.uuid: 0.0 for g in plan.moving}
        self.states: dict[str, str] = {g.uuid: "queued" for g in plan.moving}
        self.overall = "starting"
        self.ended: str | None = None
        self.log_lines: list[Text] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="drain-box"):
            yield Label(Text(f"Drain {self.plan.host}", "bold"), id="drain-title")
            yield Static(id="drain-guests")
            with VerticalScroll(id="drain-log"):
                yield Static(id="drain-lines")
        yield Footer()

    def on_mount(self) -> None:
        self._draw()

    def show_step(self, step: Step) -> None:
        data: Mapping[str, Any] = step.data
        kind = data.get("type")
        uuid = str(data.get("uuid", ""))
        if kind == "drain":
            eta = data.get("eta_s")
            self.overall = f"{data.get('done')}/{data.get('total')} done, " + (
                "ETA unknown" if eta is None else f"about {seconds(eta)} left"
            )
        elif kind == "progress" and uuid in self.fractions:
            self.fractions[uuid] = max(self.fractions[uuid], step.fraction or 0.0)
            self.states[uuid] = one_line(step.text.split(": ", 1)[-1], 60)
        elif kind == "phase" and uuid in self.states:
            self.states[uuid] = str(data.get("phase"))
        elif kind == "guest-end" and uuid in self.states:
            self.states[uuid] = str(data.get("outcome"))
            if data.get("outcome") == "moved":
                self.fractions[uuid] = 1.0
            self._log(Text(one_line(step.text), "green" if data.get("outcome") == "moved" else "bold red"))
        elif kind == "policy":
            self._log(Text(one_line(step.text), "cyan"))
        else:
            return
        self._draw()

    def show_end(self, summary: DrainSummary | None, message: str) -> None:
        self.ended = "over"
        if summary is not None:
            self.overall = (f"{summary.count('moved')} moved in {seconds(summary.seconds)}, "
                            f"{len(summary.plan.moving) - summary.count('moved')} not")  # fmt: skip
            for o in summary.outcomes:
                if o.outcome not in ("moved", "stays"):
                    self._log(Text(f"{o.domain}: {o.outcome}: {one_line(o.message, 300)}", "yellow"))
        else:
            self._log(Text(one_line(message), "bold red"))
        self._draw()
        self.refresh_bindings()

    def _draw(self) -> None:
        if not self.query("#drain-guests"):
            return
        out = Text(f"{self.overall}\n", "bold")
        for g in self.plan.moving:
            filled = bar_cells(self.fractions[g.uuid], BAR) or 0
            out.append(f"{one_line(g.domain, 30):<30} -> {one_line(g.target or '', 12):<12} ")
            out.append("━" * filled, "green")
            out.append("━" * (BAR - filled), "dim")
            out.append(f" {self.fractions[g.uuid] * 100:5.1f} % {self.states[g.uuid]}\n")
        for g in self.plan.guests:
            if g.action != "move":
                out.append(plan_line(g) + "\n", "dim" if g.action == "stays" else "red")
        self.query_one("#drain-guests", Static).update(out)

    def _log(self, line: Text) -> None:
        self.log_lines.append(line)
        if self.query("#drain-lines"):
            self.query_one("#drain-lines", Static).update(Text("\n").join(self.log_lines[-200:]))

    def refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action == "abort" and self.ended is not None:
            return "the drain is over"
        return None

    def action_abort(self) -> None:
        self.post_message(DrainAbortRequested(self.job_id))
