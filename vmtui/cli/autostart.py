"""`vmtui autostart DOMAIN on|off` and `vmtui net-autostart NETWORK on|off`."""

from __future__ import annotations

from typing import Annotated

import typer

from vmtui.cli.bulk import ParallelOpt, one_or_filter, run_filtered
from vmtui.cli.common import ConnectOpt, FilterOpt, HostOpt, JsonOpt, ReadOnlyOpt, YesOpt, emit_json, guarded
from vmtui.cli.runner import run_op
from vmtui.cli.targets import domain_host, label, on_each_host, open_entry, resolve_targets
from vmtui.drivers.resources import live
from vmtui.errors import NotFoundError, UsageError
from vmtui.models import HostEntry
from vmtui.ops import bulk
from vmtui.ops.autostart import set_autostart
from vmtui.ops.base import no_progress

SWITCH = {"on": True, "off": False}
SwitchArg = Annotated[str, typer.Argument(help="on or off.", metavar="on|off")]
DomainOrSwitchArg = Annotated[
    str | None, typer.Argument(help="Domain name, UUID or ID; with --filter, on or off.", metavar="[DOMAIN]")
]
OptionalSwitchArg = Annotated[str | None, typer.Argument(help="on or off.", metavar="on|off", show_default=False)]
NetworkArg = Annotated[str, typer.Argument(help="Virtual network name (see `vmtui nets`).")]


def register(app: typer.Typer) -> None:
    app.command("autostart")(autostart_cmd)
    app.command("net-autostart")(net_autostart_cmd)


def _switch(value: str) -> bool:
    if value.lower() not in SWITCH:
        raise UsageError(f"{value!r} is neither on nor off")
    return SWITCH[value.lower()]


def find_network(targets: list[HostEntry], name: str) -> HostEntry:
    """The one target that has network `name`; refuses when it is on none or on several."""
    if len(targets) == 1:
        return targets[0]
    outcomes = on_each_host(targets, lambda conn: live(conn, "networks").network(name))
    found = [o.entry for o in outcomes if o.value is not None]
    if not found:
        failed = [o.error for o in outcomes if o.error is not None and not isinstance(o.error, NotFoundError)]
        if failed:
            raise failed[0]
        raise NotFoundError(f"no network {name!r} on {', '.join(label(t) for t in targets)}")
    if len(found) > 1:
        raise UsageError(f"network {name!r} exists on {', '.join(e.name for e in found)}", hint="pick one with --host")
    return found[0]


def _done(host: str, kind: str, name: str, on: bool, as_json: bool) -> None:
    if as_json:
        emit_json({"host": host, "kind": kind, "name": name, "autostart": on})
        return
    from vmtui.cli.render import console
    from vmtui.richtext import lit

    line = lit(f"autostart {'on' if on else 'off'}: {kind} {name} on {host}")
    console().print(line)


@guarded()
def autostart_cmd(
    domain: DomainOrSwitchArg = None,
    switch: OptionalSwitchArg = None,
    *,
    filter_expr: FilterOpt = None,
    parallel: ParallelOpt = None,
    yes: YesOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Start DOMAIN (or every domain --filter matches) when its host boots (on), or not (off)."""
    if filter_expr is not None and switch is None:
        domain, switch = None, domain  # `autostart --filter EXPR on`: the one argument is the switch
    if switch is None:
        raise UsageError("missing on|off")
    on = _switch(switch)
    at_once = one_or_filter(domain, filter_expr, parallel)
    if domain is None:
        run_filtered(
            bulk.autostart_action(on),
            f"Autostart {switch.lower()} for",
            filter_expr or "",
            connect=connect,
            host=host,
            read_only=read_only,
            yes=yes,
            destructive=False,
            parallel=at_once,
            as_json=as_json,
        )
        return
    with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
        done = run_op(
            lambda progress, cancel: set_autostart(conn, "domain", domain, on, progress=progress, cancel=cancel),
            no_progress,
        )
    _done(label(entry), "domain", done.name, done.autostart, as_json)


@guarded()
def net_autostart_cmd(
    network: NetworkArg,
    switch: SwitchArg,
    *,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Start virtual NETWORK when its host boots (on), or not (off)."""
    on = _switch(switch)
    entry = find_network(resolve_targets(connect, host, read_only=read_only), network)
    with open_entry(entry) as conn:
        done = run_op(
            lambda progress, cancel: set_autostart(conn, "network", network, on, progress=progress, cancel=cancel),
            no_progress,
        )
    _done(label(entry), "network", done.name, done.autostart, as_json)
