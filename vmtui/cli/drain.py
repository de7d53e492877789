"""`vmtui host drain HOST` and `vmtui host undrain HOST`: empty a host for maintenance, and take it back.

The work is `vmtui.ops.drain` (the TUI calls the same functions); this module checks the arguments
against the saved hosts before any host is contacted, holds the host's drain lock, opens the hosts,
prints the plan, asks, puts the host in maintenance (hosts.toml), and runs the migrations through the
one runner (Ctrl-C aborts the running jobs; `migrate_terminal.shield` keeps it from the ssh processes).

Only a saved host can be drained: maintenance is saved with it, and an ad-hoc URI has nowhere to keep
it (refused in one line).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vmtui.cli.common import JsonOpt, ReadOnlyOpt, YesOpt, confirm, emit_json, guarded
from vmtui.cli.migrate_terminal import shield
from vmtui.cli.runner import run_op
from vmtui.errors import UsageError, VmtuiError
from vmtui.models import HostEntry

if TYPE_CHECKING:
    from vmtui.drivers.libvirt.driver import Connection
    from vmtui.ops.base import Progress
    from vmtui.ops.drain import DrainPlan, DrainSummary

host_app = typer.Typer(
    help="One saved host's maintenance: `drain` moves its running guests away, `undrain` takes it back.",
    no_args_is_help=True,
)

HostArg = Annotated[str, typer.Argument(help="A saved host name (see `vmtui hosts`).")]


def saved_host(name: str) -> HostEntry:
    """The saved host `name`; an ad-hoc URI is refused (its maintenance would have nowhere to be kept)."""
    from vmtui.config import HostStore

    if "://" in name or name.startswith("qemu:"):
        raise UsageError(
            f"{name}: only a saved host can be drained (its maintenance is saved with it)",
            hint="save it first: vmtui hosts add NAME URI",
        )
    return HostStore().get(name)


def drain_targets(host: HostEntry, to: list[str] | None) -> list[HostEntry]:
    """Where the guests may go: the --to hosts as given, else every other saved host that can take them."""
    from vmtui.config import HostStore

    saved = HostStore().load()
    if to:
        chosen = []
        for name in dict.fromkeys(to):
            entry = saved_host(name)
            if entry.name == host.name or entry.uri == host.uri:
                raise UsageError(f"--to {name}: that is the host being drained")
            if entry.maintenance:
                raise UsageError(f"--to {name}: {name} is in maintenance", hint=f"vmtui host undrain {name} first")
            if entry.read_only:
                raise UsageError(f"--to {name}: {name} is saved read-only; a migration writes to it")
            chosen.append(entry)
        return chosen
    others = [e for e in saved if e.name != host.name and not e.maintenance and not e.read_only]
    if not others:
        raise UsageError(
            f"no host to drain {host.name} to: every other saved host is in maintenance or read-only",
            hint="add one with `vmtui hosts add`, or undrain one",
        )
    return others


def _open(entry: HostEntry) -> Connection:
    from vmtui.drivers import connect

    return connect(entry.uri or None, read_only=entry.read_only)


@dataclass
class Opened:
    """The connections of one drain: the drained host's, the targets' (or why not), and spares."""

    src: Connection
    targets: dict[str, Connection | VmtuiError]
    spares: list[Connection]
    """More connections to the drained host, opened beside the others: the migration workers' first ones
    (each worker needs its own), so no worker waits for an SSH handshake after the plan."""


@contextmanager
def _opened(host: HostEntry, targets: list[HostEntry], spares: int) -> Iterator[Opened]:
    """Every connection a drain needs, opened at once; a target's failure is kept, the host's raised."""

    def attempt(entry: HostEntry) -> Connection | VmtuiError:
        try:
            return _open(entry)
        except VmtuiError as exc:
            return exc

    wanted = [host, *targets, *[host] * spares]
    with ThreadPoolExecutor(max_workers=min(16, len(wanted))) as pool:
        opened = list(pool.map(attempt, wanted))
    src, rest = opened[0], opened[1 + len(targets) :]
    spare = [c for c in rest if not isinstance(c, VmtuiError)]
    try:
        with ExitStack() as stack:
            for conn in opened[: 1 + len(targets)]:
                if not isinstance(conn, VmtuiError):
                    stack.callback(conn.close)
            if isinstance(src, VmtuiError):
                raise src
            yield Opened(src, dict(zip((t.name for t in targets), opened[1 : 1 + len(targets)], strict=True)), spare)
    finally:
        for conn in spare:  # the spares the drain did not take (it closes the ones it took)
            conn.close()


@host_app.command("drain")
@guarded()
def drain_cmd(
    host: HostArg,
    *,
    to: Annotated[
        list[str] | None, typer.Option("--to", help="A target host (repeatable); default: every other saved host.")
    ] = None,
    parallel: Annotated[int, typer.Option("--parallel", help="Migrations at once (1-16).")] = 2,
    copy_storage: Annotated[
        bool, typer.Option("--copy-storage", help="Copy disks the target does not share (as `migrate`).")
    ] = False,
    bandwidth: Annotated[int | None, typer.Option("--bandwidth", help="Cap per migration, MiB/s.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; move nothing.")] = False,
    yes: YesOpt = False,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Put HOST in maintenance and migrate its running guests away, PARALLEL at once, after a plan."""
    from vmtui.config import drain_lock
    from vmtui.ops.drain import validate_parallel
    from vmtui.ops.migrate import MigrationOptions

    validate_parallel(parallel)
    options = MigrationOptions(bandwidth_mib_s=bandwidth, copy_storage=copy_storage)
    options.validate()
    if read_only and not dry_run:
        raise UsageError("--read-only: a drain changes the hosts; only --dry-run reads")
    entry = saved_host(host)
    targets = drain_targets(entry, to)
    shield()  # before the first connection: Ctrl-C must reach vmtui, not the ssh processes of qemu+ssh
    with drain_lock(entry.name), _opened(entry, targets, 0 if dry_run else parallel) as opened:
        plan = _plan(opened.src, opened.targets, entry, options, parallel, as_json=as_json)
        _show_plan(plan, as_json=as_json)
        if dry_run:
            return
        if plan.moving:
            where = ", ".join(sorted({g.target or "" for g in plan.moving}))
            confirm(f"Drain {entry.name}: migrate {len(plan.moving)} guests to {where}?", yes=yes, as_json=as_json)
        _set_maintenance(entry.name, True)
        summary = _run(entry, opened, targets, plan, as_json=as_json)
    _show_summary(summary, as_json=as_json)
    if int(summary.exit_code):
        raise typer.Exit(int(summary.exit_code))


def _plan(
    src: Connection, conns: dict[str, Any], entry: HostEntry, options: Any, parallel: int, *, as_json: bool
) -> DrainPlan:
    from vmtui.cli.runner import steps_with_spinner
    from vmtui.ops.drain import plan_drain

    with steps_with_spinner(as_json) as progress:
        return run_op(
            lambda progress, cancel: plan_drain(src, conns, options, source=entry.name, parallel=parallel,
                                                progress=progress, cancel=cancel),
            progress,
        )  # fmt: skip


def _run(source: HostEntry, opened: Opened, targets: list[HostEntry], plan: DrainPlan, *, as_json: bool) -> Any:
    from vmtui.cli.drain_render import DrainPrinter
    from vmtui.cli.migrate_render import JsonProgress
    from vmtui.ops.drain import run_drain

    live = {name: conn for name, conn in opened.targets.items() if not isinstance(conn, VmtuiError)}

    def lane() -> Connection:
        return opened.spares.pop() if opened.spares else _open(source)

    uris = {t.name: t.uri for t in targets}
    printer: Progress = JsonProgress() if as_json else DrainPrinter(plan)
    with printer if isinstance(printer, DrainPrinter) else _nothing():
        return run_op(
            lambda progress, cancel: run_drain(
                live, plan, connect_source=lane, target_uris=uris, progress=progress, cancel=cancel
            ),
            printer,
        )


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _set_maintenance(name: str, on: bool) -> HostEntry:
    from vmtui.config import HostStore

    return HostStore().set_maintenance(name, on)


def _show_plan(plan: DrainPlan, *, as_json: bool) -> None:
    if as_json:
        emit_json({"type": "plan", **plan.to_json()})
        return
    from vmtui.cli.drain_render import plan_table
    from vmtui.cli.migrate_render import stdout_console

    stdout_console().print(plan_table(plan))


def _show_summary(summary: DrainSummary, *, as_json: bool) -> None:
    if as_json:
        emit_json({"type": "summary", **summary.to_json()})
        return
    from vmtui.cli.drain_render import summary_table
    from vmtui.cli.migrate_render import stdout_console

    stdout_console().print(summary_table(summary))


@host_app.command("undrain")
@guarded()
def undrain_cmd(host: HostArg, *, as_json: JsonOpt = False) -> None:
    """Take HOST out of maintenance: placement, migrate targets and drains may choose it again."""
    from vmtui.config import drain_lock

    entry = saved_host(host)
    with drain_lock(entry.name):  # refused while a drain of it runs: that drain would leave it for ever
        changed = _set_maintenance(entry.name, False)
    if as_json:
        emit_json({"undrained": {"host": changed.name, "was_in_maintenance": entry.maintenance}})
        return
    typer.echo(
        f"{changed.name} is out of maintenance" if entry.maintenance else f"{changed.name} was not in maintenance"
    )
