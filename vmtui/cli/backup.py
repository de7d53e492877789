"""`vmtui backup DOMAIN [--to DIR] [--incremental] [--keep N]`, `backup list [DOMAIN]`, `backup restore DOMAIN ID`.

The work is `vmtui.ops.backup` (the TUI calls the same functions); this module opens the host, runs it
through the one runner (Ctrl-C aborts the job: exit 130, nothing kept) and prints. Progress lines go
to stderr; stdout holds the result, or with --json one document.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from vmtui.cli.common import ConnectOpt, DomainArg, HostOpt, JsonOpt, ReadOnlyOpt, YesOpt, confirm, emit_json, guarded
from vmtui.cli.default_group import defaulting_to
from vmtui.cli.runner import run_op, step_printer
from vmtui.cli.targets import domain_host, label, one_host, open_entry, resolve_targets
from vmtui.ops.backup import DEFAULT_ROOT

if TYPE_CHECKING:
    from vmtui.drivers.backupstore import BackupStore
    from vmtui.models import HostEntry
    from vmtui.ops.backup import BackupHost

backup_app = typer.Typer(
    cls=defaulting_to("create"),  # `vmtui backup DOMAIN` is `vmtui backup create DOMAIN`
    help="Backups that restore: `vmtui backup DOMAIN` (full or --incremental), list, restore.",
    no_args_is_help=True,
)

ToOpt = Annotated[
    str,
    typer.Option(
        "--to",
        envvar="VMTUI_BACKUP_DIR",
        help="The backup folder on the domain's host (one folder per domain in it).",
    ),
]
IdArg = Annotated[str, typer.Argument(help="The backup's id, as `vmtui backup list` shows it.")]


@contextmanager
def _one_host(
    connect: list[str] | None, host: list[str] | None, *, read_only: bool
) -> Iterator[tuple[HostEntry, BackupHost, BackupStore]]:
    from vmtui.drivers.backupstore import backup_store
    from vmtui.ops.backup import live_host

    entry = one_host(resolve_targets(connect, host, read_only=read_only), "backups")
    with open_entry(entry) as conn:
        yield entry, live_host(conn), backup_store(conn.uri)


@backup_app.command("create")
@guarded()
def create_cmd(
    domain: DomainArg,
    *,
    to: ToOpt = DEFAULT_ROOT,
    incremental: Annotated[
        bool, typer.Option("--incremental", "-i", help="Only what changed since the last backup.")
    ] = False,
    keep: Annotated[
        int | None, typer.Option("--keep", min=1, help="Then keep the newest N backups; older ones are merged.")
    ] = None,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Back up every disk of a running domain (full, or --incremental on the last backup)."""
    from vmtui.drivers.backupstore import backup_store
    from vmtui.ops import backup as ops

    with domain_host(domain, connect, host, read_only=read_only) as (entry, opened):
        opened.require_writable("back up")
        conn = ops.live_host(opened)
        store = backup_store(conn.uri)
        result = run_op(
            lambda progress, cancel: ops.take_backup(
                conn, store, domain, root=to, incremental=incremental, keep=keep, host=label(entry),
                progress=progress, cancel=cancel,
            ),
            step_printer(as_json),
        )  # fmt: skip
    if as_json:
        emit_json(result.to_json())
        return
    from vmtui.present import printable, seconds, size

    b = result.backup
    typer.echo(
        f"{printable(b.domain)} on {result.host}: {b.kind} backup {b.id}, {size(b.size)} in"
        f" {seconds(result.elapsed_s)}, in {printable(b.path)} ({b.consistency})"
    )
    for removed in result.removed:
        typer.echo(f"removed {removed} (--keep {keep})")


@backup_app.command("list")
@guarded(read_only_safe=True)
def list_cmd(
    domain: Annotated[str | None, typer.Argument(help="Only this domain's (name or UUID).")] = None,
    *,
    to: ToOpt = DEFAULT_ROOT,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The backups in the folder, by domain, oldest first: each with its kind, parent, size and time."""
    from vmtui.ops import backup as ops

    with _one_host(connect, host, read_only=True) as (entry, _conn, store):
        result = ops.list_backups(store, to, domain, host=label(entry))
    if as_json:
        emit_json(result.to_json())
        return
    from rich.table import Table
    from rich.text import Text

    from vmtui.cli.render import console
    from vmtui.present import size
    from vmtui.richtext import lit

    if not result.backups:
        console().print(Text(f"no backups{' of ' + domain if domain else ''} in ").append_text(lit(result.root)))
        return
    table = Table(box=None, header_style="bold")
    for col in ("DOMAIN", "ID", "KIND", "PARENT", "TAKEN", "SIZE", "CONSISTENCY"):
        table.add_column(col, no_wrap=col != "CONSISTENCY")
    for b in result.backups:
        table.add_row(
            lit(b.domain),
            b.id,
            b.kind,
            b.parent or "-",
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(b.started)),
            size(b.size),
            lit(b.consistency),
        )
    console().print(table)


@backup_app.command("restore")
@guarded()
def restore_cmd(
    domain: Annotated[str, typer.Argument(help="The backed-up domain's name or UUID (it may be gone).")],
    backup: IdArg,
    *,
    as_name: Annotated[
        str | None, typer.Option("--as", help="Restore as a new domain of this name, beside the original.")
    ] = None,
    pool: Annotated[
        str | None,
        typer.Option("--pool", help="With --as: the storage pool for the disks (default: the backed-up disk's)."),
    ] = None,
    to: ToOpt = DEFAULT_ROOT,
    yes: YesOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild a backup's disks (its full backup plus incrementals) and define the domain from it.

    With --as, a new domain whose disks are new qcow2 volumes of a storage pool. Without it, the same
    domain is restored: it must be shut off, and its disks are overwritten (asks first).
    """
    from vmtui.ops import backup as ops

    with _one_host(connect, host, read_only=read_only) as (entry, conn, store):
        conn.require_writable("restore")
        plan = ops.plan_restore(conn, store, to, domain, backup, as_name=as_name, pool=pool)
        if plan.replaces is not None:
            confirm(plan.question(label(entry)), yes=yes, as_json=as_json)
        result = run_op(
            lambda progress, cancel: ops.restore(
                conn, store, plan, host=label(entry), progress=progress, cancel=cancel
            ),
            step_printer(as_json),
        )
    if as_json:
        emit_json(result.to_json())
        return
    from vmtui.present import printable

    typer.echo(
        f"{printable(result.domain.name)} on {result.host}: restored from {' + '.join(result.chain)};"
        f" the domain is {result.domain.state}"
    )
