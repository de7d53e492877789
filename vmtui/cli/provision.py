"""`vmtui template`, `clone`, `delete` and `disk resize`: a VM's life after it is made.

Each runs the same `vmtui.ops` function a TUI action calls, on a thread of its own so that Ctrl-C
becomes the operation's cancel (a clone stopped half-way removes what it made).
"""

from __future__ import annotations

from typing import Annotated

import typer

from vmtui.cli.common import (
    CloudInitOpt,
    ConnectOpt,
    DomainArg,
    HostnameOpt,
    HostOpt,
    JsonOpt,
    NetworkConfigOpt,
    PasswordHashOpt,
    ReadOnlyOpt,
    SshKeyOpt,
    UserOpt,
    YesOpt,
    confirm,
    emit_json,
    guarded,
)
from vmtui.cli.runner import run_op, step_printer
from vmtui.cli.targets import domain_host, label
from vmtui.present import printable, size

disk_app = typer.Typer(help="A domain's disks: grow one (`vmtui disk resize DOMAIN vda +5G`).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("template")(template_cmd)
    app.command("clone")(clone_cmd)
    app.command("delete")(delete_cmd)


@guarded()
def template_cmd(
    domain: DomainArg,
    *,
    unset: Annotated[bool, typer.Option("--unset", help="Clear the mark: it is an ordinary domain again.")] = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Mark a shut-off domain as a template (in its XML metadata): it is cloned, never started."""
    from vmtui.ops import clone as ops

    with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
        done = run_op(
            lambda progress, cancel: ops.mark_template(
                conn, domain, on=not unset, host=label(entry), progress=progress, cancel=cancel
            ),
            step_printer(as_json),
        )
    if as_json:
        emit_json({"action": "template", **done.to_json()})
        return
    name = printable(done.domain.name)
    what = "a template" if done.domain.template else "not a template"
    typer.echo(f"{name} on {done.host}: {what}" + ("" if done.changed else " (it was already)"))


@guarded()
def clone_cmd(
    source: Annotated[str, typer.Argument(help="The domain to clone (shut off): name, UUID or ID.")],
    name: Annotated[str, typer.Argument(help="The new domain's name.")],
    *,
    linked: Annotated[
        bool,
        typer.Option("--linked", help="qcow2 overlays on the template's volumes (SOURCE must be a template)."),
    ] = False,
    start: Annotated[bool, typer.Option("--start", help="Start the clone once it is made.")] = False,
    cloud_init: CloudInitOpt = None,
    hostname: HostnameOpt = None,
    user: UserOpt = None,
    ssh_key: SshKeyOpt = None,
    password_hash: PasswordHashOpt = None,
    network_config: NetworkConfigOpt = None,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Clone a shut-off domain: new name, UUID and MACs; each disk copied (or, --linked, overlaid) in its pool;
    a new cloud-init seed (instance-id, hostname NEW) when the source has one or cloud-init options are given."""
    from vmtui.ops import clone as ops
    from vmtui.ops.seed import CloudInit, read_cloud_init

    # The cloud-init files and flags are refused here, before any host is contacted.
    options = CloudInit(cloud_init, hostname, user, ssh_key, password_hash, network_config)
    parts = read_cloud_init(options, name) if options.given else None
    with domain_host(source, connect, host, read_only=read_only) as (entry, conn):
        plan = ops.plan_clone(conn, source, name, linked=linked, host=label(entry), cloud_init=parts)
        done = run_op(
            lambda progress, cancel: ops.clone(conn, plan, start=start, progress=progress, cancel=cancel),
            step_printer(as_json),
        )
    if as_json:
        emit_json({"action": "clone", **done.to_json()})
        return
    how = "linked clone" if done.linked else "clone"
    lines = [f"{printable(done.domain.name)} on {done.host}: {how} of {printable(done.source)} ({done.domain.uuid})"]
    for vol in done.volumes:
        on = f", on {printable(vol.backing)}" if vol.backing else ""
        lines.append(f"  volume {printable(vol.path)} ({vol.format}{on})")
    lines += [f"  shares {printable(path)}" for path in done.shared]
    if done.seed is not None and done.seed_volume is not None:
        spec = done.seed.spec
        lines.append(
            f"  seed {printable(done.seed_volume.path)} (hostname {spec.hostname}, instance-id {spec.instance_id})"
        )
    lines += [f"  MAC {mac}" for mac in done.macs]
    if done.started:
        lines.append("  started")
    typer.echo("\n".join(lines))


@guarded()
def delete_cmd(
    domain: DomainArg,
    *,
    storage: Annotated[
        bool,
        typer.Option("--storage", help="Also delete its volumes that nothing else uses (listed in the question)."),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Force a running domain off first.")] = False,
    yes: YesOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete a shut-off domain (its definition, snapshot metadata, managed save, NVRAM); asks first."""
    from vmtui.ops import delete as ops

    with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
        plan = ops.plan_delete(conn, domain, storage=storage, force=force, host=label(entry))
        confirm(plan.question(), yes=yes, as_json=as_json)
        done = run_op(
            lambda progress, cancel: ops.delete(conn, plan, progress=progress, cancel=cancel), step_printer(as_json)
        )
    if as_json:
        emit_json(done.to_json())
        return
    undo = done.undefine
    lines = [f"{printable(undo.facts.name)} on {undo.host}: deleted"]
    lines += [f"  removed volume {printable(d.source or d.target)}" for d in undo.volumes]
    lines += [f"  kept {printable(text)}" for text in undo.kept_text()]
    typer.echo("\n".join(lines))


@disk_app.command("resize")
@guarded()
def resize_cmd(
    domain: DomainArg,
    target: Annotated[str, typer.Argument(help="The disk, as the guest calls it: vda, sdb.")],
    new_size: Annotated[
        str, typer.Argument(metavar="SIZE", help="The new size (20G), or +5G to grow by that much; never smaller.")
    ],
    *,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Grow a disk: live through QEMU on a running domain, on its volume when it is shut off."""
    from vmtui.ops import resize as ops

    with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
        plan = ops.plan_resize(conn, domain, target, new_size, host=label(entry))
        done = run_op(
            lambda progress, cancel: ops.resize(conn, plan, progress=progress, cancel=cancel), step_printer(as_json)
        )
    if as_json:
        emit_json({"action": "disk resize", **done.to_json()})
        return
    how = "live" if done.live else "offline"
    typer.echo(
        f"{printable(done.domain.name)} on {done.host}: {done.target} grown from {size(done.current)} "
        f"to {size(done.capacity)} ({how})"
    )
