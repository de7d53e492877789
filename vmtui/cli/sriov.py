"""`vmtui sriov`: physical functions, their VFs and who holds them; `vfs` (VF count), `pool`, `attach`, `detach`.

`vmtui sriov` alone is `vmtui sriov list`. The changes run the same `vmtui.ops` functions as the TUI's
SR-IOV screen; the VF count goes to sysfs, locally or over the host's own SSH (`qemu+ssh://` hosts).
"""

from __future__ import annotations

from typing import Annotated

import typer

from vmtui.cli.common import (
    ConfigOpt,
    ConnectOpt,
    DomainArg,
    HostOpt,
    JsonOpt,
    LiveOpt,
    ReadOnlyOpt,
    ReleaseTimeoutOpt,
    YesOpt,
    confirm,
    emit_json,
    guarded,
    report_change,
)
from vmtui.cli.default_group import defaulting_to
from vmtui.cli.runner import run_op, step_printer
from vmtui.cli.targets import domain_host, label, one_host, open_entry, resolve_targets

sriov_app = typer.Typer(
    cls=defaulting_to("list"), help="SR-IOV: physical functions, VF counts, VF pools, VFs for guests."
)

PfArg = Annotated[str, typer.Argument(help="The PF: its netdev (eth3), PCI address (0000:03:00.0) or nodedev name.")]
MacOpt = Annotated[str | None, typer.Option("--mac", help="The VF NIC's MAC address.")]
VfOpt = Annotated[str | None, typer.Option("--vf", help="One VF by PCI address (0000:03:10.1).")]


@sriov_app.command("list")
@guarded(read_only_safe=True)
def list_pfs(*, connect: ConnectOpt = None, host: HostOpt = None, as_json: JsonOpt = False) -> None:
    """Physical functions with total and current VF counts; each VF with its address, MAC/VLAN and the VM using it."""
    from vmtui.ops import sriov

    entry = one_host(resolve_targets(connect, host, read_only=True), "SR-IOV")
    with open_entry(entry) as conn:
        report = sriov.inventory(conn)
    if as_json:
        emit_json({**report.to_json(), "host": label(entry)})
        return
    from vmtui.cli.render import console
    from vmtui.cli.render_devices import sriov_view

    console().print(sriov_view(label(entry), report))


@sriov_app.command("vfs")
@guarded()
def vfs(
    pf: PfArg,
    count: Annotated[int, typer.Argument(min=0, help="The new VF count (0 removes them all).")],
    *,
    yes: YesOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Set the PF's VF count (sriov_numvfs); a non-zero count changes through 0. Asks first when VFs go."""
    from vmtui.ops import sriov

    entry = one_host(resolve_targets(connect, host, read_only=read_only), "SR-IOV")
    with open_entry(entry) as conn:
        plan = sriov.plan_vf_count(conn, pf, count)
        if plan.current and plan.writes:
            confirm(f"Set VF count: {plan.describe()}?", yes=yes, as_json=as_json)
        change = run_op(
            lambda progress, cancel: sriov.set_vf_count(conn, pf, count, progress=progress, cancel=cancel),
            step_printer(as_json),
        )
    if as_json:
        emit_json({**change.to_json(), "host": label(entry)})
    else:
        typer.echo(f"{label(entry)}: {change.summary()}")


@sriov_app.command("pool")
@guarded()
def pool(
    pf: PfArg,
    *,
    name: Annotated[str | None, typer.Option("--name", help="Network name (default sriov-<PF netdev>).")] = None,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """A VF pool: a libvirt network in hostdev mode over the PF (started, autostart)."""
    from vmtui.ops import sriov

    entry = one_host(resolve_targets(connect, host, read_only=read_only), "SR-IOV")
    with open_entry(entry) as conn:
        made = run_op(
            lambda progress, cancel: sriov.create_pool(conn, pf, name=name, progress=progress, cancel=cancel),
            step_printer(as_json),
        )
    if as_json:
        emit_json({**made.to_json(), "host": label(entry)})
    else:
        typer.echo(f"{label(entry)}: {made.summary()}")


@sriov_app.command("attach")
@guarded()
def attach(
    domain: DomainArg,
    *,
    pool_name: Annotated[str | None, typer.Option("--pool", help="A VF pool: libvirt picks a free VF.")] = None,
    vf: VfOpt = None,
    mac: MacOpt = None,
    vlan: Annotated[int | None, typer.Option("--vlan", min=1, max=4094, help="VLAN tag for the VF (1-4094).")] = None,
    live: LiveOpt = False,
    config: ConfigOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Give DOMAIN a VF (from a pool, or by address) with an optional MAC and VLAN (live and config)."""
    from vmtui.ops import vf as ops

    with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
        change = run_op(
            lambda progress, cancel: ops.attach_vf(
                conn, domain, pool=pool_name, vf=vf, mac=mac, vlan=vlan, live=live, config=config,
                progress=progress, cancel=cancel,
            ),
            step_printer(as_json),
        )  # fmt: skip
    report_change(change, as_json=as_json)


@sriov_app.command("detach")
@guarded()
def detach(
    domain: DomainArg,
    *,
    vf: VfOpt = None,
    mac: MacOpt = None,
    live: LiveOpt = False,
    config: ConfigOpt = False,
    timeout: ReleaseTimeoutOpt = 20.0,
    yes: YesOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Take a VF (by address, or its NIC's MAC) from DOMAIN: config first, then the running guest. Asks first."""
    from vmtui.ops import vf as ops

    with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
        plan = ops.plan_detach_vf(conn, domain, vf=vf, mac=mac, live=live, config=config)
        confirm(f"{plan.describe()[0].upper()}{plan.describe()[1:]} on {label(entry)}?", yes=yes, as_json=as_json)
        change = run_op(
            lambda progress, cancel: ops.detach_vf(
                conn, plan.docs.uuid, vf=vf, mac=mac, live=live, config=config, release_timeout=timeout,
                progress=progress, cancel=cancel,
            ),
            step_printer(as_json),
        )  # fmt: skip
    report_change(change, as_json=as_json)
