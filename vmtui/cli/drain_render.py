"""Human output of `vmtui host drain`: the plan, every guest's progress with the drain's own, the summary.

Progress goes to stderr (one bar per moving guest and one for the whole drain, its ETA counting down;
the stall policy's steps and each guest's end printed above), plan and summary to stdout. Names and
libvirt's messages are always `Text` (`lit`), never markup.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import TaskID
from rich.table import Table
from rich.text import Text

from vmtui.cli.migrate_render import OUTCOME_STYLE, forecast_text, migration_bars, policy_text
from vmtui.ops.base import Step
from vmtui.ops.drain import DrainPlan, DrainSummary, GuestPlan
from vmtui.present import MISSING, ms, seconds, size_kib
from vmtui.richtext import lit

ACTION_STYLE = {"move": "green", "refused": "bold red", "stays": "dim"}
END_STYLE = {**OUTCOME_STYLE, "moved": "bold green", "refused": "bold red", "stays": "dim"}


def _forecast_cells(guest: GuestPlan) -> tuple[str, str]:
    fc = guest.forecast
    if fc is None:
        return MISSING, MISSING
    return seconds(fc.seconds), ms(fc.downtime_ms)


def plan_table(plan: DrainPlan) -> Table:
    total = plan.forecast_seconds
    title = f"Drain {plan.host}: {len(plan.moving)} to move, {plan.parallel} at once"
    title += f", about {seconds(total)} in all" if total is not None and plan.moving else ""
    table = Table(title=lit(title), title_justify="left")
    for col in ("GUEST", "STATE", "MEMORY", "ACTION", "TO", "TIME", "DOWNTIME", "WHY"):
        table.add_column(col, overflow="fold" if col == "WHY" else "ellipsis")
    for g in plan.guests:
        took, down = _forecast_cells(g)
        why = lit(forecast_text(g.forecast).plain if g.forecast else g.reason) if g.action == "move" else lit(g.reason)
        table.add_row(
            lit(g.domain), g.state, size_kib(g.memory_kib), Text(g.action, ACTION_STYLE.get(g.action, "")),
            lit(g.target or MISSING), took, down, why if g.action != "refused" else lit(g.reason, "red"),
        )  # fmt: skip
    for host, reason in plan.unreachable:
        table.add_row(lit(host), Text("unreachable target", "red"), "", "", "", "", "", lit(reason, "red"))
    return table


def summary_table(summary: DrainSummary) -> Table:
    moved = summary.count("moved")
    forecast = summary.plan.forecast_seconds
    title = f"Drain {summary.host}: {moved} moved in {seconds(summary.seconds)}"
    title += f" (forecast {seconds(forecast)})" if forecast is not None and summary.plan.moving else ""
    title += f"; {summary.host} is in maintenance until `vmtui host undrain {summary.host}`"
    table = Table(title=lit(title), title_justify="left")
    for col in ("GUEST", "RESULT", "TO", "TIME", "FORECAST", "DOWNTIME", "FORECAST DOWNTIME", "WHY"):
        table.add_column(col, overflow="fold" if col == "WHY" else "ellipsis")
    for o in summary.outcomes:
        table.add_row(
            lit(o.domain), Text(o.outcome, END_STYLE.get(o.outcome, "")), lit(o.target or MISSING),
            seconds(o.seconds), seconds(o.forecast_seconds), ms(o.downtime_ms), ms(o.forecast_downtime_ms),
            lit(o.message if o.outcome != "moved" else ""),
        )  # fmt: skip
    return table


class DrainPrinter:
    """Bars on stderr: the drain's (its ETA) and one per moving guest; policy steps and ends above them."""

    def __init__(self, plan: DrainPlan) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.progress = migration_bars(self.console, bar_width=24)
        self.overall: TaskID = self.progress.add_task(f"drain {plan.host}", total=1.0, detail="")
        self.guests: dict[str, TaskID] = {
            g.uuid: self.progress.add_task(f"  {g.domain} -> {g.target}", total=1.0, detail="queued")
            for g in plan.moving
        }

    def __enter__(self) -> DrainPrinter:
        self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.progress.stop()

    def __call__(self, step: Step) -> None:
        data = dict(step.data)
        kind = data.get("type")
        task = self.guests.get(str(data.get("uuid", "")))
        if kind == "drain":
            eta = data.get("eta_s")
            left = "ETA unknown" if eta is None else f"ETA {seconds(eta)}"
            self.progress.update(self.overall, completed=step.fraction or 0.0,
                                 detail=f"{data.get('done')}/{data.get('total')} done, {left}")  # fmt: skip
        elif kind == "progress" and task is not None:
            self.progress.update(task, completed=step.fraction or 0.0, detail=step.text.split(": ", 1)[-1])
        elif kind == "policy":
            self.console.print(lit(f"{data.get('domain')}: ").append_text(policy_text(data)))
        elif kind == "forecast":
            self.console.print(lit(f"{data.get('domain')}: ").append_text(forecast_text(data)))
        elif kind == "guest-end" and task is not None:
            outcome = str(data.get("outcome"))
            self.progress.update(task, completed=1.0 if outcome == "moved" else None, detail=outcome)
            self.console.print(lit(step.text, END_STYLE.get(outcome, "")))
        elif kind == "phase" and task is not None:
            self.progress.update(task, detail=str(data.get("phase")))
