"""`vmtui pools`, `volumes POOL`, `vol-create POOL NAME SIZE`, `vol-delete POOL NAME`."""

from __future__ import annotations

from typing import Annotated

import typer

from vmtui.cli.common import (
    ConnectOpt,
    HostOpt,
    JsonOpt,
    ReadOnlyOpt,
    YesOpt,
    confirm,
    emit_json,
    errors_json,
    guarded,
    report_host_errors,
)
from vmtui.cli.runner import run_op
from vmtui.cli.targets import label, on_each_host, open_entry, resolve_targets
from vmtui.drivers.resources import live
from vmtui.errors import NotFoundError, OperationError, UsageError
from vmtui.models import HostEntry
from vmtui.ops import storage
from vmtui.ops.base import no_progress

PoolArg = Annotated[str, typer.Argument(help="Storage pool name (see `vmtui pools`).")]
VolumeArg = Annotated[str, typer.Argument(help="Volume name inside the pool.")]
SizeArg = Annotated[str, typer.Argument(help="Capacity with a unit: 10G, 512MiB (binary), 20GB (decimal).")]
FormatOpt = Annotated[str, typer.Option("--format", help="qcow2 or raw (file pools; other pools hold raw).")]


def register(app: typer.Typer) -> None:
    app.command("pools")(pools_cmd)
    app.command("volumes")(volumes_cmd)
    app.command("vol-create")(vol_create)
    app.command("vol-delete")(vol_delete)


@guarded(read_only_safe=True)
def pools_cmd(*, connect: ConnectOpt = None, host: HostOpt = None, as_json: JsonOpt = False) -> None:
    """Storage pools on every selected host: state, autostart, type, capacity, allocation, available."""
    targets = resolve_targets(connect, host, read_only=True)
    outcomes = on_each_host(targets, storage.pools)
    rows = [(label(o.entry), p) for o in outcomes for p in (o.value or [])]
    errors = [(label(o.entry), o.error) for o in outcomes if o.error is not None]
    answered = any(o.value is not None for o in outcomes)
    if as_json:
        emit_json({"pools": [{"host": h, **p.to_json()} for h, p in rows], "errors": errors_json(errors)})
    elif answered:
        from vmtui.cli.render import console
        from vmtui.cli.render_resources import pools_table

        console().print(pools_table(rows))
    report_host_errors(errors, as_json=as_json, answered=answered)


@guarded(read_only_safe=True)
def volumes_cmd(pool: PoolArg, *, connect: ConnectOpt = None, host: HostOpt = None, as_json: JsonOpt = False) -> None:
    """The volumes of POOL on every selected host that has it, with the domains that use each one."""
    targets = resolve_targets(connect, host, read_only=True)
    outcomes = on_each_host(targets, lambda conn: storage.volumes(conn, pool))
    rows = [(label(o.entry), v) for o in outcomes for v in (o.value or [])]
    answered = any(o.value is not None for o in outcomes)
    # With several hosts, one without this pool is no error: the pool is where it is.
    errors = [
        (label(o.entry), o.error)
        for o in outcomes
        if o.error is not None and not (isinstance(o.error, NotFoundError) and len(targets) > 1)
    ]
    if not answered and not errors:
        raise NotFoundError(f"no storage pool {pool!r} on {', '.join(label(t) for t in targets)}")
    if as_json:
        emit_json({"volumes": [{"host": h, **v.to_json()} for h, v in rows], "errors": errors_json(errors)})
    elif answered:
        from vmtui.cli.render import console
        from vmtui.cli.render_resources import volumes_table

        console().print(volumes_table(rows))
    report_host_errors(errors, as_json=as_json, answered=answered)


def find_pool(targets: list[HostEntry], pool: str) -> HostEntry:
    """The one target that has storage pool `pool`; refuses when it is on none or on several."""
    if len(targets) == 1:
        return targets[0]
    outcomes = on_each_host(targets, lambda conn: live(conn, "storage pools").pool(pool))
    found = [o.entry for o in outcomes if o.value is not None]
    if not found:
        failed = [o.error for o in outcomes if o.error is not None and not isinstance(o.error, NotFoundError)]
        if failed:
            raise failed[0]
        raise NotFoundError(f"no storage pool {pool!r} on {', '.join(label(t) for t in targets)}")
    if len(found) > 1:
        raise UsageError(
            f"pool {pool!r} exists on {', '.join(e.name for e in found)}", hint="pick one with --host or -c"
        )
    return found[0]


@guarded()
def vol_create(
    pool: PoolArg,
    name: VolumeArg,
    size: SizeArg,
    *,
    fmt: FormatOpt = "qcow2",
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a sparse volume NAME of SIZE in POOL (it takes host space only as the guest writes)."""
    # Refused before any connection: a bad name, size or format never reaches a host.
    storage.validate_volume_name(name)
    storage.volume_capacity(size)
    if fmt not in storage.FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(storage.FORMATS)}")
    entry = find_pool(resolve_targets(connect, host, read_only=read_only), pool)
    with open_entry(entry) as conn:
        done = run_op(
            lambda progress, cancel: storage.create_volume(
                conn, pool, name, size, fmt=fmt, progress=progress, cancel=cancel
            ),
            no_progress,
        )
    if as_json:
        emit_json({"host": label(entry), **done.to_json()})
        return
    from vmtui.cli.render import console
    from vmtui.present import size as fmt_size
    from vmtui.richtext import lit

    line = lit(f"created {done.volume.name} ({done.volume.format or done.volume.vol_type}, ")
    line.append(f"{fmt_size(done.volume.capacity)}) in pool {done.pool.name} on {label(entry)}: ")
    line.append(lit(done.volume.path))
    console().print(line)


@guarded()
def vol_delete(
    pool: PoolArg,
    name: VolumeArg,
    *,
    yes: YesOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete volume NAME from POOL and its data (asks first); refused while a domain uses it."""
    entry = find_pool(resolve_targets(connect, host, read_only=read_only), pool)
    with open_entry(entry) as conn:
        # Refused here, before the question: read-only, a missing volume, or a domain that uses it.
        conn.require_writable("delete volume")
        resources = live(conn, "delete volume")
        vol = resources.volume(pool, name)
        why = storage.delete_refusal(resources, vol)
        if why is not None:
            raise OperationError(f"delete volume {name} from {pool}: {why}")
        confirm(storage.delete_question(vol, label(entry)), yes=yes, as_json=as_json)
        done = run_op(
            lambda progress, cancel: storage.delete_volume(conn, pool, name, progress=progress, cancel=cancel),
            no_progress,
        )
    if as_json:
        emit_json({"host": label(entry), **done.to_json()})
        return
    from vmtui.cli.render import console
    from vmtui.richtext import lit

    line = lit(f"deleted {done.volume.name} from pool {done.pool.name} on {label(entry)} (")
    line.append(lit(done.volume.path))
    line.append(")")
    console().print(line)
