"""`vmtui snapshot list|create|revert|delete DOMAIN [NAME]`."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from vmtui.cli.common import (
    ConnectOpt,
    DomainArg,
    HostOpt,
    JsonOpt,
    ReadOnlyOpt,
    ReplayOpt,
    YesOpt,
    confirm,
    emit_json,
    guarded,
)
from vmtui.cli.runner import run_op
from vmtui.cli.targets import domain_host, label
from vmtui.ops import snapshots as ops
from vmtui.ops.base import no_progress

snapshot_app = typer.Typer(
    help="Snapshots of a domain: list, create (internal or external, with memory when it runs), revert, delete.",
    no_args_is_help=True,
)

NameArg = Annotated[
    str | None, typer.Argument(help="Snapshot name (letters, digits, . _ + : @ -). Default: the current one.")
]


@snapshot_app.command("list")
@guarded(read_only_safe=True)
def list_cmd(
    domain: DomainArg,
    *,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    replay: ReplayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every snapshot of the domain, oldest first; * marks the current one."""
    with domain_host(domain, connect, host, read_only=True, replay=replay) as (entry, conn):
        result = ops.list_snapshots(conn, domain, host=label(entry))
    if as_json:
        emit_json(result.to_json())
        return
    from rich.table import Table
    from rich.text import Text

    from vmtui.cli.render import console
    from vmtui.richtext import lit

    if not result.snapshots:
        console().print(Text("no snapshots of ").append_text(lit(result.domain.name)))
        return
    table = Table(box=None, header_style="bold")
    for col in ("", "NAME", "CREATED", "STATE", "LOCATION", "MEMORY", "PARENT", "DESCRIPTION"):
        table.add_column(col, no_wrap=col != "DESCRIPTION")
    for s in result.snapshots:
        table.add_row(
            "*" if s.current else "",
            lit(s.name),
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.created)),
            s.state,
            s.location,
            "yes" if s.memory else "no",
            lit(s.parent or "-"),
            lit(s.description),
        )
    console().print(table)


def _done(result: ops.SnapshotDone, *, as_json: bool) -> None:
    if as_json:
        emit_json(result.to_json())
        return
    from vmtui.present import printable

    s = result.snapshot
    verb = {"create": "created", "revert": "reverted to", "delete": "deleted"}[result.action]
    what = f" ({s.location}, {'disks and memory' if s.memory else 'disks'})" if result.action == "create" else ""
    typer.echo(
        f"{printable(result.domain.name)} on {result.host}: {verb} snapshot {printable(s.name)}{what}; "
        f"the domain is {result.domain.state}"
    )


@snapshot_app.command("create")
@guarded()
def create_cmd(
    domain: DomainArg,
    name: Annotated[str | None, typer.Argument(help="Snapshot name; default: libvirt's (the time).")] = None,
    *,
    description: Annotated[str, typer.Option("--description", "-d", help="A line about it.")] = "",
    location: Annotated[
        ops.Location,
        typer.Option("--location", help="internal (in the qcow2 disks), external (overlay files), or auto."),
    ] = ops.Location.AUTO,
    disk_only: Annotated[bool, typer.Option("--disk-only", help="Leave a running guest's memory out.")] = False,
    memory_file: Annotated[
        str | None, typer.Option("--memory-file", help="External: where the memory goes (a path on the host).")
    ] = None,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Take a snapshot; a running guest's memory is included (it pauses while that is written)."""
    with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
        result = run_op(
            lambda progress, cancel: ops.create(
                conn, domain, name, host=label(entry), description=description, location=location,
                disk_only=disk_only, memory_file=memory_file, progress=progress, cancel=cancel,
            ),
            no_progress,
        )  # fmt: skip
    _done(result, as_json=as_json)


@snapshot_app.command("revert")
@guarded()
def revert_cmd(
    domain: DomainArg,
    name: NameArg = None,
    *,
    yes: YesOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Bring the domain back to a snapshot (asks first: what it did since is lost)."""
    with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
        conn.require_writable("revert to snapshot")
        info, snap = ops.resolve(conn, domain, name)
        confirm(ops.revert_question(info, snap, label(entry)), yes=yes, as_json=as_json)
        result = run_op(
            lambda progress, cancel: ops.revert(
                conn, info.uuid, snap.name, host=label(entry), progress=progress, cancel=cancel
            ),
            no_progress,
        )
    _done(result, as_json=as_json)


@snapshot_app.command("delete")
@guarded()
def delete_cmd(
    domain: DomainArg,
    name: NameArg = None,
    *,
    children: Annotated[bool, typer.Option("--children", help="Also delete the snapshots taken after it.")] = False,
    yes: YesOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete a snapshot (asks first); the domain's present state is not touched."""
    with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
        conn.require_writable("delete snapshot")
        info, snap = ops.resolve(conn, domain, name)
        confirm(ops.delete_question(info, snap, label(entry), children=children), yes=yes, as_json=as_json)
        result = run_op(
            lambda progress, cancel: ops.delete(
                conn, info.uuid, snap.name, host=label(entry), children=children, progress=progress, cancel=cancel
            ),
            no_progress,
        )
    _done(result, as_json=as_json)
