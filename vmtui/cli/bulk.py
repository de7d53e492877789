"""An action over every domain a `--filter` matches (`vmtui suspend --filter 'state:running web'`).

The domains are chosen here (the same filter as `list --filter`), asked about once, then handed to
`vmtui.ops.bulk.run`. Each domain's result is one table row, or one JSON line with `--json`; the exit
code says whether the action was done on all (0), some (7, `partial`) or none (1) of them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from vmtui.cli.common import confirm, emit_json
from vmtui.cli.runner import run_op, step_printer
from vmtui.cli.targets import label, on_each_host, open_entry, resolve_targets
from vmtui.drivers.base import Hypervisor
from vmtui.errors import ExitCode, NotFoundError, UsageError, VmtuiError
from vmtui.models import DomainInfo, HostEntry
from vmtui.ops import bulk
from vmtui.ops.base import Progress, Step, UserCancelledError

ParallelOpt = Annotated[
    int | None,
    typer.Option(
        "--parallel",
        help=f"With --filter: domains acted on at once per host (1-{bulk.MAX_PARALLEL}; {bulk.DEFAULT_PARALLEL}).",
        show_default=False,
    ),
]

RESULT_STYLE = {bulk.DONE: "green", bulk.REFUSED: "yellow", bulk.FAILED: "bold red", bulk.NOT_STARTED: "dim"}

LISTED = 20
"""Names the question lists before it says how many more (the table afterwards has every one)."""


def one_or_filter(domain: str | None, filter_expr: str | None, parallel: int | None) -> int:
    """Exactly one of DOMAIN and --filter, and --parallel only with --filter: refused (exit 2) before any
    host is contacted. Returns the domains at once per host."""
    if domain is not None and filter_expr is not None:
        raise UsageError("give a DOMAIN or --filter, not both")
    if domain is None and filter_expr is None:
        raise UsageError("missing DOMAIN (or --filter EXPR for every matching domain)")
    if filter_expr is not None and not filter_expr.strip():
        raise UsageError("--filter is empty; to act on every domain, say so: --filter .")
    if parallel is None:
        return bulk.DEFAULT_PARALLEL
    if filter_expr is None:
        raise UsageError("--parallel works with --filter (one DOMAIN is one action)")
    return bulk.check_parallel(parallel)


def run_filtered(
    action: bulk.BulkAction,
    label_word: str,
    filter_expr: str,
    *,
    connect: Sequence[str] | None,
    host: Sequence[str] | None,
    read_only: bool,
    yes: bool,
    destructive: bool,
    parallel: int,
    as_json: bool,
) -> None:
    """Choose the matching domains, ask once, act on each, report each, and exit with the verdict."""
    from vmtui.filters import parse_filter

    flt = parse_filter(filter_expr, strict=True)
    entries = resolve_targets(connect, host, read_only=read_only)

    def matching(conn: Hypervisor) -> list[DomainInfo]:
        conn.require_writable(action.key)  # a read-only host is refused before the question
        return conn.list_domains()

    outcomes = on_each_host(entries, matching)
    chosen: list[tuple[HostEntry, DomainInfo]] = [
        (o.entry, d)
        for o in outcomes
        for d in sorted(o.value or [], key=lambda d: d.name)
        if flt.matches(host=label(o.entry), name=d.name, state=d.state)
    ]
    errors = [(label(o.entry), o.error) for o in outcomes if o.error is not None]
    if errors and not chosen:
        raise errors[0][1]  # no host could be asked (or none allows the change): its error and exit code
    if not chosen:
        raise NotFoundError(f"--filter {filter_expr!r} matches no domain on {', '.join(label(e) for e in entries)}")
    if len(chosen) > 1 or destructive:
        confirm(question(label_word, chosen), yes=yes, as_json=as_json)
    targets = [bulk.Target(entry, d.uuid, d.name) for entry, d in chosen]
    result = run_op(
        lambda progress, cancel: bulk.run(
            targets, action, open_entry, parallel=parallel, progress=progress, cancel=cancel
        ),
        _steps(as_json),
    )
    report(result, errors, as_json=as_json)


def question(label_word: str, chosen: Sequence[tuple[HostEntry, DomainInfo]]) -> str:
    """ "Pause 3 domains: lab1: web1, web2; lab2: db1?" (names as they are: `confirm` prints them literally)."""
    by_host: dict[str, list[str]] = {}
    for entry, info in chosen[:LISTED]:
        by_host.setdefault(label(entry), []).append(info.name)
    listed = "; ".join(f"{h}: {', '.join(names)}" for h, names in by_host.items())
    more = f" and {len(chosen) - LISTED} more" if len(chosen) > LISTED else ""
    what = "1 domain" if len(chosen) == 1 else f"{len(chosen)} domains"
    return f"{label_word} {what}: {listed}{more}?"


def _steps(as_json: bool) -> Progress:
    """The operation's steps as dim lines on stderr, but the per-domain outcome steps (the table has them)."""
    show = step_printer(as_json)

    def progress(step: Step) -> None:
        if step.data.get("type") != "outcome":
            show(step)

    return progress


def report(result: bulk.BulkResult, errors: Sequence[tuple[str, VmtuiError]], *, as_json: bool) -> None:
    """Every domain's result (a table, or one JSON object per line), then the exit code of the verdict."""
    if as_json:
        for outcome in result.outcomes:
            emit_json(outcome.to_json(result.action))
        for host, exc in errors:
            emit_json({"action": result.action, "host": host, "result": bulk.FAILED, "error": exc.error_body()})
    else:
        from rich.table import Table

        from vmtui.cli.render import console
        from vmtui.richtext import lit, state_text

        table = Table(box=None, header_style="bold")
        for col in ("HOST", "NAME", "RESULT", "STATE", "DETAIL"):
            table.add_column(col, overflow="fold")
        for o in result.outcomes:
            table.add_row(
                lit(o.host),
                lit(o.name),
                lit(o.result, RESULT_STYLE[o.result]),
                state_text(o.state or "-"),
                lit(o.reason),
            )
        console().print(table)
        for host, exc in errors:
            sys.stderr.write(f"vmtui: error: {exc}\n" if host in str(exc) else f"vmtui: error: {host}: {exc}\n")
    if result.cancelled:
        never = [o.name for o in result.outcomes if o.result == bulk.NOT_STARTED]
        raise UserCancelledError(f"{result.action}: cancelled; never started: {', '.join(never) or 'none'}")
    verdict = "some" if errors and result.verdict == "all" else result.verdict
    if verdict == "all":
        return
    if not as_json:
        sys.stderr.write(f"vmtui: error: {result.summary()}\n")
    raise typer.Exit(int(ExitCode.PARTIAL if verdict == "some" else ExitCode.FAILED))
