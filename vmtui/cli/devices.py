"""`vmtui devices`: a domain's devices with their class and the virtio advice; `virtio`, `add-disk`, `add-nic`.

`vmtui devices DOMAIN` is `vmtui devices show DOMAIN` (a domain named like a subcommand needs `show`).
Every change runs the same `vmtui.ops` function as the TUI, on a thread of its own so that Ctrl-C
becomes the operation's cancel (it stops between steps and reports what was done).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

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
from vmtui.cli.targets import domain_host, label
from vmtui.drivers.base import Hypervisor

T = TypeVar("T")


devices_app = typer.Typer(
    cls=defaulting_to("show"),
    help="A domain's devices: paravirtual, emulated or passthrough, and switching them to virtio.",
)


def _with_domain(
    domain: str,
    connect: list[str] | None,
    host: list[str] | None,
    read_only: bool,
    work: Callable[[Hypervisor, str], T],
) -> tuple[str, T]:
    with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
        return label(entry), work(conn, label(entry))


@devices_app.command("show")
@guarded(read_only_safe=True)
def show(domain: DomainArg, *, connect: ConnectOpt = None, host: HostOpt = None, as_json: JsonOpt = False) -> None:
    """Every device of DOMAIN: class, bus, model, and what switching it to virtio needs."""
    from vmtui.ops import devices

    where, report = _with_domain(domain, connect, host, True, lambda conn, _h: devices.report(conn, domain))
    if as_json:
        emit_json({**report.to_json(), "host": where})
        return
    from vmtui.cli.render import console
    from vmtui.cli.render_devices import devices_view

    console().print(devices_view(where, report))


@devices_app.command("virtio")
@guarded()
def virtio(
    domain: DomainArg,
    *,
    nic: Annotated[str | None, typer.Option("--nic", help="The NIC: its MAC, target (vnet0) or alias.")] = None,
    disk: Annotated[str | None, typer.Option("--disk", help="The disk: its target (sda, hdb).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every emulated NIC and disk.")] = False,
    live: LiveOpt = False,
    config: ConfigOpt = False,
    timeout: ReleaseTimeoutOpt = 20.0,
    yes: YesOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Switch an emulated NIC or disk to virtio (a NIC live and in the config, a disk in the config). Asks first."""
    from vmtui.ops import virtio as ops

    def work(conn: Hypervisor, where: str) -> ops.VirtioResult:
        plan = ops.plan_virtio(conn, domain, nic=nic, disk=disk, every=every, live=live, config=config)
        question = f"Switch to virtio on {plan.docs.name} ({where})? " + " | ".join(plan.describe())
        confirm(question, yes=yes or not plan.devices, as_json=as_json)
        return run_op(
            lambda progress, cancel: ops.to_virtio(
                conn, plan.docs.uuid, nic=nic, disk=disk, every=every, live=live, config=config,
                release_timeout=timeout, progress=progress, cancel=cancel,
            ),
            step_printer(as_json),
        )  # fmt: skip

    _where, result = _with_domain(domain, connect, host, read_only, work)
    report_change(result, as_json=as_json)


@devices_app.command("add-disk")
@guarded()
def add_disk(
    domain: DomainArg,
    size: Annotated[str, typer.Argument(help="Size with a unit: 10G, 512M, 1.5T (binary), 20GB (decimal).")],
    *,
    pool: Annotated[str, typer.Option("--pool", help="Storage pool for the new volume.")] = "default",
    name: Annotated[str | None, typer.Option("--name", help="Volume name (default DOMAIN-vdX.qcow2).")] = None,
    live: LiveOpt = False,
    config: ConfigOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """A new qcow2 volume in a storage pool, attached to DOMAIN as a virtio disk (live and config)."""
    from vmtui.ops import devices

    _where, change = _with_domain(
        domain, connect, host, read_only,
        lambda conn, _h: run_op(
            lambda progress, cancel: devices.add_disk(
                conn, domain, size, pool=pool, name=name, live=live, config=config, progress=progress, cancel=cancel
            ),
            step_printer(as_json),
        ),
    )  # fmt: skip
    report_change(change, as_json=as_json)


@devices_app.command("add-nic")
@guarded()
def add_nic(
    domain: DomainArg,
    *,
    network: Annotated[str | None, typer.Option("--network", help="libvirt network (default: default).")] = None,
    bridge: Annotated[str | None, typer.Option("--bridge", help="A host bridge instead of a network.")] = None,
    user: Annotated[bool, typer.Option("--user", help="QEMU user-mode networking (no host setup).")] = False,
    mac: Annotated[str | None, typer.Option("--mac", help="MAC address (default: libvirt picks one).")] = None,
    live: LiveOpt = False,
    config: ConfigOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """A virtio NIC for DOMAIN on a libvirt network, a host bridge or user-mode networking (live and config)."""
    from vmtui.ops import devices

    _where, change = _with_domain(
        domain, connect, host, read_only,
        lambda conn, _h: run_op(
            lambda progress, cancel: devices.add_nic(
                conn, domain, network=network, bridge=bridge, user=user, mac=mac, live=live, config=config,
                progress=progress, cancel=cancel,
            ),
            step_printer(as_json),
        ),
    )  # fmt: skip
    report_change(change, as_json=as_json)
