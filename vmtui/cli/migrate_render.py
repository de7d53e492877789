"""Human output of `vmtui migrate`, `migrate history|jobs` and `place` (rich; JSON is built in the commands).

Progress goes to stderr (a rich progress bar, with the forecast and each step of the stall policy
printed above it), results to stdout. Names, URIs and libvirt's messages are always `Text`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from vmtui.cli.common import emit_json
from vmtui.ops.base import Step
from vmtui.ops.migrate import MigrationResult
from vmtui.ops.migrate.forecast import Forecast
from vmtui.ops.migrate.inflight import InflightJob
from vmtui.ops.place import Placement
from vmtui.present import MISSING, clock, counted, ms, pct_sign, rate, seconds, size, size_kib
from vmtui.richtext import lit

MARKS = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "bold red"), "skipped": ("-", "dim")}
POLICY_STYLE = {"stalled": "yellow", "downtime": "cyan", "postcopy": "bold cyan", "abort": "bold red"}
OUTCOME_STYLE = {
    "completed": "bold green", "checked": "green", "cancelled": "yellow", "failed": "bold red",
    "unknown": "bold yellow", "lost": "bold red",
}  # fmt: skip


def check_line(data: dict[str, Any]) -> Text:
    mark, style = MARKS.get(str(data.get("status")), ("?", ""))
    out = Text(f" {mark} ", style)
    out.append(str(data.get("label", "")), "bold" if data.get("status") == "fail" else "")
    out.append(": ")
    out.append_text(lit(str(data.get("reason", "")), "red" if data.get("status") == "fail" else ""))
    return out


def forecast_text(fc: Forecast | dict[str, Any]) -> Text:
    body = fc.to_json() if isinstance(fc, Forecast) else fc
    out = Text("forecast: ", "bold")
    style = {True: "green", False: "bold red", None: "yellow"}[body.get("converges")]
    out.append(str(body.get("verdict", "")), style)
    figures = f" (dirty {rate(body.get('dirty_bps'))} {body.get('dirty_source', '')}, "
    figures += f"bandwidth {rate(body.get('bandwidth_bps'))} {body.get('bandwidth_source', '')})"
    out.append(figures, "dim")
    return out


def policy_text(data: dict[str, Any]) -> Text:
    kind = str(data.get("kind", ""))
    out = Text(f"stall policy: {kind}", POLICY_STYLE.get(kind, "bold"))
    if kind == "downtime":
        out.append(f" -> {data.get('downtime_ms')} ms", "bold")
    out.append(" · ")
    out.append_text(lit(str(data.get("reason", "")), "dim"))
    return out


class JsonProgress:
    """`--json`: every step as one JSON line on stdout (`type`: precheck, forecast, phase, progress, policy)."""

    def __call__(self, step: Step) -> None:
        emit_json({"type": "step", **step.data, "text": step.text})


def migration_bars(console: Console, *, bar_width: int) -> Progress:
    """The bars of a migration (and of a drain's guests): name, bar, percent, time, and a detail field."""
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(bar_width=bar_width),
        TextColumn("{task.percentage:>5.1f} %"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}", markup=False),
        console=console,
    )


class ProgressPrinter:
    """A rich progress bar on stderr, with checks, the forecast and policy steps printed above it."""

    def __init__(self, label: str) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.progress = migration_bars(self.console, bar_width=30)
        self.label = label
        self.task: TaskID | None = None

    def __enter__(self) -> ProgressPrinter:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.task is not None:
            self.progress.stop()

    def __call__(self, step: Step) -> None:
        kind = step.data.get("type")
        if kind == "precheck":
            self.console.print(check_line(dict(step.data)))
        elif kind == "forecast":
            self._line(forecast_text(dict(step.data)))
        elif kind == "policy":
            self._line(policy_text(dict(step.data)))
        elif kind == "progress":
            if self.task is None:
                self.progress.start()
                self.task = self.progress.add_task(self.label, total=1.0, detail="")
            self.progress.update(self.task, completed=step.fraction or 0.0, detail=step.text)
        else:
            if self.task is not None:
                self.progress.update(self.task, completed=step.fraction or 0.0, detail=step.text)
            self._line(lit(step.text, "dim"))

    def _line(self, text: Text) -> None:
        (self.progress.console if self.task is not None else self.console).print(text)


def result_text(result: MigrationResult) -> Text:
    out = lit(result.domain, "bold")
    out.append(f" {result.source} -> {result.target}: ")
    out.append(result.outcome, OUTCOME_STYLE.get(result.outcome, "bold"))
    if result.outcome == "checked":
        out.append(" (pre-checks only; nothing started)", "dim")
        return out
    out.append("\n  ")
    out.append_text(lit(result.message))
    if result.seconds is not None:
        out.append(f"\n  total {seconds(result.seconds)}")
        if result.job_ms is not None:
            out.append(f" (libvirt's job {seconds(result.job_ms / 1000)})")
    if result.downtime_ms is not None:
        out.append(f" · downtime {ms(result.downtime_ms)}", "bold")
    if result.bytes_sent is not None:
        out.append(f" · {size(result.bytes_sent)} sent of {size(result.memory_bytes)}")
    if result.iterations is not None:
        out.append(f" · {counted(result.iterations, 'pass', 'passes')}")
    if result.throughput_bps:
        out.append(f" · {rate(result.throughput_bps)}")
    if result.postcopy:
        out.append(" · finished in post-copy", "cyan")
    if result.policy:
        steps = [a.kind if a.kind != "downtime" else f"{a.downtime_ms} ms" for a in result.policy]
        out.append(f"\n  stall policy: {' -> '.join(steps)}", "cyan")
    return out


def history_table(records: Sequence[dict[str, Any]]) -> Table:
    table = Table(title="Migrations", title_justify="left")
    for col in ("WHEN", "DOMAIN", "FROM", "TO", "RESULT", "TIME", "DOWNTIME", "SENT", "PASSES", "OPTIONS"):
        table.add_column(col, justify="right" if col in ("TIME", "DOWNTIME", "SENT", "PASSES") else "left")
    for r in records:
        started = r.get("started_at")
        opts = r.get("options") or {}
        chosen = [k for k, v in opts.items() if v not in (None, False) and k not in ("max_downtime_ms", "stall_policy")]
        table.add_row(
            time.strftime("%Y-%m-%d ", time.localtime(started)) + clock(started) if isinstance(started, float) else "",
            lit(str(r.get("domain", ""))),
            lit(str(r.get("source", ""))),
            lit(str(r.get("target", ""))),
            Text(
                str(r.get("outcome", "")) + (" (settled)" if r.get("settled") else ""),
                OUTCOME_STYLE.get(str(r.get("outcome")), ""),
            ),  # fmt: skip
            seconds(r.get("seconds")),
            ms(r.get("downtime_ms")),
            size(r.get("bytes_sent")),
            str(r.get("iterations") if r.get("iterations") is not None else MISSING),
            lit(", ".join(f"{k}={opts[k]}" if opts[k] is not True else k for k in chosen)),
        )
    return table


def jobs_table(jobs: Sequence[InflightJob], errors: Sequence[tuple[str, str]]) -> Table:
    table = Table(title="Migrations in flight", title_justify="left")
    for col in ("HOST", "DOMAIN", "DIRECTION", "ELAPSED", "PASS", "LEFT", "TARGET", "STARTED BY"):
        table.add_column(col)
    for j in jobs:
        by = "vmtui (gone)" if j.orphaned else ("vmtui" if j.note else "another tool")
        table.add_row(
            lit(j.host), lit(j.domain), j.stats.operation,
            seconds(j.stats.elapsed_ms / 1000 if j.stats.elapsed_ms else None),
            str(j.stats.iteration or MISSING), size(j.stats.memory_remaining), lit(j.target or MISSING), by,
        )  # fmt: skip
    for host, message in errors:
        table.add_row(lit(host), Text("unreachable", "red"), lit(message, "red"))
    return table


def settled_text(result: MigrationResult) -> Text:
    """A migration whose end was unknown, as `migrate jobs` settled it (or found it still unknown)."""
    out = Text("settled: " if result.outcome != "unknown" else "still unknown: ", "bold")
    out.append_text(lit(result.domain, "bold"))
    out.append(f" {result.source} -> {result.target}: ")
    out.append(result.outcome, OUTCOME_STYLE.get(result.outcome, "bold"))
    out.append("\n  ")
    out.append_text(lit(result.message))
    return out


def placement_table(domain: str, placements: Sequence[Placement]) -> Table:
    table = Table(title=f"Where {domain} fits", title_justify="left")
    for col in ("#", "HOST", "SCORE", "FREE NOW", "FREE AFTER", "CPU BUSY", "PRE-CHECKS"):
        table.add_column(col, justify="right" if col in ("#", "SCORE", "CPU BUSY") else "left")
    for n, p in enumerate(placements, 1):
        verdict = Text("current host", "dim") if p.current else lit(p.reason, "green" if p.score is not None else "red")
        table.add_row(
            str(n) if p.score is not None else MISSING,
            lit(p.host, "bold" if p.score is not None else ""),
            MISSING if p.score is None else f"{p.score:.2f}",
            size_kib(p.memory_available_kib),
            size_kib(p.memory_after_kib) if not p.current else MISSING,
            pct_sign(p.cpu_busy_pct),
            verdict,
        )
    return table


def stdout_console() -> Console:
    from vmtui.cli.render import console

    return console() if sys.stdout.isatty() else Console(width=200, highlight=False)
