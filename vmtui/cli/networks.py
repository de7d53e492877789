"""`vmtui nets`: virtual networks with their DHCP leases (MAC, IP and the domain with that MAC)."""

from __future__ import annotations

import typer

from vmtui.cli.common import ConnectOpt, HostOpt, JsonOpt, emit_json, errors_json, guarded, report_host_errors
from vmtui.cli.targets import label, on_each_host, resolve_targets
from vmtui.ops import networks


def register(app: typer.Typer) -> None:
    app.command("nets")(nets_cmd)


@guarded(read_only_safe=True)
def nets_cmd(*, connect: ConnectOpt = None, host: HostOpt = None, as_json: JsonOpt = False) -> None:
    """Virtual networks on every selected host: active, autostart, forward mode, bridge, DHCP leases."""
    targets = resolve_targets(connect, host, read_only=True)
    outcomes = on_each_host(targets, networks.networks)
    rows = [(label(o.entry), n) for o in outcomes for n in (o.value or [])]
    errors = [(label(o.entry), o.error) for o in outcomes if o.error is not None]
    answered = any(o.value is not None for o in outcomes)
    if as_json:
        emit_json({"networks": [{"host": h, **n.to_json()} for h, n in rows], "errors": errors_json(errors)})
    elif answered:
        from vmtui.cli.render import console
        from vmtui.cli.render_resources import leases_table, networks_table

        console().print(networks_table(rows))
        if any(n.leases for _, n in rows):
            console().print()
            console().print(leases_table(rows))
    report_host_errors(errors, as_json=as_json, answered=answered)
