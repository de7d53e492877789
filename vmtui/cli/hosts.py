"""`vmtui hosts`: saved hosts, their reachability and what their hypervisor offers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from vmtui.cli.common import ConnectOpt, HostOpt, JsonOpt, emit_json, guarded
from vmtui.cli.targets import on_each_host
from vmtui.config import HostStore, resolve_targets
from vmtui.models import HostEntry

hosts_app = typer.Typer(
    help="Saved hosts: `vmtui hosts` shows them with reachability and maintenance; `add` and `rm` change them "
    "(maintenance: see `vmtui host --help`).",
    no_args_is_help=False,
)


@hosts_app.callback(invoke_without_command=True)
@guarded(read_only_safe=True)
def hosts_list(
    ctx: typer.Context, *, connect: ConnectOpt = None, host: HostOpt = None, as_json: JsonOpt = False
) -> None:
    """Saved hosts (or those given with -c / -H) with reachability, versions, KVM and EPT/NPT."""
    if ctx.invoked_subcommand is not None:
        return
    entries = resolve_targets(connect, host, read_only=True) if connect or host else HostStore().load()
    outcomes = on_each_host(entries, lambda conn: conn.host_info()) if entries else []
    if as_json:
        emit_json(
            [
                {
                    "name": o.entry.name,
                    "uri": o.entry.uri,
                    "read_only": o.entry.read_only,
                    "maintenance": o.entry.maintenance,
                    "reachable": o.error is None,
                    "error": None if o.error is None else o.error.error_body(),
                    "info": asdict(o.value) if o.value is not None else None,
                }
                for o in outcomes
            ]
        )
        return
    from vmtui.cli.render import console, hosts_table

    if not entries:
        console().print("No saved hosts. Add one with: vmtui hosts add NAME URI")
        return
    rows = [
        (o.entry.name, o.entry.uri, o.entry.read_only, o.value, str(o.error) if o.error else None, o.entry.maintenance)
        for o in outcomes
    ]
    console().print(hosts_table(rows))


@hosts_app.command("add")
@guarded()
def hosts_add(
    name: Annotated[str, typer.Argument(help="Short name, e.g. kvm1.")],
    uri: Annotated[str, typer.Argument(help="libvirt URI, e.g. qemu+ssh://root@kvm1/system.")],
    *,
    read_only: Annotated[bool, typer.Option("--read-only", "-r", help="Always open this host read-only.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Save a host (not contacted: `vmtui hosts` checks reachability)."""
    entry = HostEntry(name=name, uri=uri, read_only=read_only)
    HostStore().add(entry)
    if as_json:
        emit_json({"added": asdict(entry)})
    else:
        typer.echo(f"saved host {name}: {uri}{' (read-only)' if read_only else ''}")


@hosts_app.command("rm")
@guarded()
def hosts_rm(name: Annotated[str, typer.Argument(help="A saved host name.")], *, as_json: JsonOpt = False) -> None:
    """Forget a saved host."""
    entry = HostStore().remove(name)
    if as_json:
        emit_json({"removed": asdict(entry)})
    else:
        typer.echo(f"removed host {name}")
