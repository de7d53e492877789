"""`vmtui balloon` and `vmtui ksm`: ballooning, KSM and their policies (the work is in `vmtui.ops`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from vmtui.cli.common import (
    ConnectOpt,
    DomainArg,
    HostOpt,
    JsonOpt,
    ReadOnlyOpt,
    RoundIntervalOpt,
    emit_json,
    fail,
    guarded,
    seconds_in,
)
from vmtui.cli.default_group import defaulting_to
from vmtui.cli.runner import run_op, step_printer
from vmtui.cli.targets import find_domain, label, on_each_host, one_host, open_entry, resolve_targets
from vmtui.errors import UsageError
from vmtui.ops import ksm, memory
from vmtui.ops.balloon_policy import BalloonKnobs, parse_shares
from vmtui.ops.base import no_progress
from vmtui.ops.ksm_policy import KsmKnobs
from vmtui.ops.sizes import parse_percent, parse_size_kib

T = TypeVar("T")


balloon_app = typer.Typer(
    cls=defaulting_to("set"),  # `vmtui balloon DOMAIN SIZE` is `vmtui balloon set DOMAIN SIZE`
    help="Set a running guest's balloon (`vmtui balloon DOMAIN SIZE`), or run the balloon policy.",
    no_args_is_help=True,
)
ksm_app = typer.Typer(help="KSM: savings and cost (`vmtui ksm`), tunables, on/off, per-guest opt-out, policy.")

ApplyOpt = Annotated[bool, typer.Option("--apply", help="Apply the plan every --interval seconds until Ctrl-C.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan and change nothing (the default).")]
CountOpt = Annotated[int | None, typer.Option("--count", "-n", min=1, help="With --apply: stop after N steps.")]
KsmWindowOpt = Annotated[
    float,
    typer.Option("--interval", "-i", callback=seconds_in(0.1, 60), help="Seconds over which ksmd's CPU is measured."),
]


def _warn(warnings: tuple[str, ...] | list[str], as_json: bool) -> None:
    if not as_json:
        for w in warnings:
            sys.stderr.write(f"vmtui: warning: {w}\n")


# ----- balloon ----------------------------------------------------------------------------------


@balloon_app.command("set")
@guarded()
def balloon_set(
    domain: DomainArg,
    size: Annotated[str, typer.Argument(help="New balloon target with a unit: 512M, 512MiB, 1.5G.")],
    *,
    wait: Annotated[bool, typer.Option(help="Follow `actual` to the target (up to 30 s).")] = True,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Set a running guest's balloon (live); refused before any change when it cannot work."""
    size_kib = parse_size_kib(size)
    entry = find_domain(resolve_targets(connect, host, read_only=read_only), domain)
    with open_entry(entry) as opened:
        conn = memory.memory_host(opened)
        result = run_op(
            lambda progress, cancel: memory.set_balloon(
                conn, domain, size_kib, wait=wait, progress=progress, cancel=cancel
            ),
            step_printer(as_json),
        )
    if as_json:
        emit_json({"host": label(entry), **result.to_json()})
        return
    from vmtui.cli.render import console
    from vmtui.cli.render_memory import balloon_result

    console().print(balloon_result(label(entry), result))
    _warn(result.warnings, as_json)


@balloon_app.command("policy")
@guarded()
def balloon_policy(
    *,
    target_host_used: Annotated[
        str, typer.Option("--target-host-used", help="Host memory use to aim for, e.g. 80%.")
    ] = "80%",
    floor: Annotated[str, typer.Option("--floor", help="Per-guest floor, % of its max memory.")] = "50%",
    max_change: Annotated[str, typer.Option("--max-change", help="The most a guest moves per step.")] = "100MiB",
    shares: Annotated[
        list[str] | None, typer.Option("--shares", help="NAME=N: a guest's weight (default 1000; 0 leaves it out).")
    ] = None,
    dry_run: DryRunOpt = False,
    apply: ApplyOpt = False,
    interval: RoundIntervalOpt = 10.0,
    count: CountOpt = None,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Auto-balloon in the spirit of Proxmox and oVirt MoM: the plan (--dry-run), or run it (--apply)."""
    if dry_run and apply:
        raise UsageError("--dry-run and --apply exclude each other")
    knobs = BalloonKnobs(
        target_used_pct=parse_percent(target_host_used),
        floor_pct=parse_percent(floor),
        max_change_kib=parse_size_kib(max_change),
        shares=parse_shares(shares or []),
    )
    if knobs.max_change_kib <= 0:
        raise UsageError("--max-change must be above 0")
    entry = one_host(resolve_targets(connect, host, read_only=read_only or not apply), "the balloon policy")
    from vmtui.cli.render import console
    from vmtui.cli.render_memory import balloon_plan

    with open_entry(entry) as opened:
        conn = memory.memory_host(opened)
        if not apply:
            plan = memory.plan_host(conn, knobs)
            if as_json:
                emit_json({"host": label(entry), "dry_run": True, "plan": plan.to_json()})
            else:
                console().print(balloon_plan(label(entry), plan))
            return
        run = run_op(
            lambda progress, cancel: memory.apply_policy(
                conn,
                knobs,
                interval=interval,
                count=count,
                progress=progress,
                cancel=cancel,
            ),
            step_printer(as_json, steps_are_output=True),
        )
    if as_json:
        emit_json({"host": label(entry), "done": run.to_json()})
    else:
        console().print(f"balloon policy: {run.steps} steps, {run.moves} moves")


# ----- ksm --------------------------------------------------------------------------------------


@ksm_app.callback(invoke_without_command=True)
def ksm_root(
    ctx: typer.Context,
    *,
    interval: KsmWindowOpt = 1.0,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """KSM state, savings and cost per host (`vmtui ksm`), or one of the subcommands."""
    if ctx.invoked_subcommand is None:
        ksm_status(interval=interval, connect=connect, host=host, as_json=as_json)
    elif connect or host or as_json or interval != 1.0:
        raise fail(UsageError("options go after the ksm subcommand (`vmtui ksm tune --host H`)"), as_json=as_json)


@ksm_app.command("status")
@guarded(read_only_safe=True)
def ksm_status(
    *,
    interval: KsmWindowOpt = 1.0,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run state, pages shared/sharing/unshared/volatile, full scans, memory saved, ksmd CPU %, per VM."""
    targets = resolve_targets(connect, host, read_only=True)
    outcomes = on_each_host(targets, lambda conn: ksm.read_status(memory.memory_host(conn), "", interval=interval))
    rows = [(label(o.entry), o.value) for o in outcomes if o.value is not None]
    errors = [(label(o.entry), o.error) for o in outcomes if o.error is not None]
    if as_json:
        emit_json(
            {
                "hosts": [{**s.to_json(), "host": h} for h, s in rows],
                "errors": [{"host": h, **e.error_body()} for h, e in errors],
            }
        )
    else:
        from vmtui.cli.render import console
        from vmtui.cli.render_memory import ksm_view

        for h, s in rows:
            console().print(ksm_view(h, s))
        for h, e in errors:
            sys.stderr.write(f"vmtui: error: {h}: {e}\n")
    if errors and not rows:
        raise typer.Exit(int(errors[0][1].exit_code))


def _changed(result: ksm.KsmChanged, as_json: bool) -> None:
    if as_json:
        emit_json(result.to_json())
        return
    parts = [f"{k} {result.before.get(k)} -> {result.after.get(k)}" for k in result.after]
    typer.echo(f"ksm on {result.host}: " + ", ".join(parts))
    _warn(result.warnings, as_json)


@ksm_app.command("tune")
@guarded()
def ksm_tune(
    *,
    pages_to_scan: Annotated[int | None, typer.Option("--pages-to-scan", help="Pages per scan (1-100000).")] = None,
    sleep_ms: Annotated[int | None, typer.Option("--sleep-ms", help="ms between scans (1-60000).")] = None,
    merge_across_nodes: Annotated[
        int | None, typer.Option("--merge-across-nodes", help="1: merge across NUMA nodes; 0: only within one.")
    ] = None,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Set KSM tunables through libvirt's node memory parameters (works on remote hosts too)."""
    entry = one_host(resolve_targets(connect, host, read_only=read_only), "KSM tuning")
    with open_entry(entry) as opened:
        conn = memory.memory_host(opened)
        result = run_op(
            lambda progress, cancel: ksm.tune(
                conn,
                label(entry),
                pages_to_scan=pages_to_scan,
                sleep_ms=sleep_ms,
                merge_across_nodes=merge_across_nodes,
                progress=progress,
                cancel=cancel,
            ),
            no_progress,
        )
    _changed(result, as_json)


def _run_command(mode_of: Callable[[bool], str], doc: str) -> Callable[..., None]:
    @guarded()
    def command(
        *,
        unmerge: Annotated[
            bool, typer.Option("--unmerge", help="off only: also split every merged page (run=2).")
        ] = False,
        connect: ConnectOpt = None,
        host: HostOpt = None,
        read_only: ReadOnlyOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        entry = one_host(resolve_targets(connect, host, read_only=read_only), "KSM")
        with open_entry(entry) as opened:
            conn = memory.memory_host(opened)
            result = run_op(
                lambda progress, cancel: ksm.set_run(
                    conn, label(entry), mode_of(unmerge), progress=progress, cancel=cancel
                ),
                no_progress,
            )
        _changed(result, as_json)

    command.__doc__ = doc
    return command


def _on_mode(unmerge: bool) -> str:
    if unmerge:
        raise UsageError("--unmerge goes with `ksm off`")
    return "on"


ksm_app.command("on")(_run_command(_on_mode, "Start ksmd (run=1) through the host's sysfs (locally, or over SSH)."))
ksm_app.command("off")(
    _run_command(
        lambda unmerge: "unmerge" if unmerge else "off",
        "Stop ksmd (run=0; merged pages stay merged), or with --unmerge split them all (run=2).",
    )
)


def _opt_command(opt_out: bool, doc: str) -> Callable[..., None]:
    @guarded()
    def command(
        domain: DomainArg,
        *,
        connect: ConnectOpt = None,
        host: HostOpt = None,
        read_only: ReadOnlyOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        entry = find_domain(resolve_targets(connect, host, read_only=read_only), domain)
        with open_entry(entry) as opened:
            conn = memory.memory_host(opened)
            result = ksm.set_opt_out(conn, label(entry), domain, opt_out=opt_out)
        if as_json:
            emit_json(result.to_json())
        else:
            from vmtui.cli.render import console
            from vmtui.richtext import lit

            console().print(lit(result.note))

    command.__doc__ = doc
    return command


ksm_app.command("opt-out")(
    _opt_command(True, "Keep a guest's memory out of KSM (<nosharepages/>; from its next start).")
)
ksm_app.command("opt-in")(_opt_command(False, "Let a guest's memory be merged again (from its next start)."))


@ksm_app.command("policy")
@guarded()
def ksm_policy(
    *,
    free_percent: Annotated[str, typer.Option("--free-percent", help="Pressure below this free memory.")] = "20%",
    pages_min: Annotated[int, typer.Option("--pages-min", min=1, help="Lowest pages_to_scan.")] = 64,
    pages_max: Annotated[int, typer.Option("--pages-max", min=1, max=100_000, help="Highest pages_to_scan.")] = 1250,
    dry_run: DryRunOpt = False,
    apply: ApplyOpt = False,
    interval: RoundIntervalOpt = 10.0,
    count: CountOpt = None,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """ksmtuned/MoM-style KSM policy: the plan (--dry-run), or run it (--apply)."""
    if dry_run and apply:
        raise UsageError("--dry-run and --apply exclude each other")
    if pages_min > pages_max:
        raise UsageError(f"--pages-min {pages_min} is above --pages-max {pages_max}")
    knobs = KsmKnobs(free_pct=parse_percent(free_percent), pages_min=pages_min, pages_max=pages_max)
    entry = one_host(resolve_targets(connect, host, read_only=read_only or not apply), "the KSM policy")
    from vmtui.cli.render import console
    from vmtui.cli.render_memory import ksm_plan

    with open_entry(entry) as opened:
        conn = memory.memory_host(opened)
        if not apply:
            status, plan = ksm.plan_host(conn, label(entry), knobs)
            if as_json:
                emit_json({"host": label(entry), "dry_run": True, "plan": plan.to_json()})
            else:
                console().print(ksm_plan(label(entry), plan))
            return
        run = run_op(
            lambda progress, cancel: ksm.apply_policy(
                conn,
                label(entry),
                knobs,
                interval=interval,
                count=count,
                progress=progress,
                cancel=cancel,
            ),
            step_printer(as_json, steps_are_output=True),
        )
    if as_json:
        emit_json({"host": label(entry), "done": run.to_json()})
    else:
        console().print(f"ksm policy: {run.steps} steps, {run.changes} changes")


def register(app: typer.Typer) -> None:
    app.add_typer(balloon_app, name="balloon")
    app.add_typer(ksm_app, name="ksm")
