"""`vmtui create NAME`: a new VM from an image, an ISO or a kernel, with a cloud-init seed (ops/create.py)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from vmtui.cli.common import (
    CloudInitOpt,
    ConnectOpt,
    HostnameOpt,
    HostOpt,
    JsonOpt,
    NetworkConfigOpt,
    PasswordHashOpt,
    ReadOnlyOpt,
    SshKeyOpt,
    UserOpt,
    emit_json,
    guarded,
)
from vmtui.cli.runner import run_op
from vmtui.cli.targets import label, one_host, open_entry, resolve_targets
from vmtui.errors import OperationError, UsageError
from vmtui.ops import create as ops

SOURCE = "A file on this machine (uploaded to the host) or POOL/VOLUME on the host."
ImageOpt = Annotated[str | None, typer.Option("--image", help=f"A qcow2 or raw disk image. {SOURCE}")]
IsoOpt = Annotated[
    str | None, typer.Option("--iso", help=f"An installer ISO (CD-ROM; boots it, then the disk). {SOURCE}")
]
KernelOpt = Annotated[str | None, typer.Option("--kernel", help=f"Boot this kernel directly. {SOURCE}")]
InitrdOpt = Annotated[str | None, typer.Option("--initrd", help=f"The initrd of --kernel. {SOURCE}")]
CmdlineOpt = Annotated[str, typer.Option("--cmdline", help="The kernel command line of --kernel.")]
LinkedOpt = Annotated[
    bool, typer.Option("--linked", help="With --image POOL/VOLUME: a qcow2 overlay on it instead of a copy.")
]
MemoryOpt = Annotated[
    str | None, typer.Option("--memory", help="With a unit: 2G, 512MiB. Default: --os's recommendation, else 1 GiB.")
]
VcpusOpt = Annotated[int | None, typer.Option("--vcpus", help="Default: --os's recommendation, else 1.")]
DiskOpt = Annotated[
    str | None,
    typer.Option("--disk", help="With a unit: the empty disk of --iso or --kernel, or a --linked overlay's size."),
]
PoolOpt = Annotated[str, typer.Option("--pool", help="The storage pool of the new volumes.")]
NetworkOpt = Annotated[
    str | None,
    typer.Option("--network", help="NAME (a libvirt network), bridge=BR, or user. Default: network 'default'."),
]
OsOpt = Annotated[
    str | None, typer.Option("--os", help="osinfo short id (debian11, win10): memory, vCPU and virtio defaults.")
]
AccelOpt = Annotated[
    str | None, typer.Option("--accel", help="kvm or tcg. Default: KVM where the host can use it, else TCG.")
]
StartOpt = Annotated[bool, typer.Option("--start", help="Start the VM once it is made.")]
ConsoleFlag = Annotated[bool, typer.Option("--console", help="Start it and attach to its serial console.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan and the domain XML; change nothing.")]


def register(app: typer.Typer) -> None:
    app.command("create")(create_cmd)


@guarded()
def create_cmd(
    name: Annotated[str, typer.Argument(help="The new domain's name.")],
    *,
    image: ImageOpt = None,
    iso: IsoOpt = None,
    kernel: KernelOpt = None,
    initrd: InitrdOpt = None,
    cmdline: CmdlineOpt = "",
    linked: LinkedOpt = False,
    memory: MemoryOpt = None,
    vcpus: VcpusOpt = None,
    disk: DiskOpt = None,
    pool: PoolOpt = "default",
    network: NetworkOpt = None,
    os_variant: OsOpt = None,
    accel: AccelOpt = None,
    start: StartOpt = False,
    console: ConsoleFlag = False,
    dry_run: DryRunOpt = False,
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
    """Create VM NAME from --image, --iso or --kernel, with a cloud-init seed when any cloud-init option is given."""
    if console and as_json:
        raise UsageError("--console needs a terminal; --json prints the result instead")
    if console and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("--console needs a terminal")
    request = ops.CreateRequest(
        name=name,
        image=image,
        iso=iso,
        kernel=kernel,
        initrd=initrd,
        cmdline=cmdline,
        linked=linked,
        memory=memory,
        vcpus=vcpus,
        disk=disk,
        pool=pool,
        network=network,
        os_variant=os_variant,
        accel=accel,
        cloud_init=ops.CloudInit(cloud_init, hostname, user, ssh_key, password_hash, network_config),
        start=start or console,
    )
    # Everything this machine can tell is refused before any host is contacted.
    checked = ops.check_request(request)
    entry = one_host(resolve_targets(connect, host, read_only=read_only or dry_run), "create")
    with open_entry(entry) as conn:
        plan = ops.plan_create(conn, request, dry_run=dry_run, checked=checked)
        if dry_run:
            _show_plan(plan, as_json=as_json)
            return
        if as_json:
            done = run_op(lambda progress, cancel: ops.create(conn, plan, progress=progress, cancel=cancel), _quiet)
        else:
            from vmtui.cli.migrate_render import ProgressPrinter

            for note in plan.notes:
                sys.stderr.write(f"vmtui: {note}\n")
            with ProgressPrinter(f"create {name}") as printer:
                done = run_op(
                    lambda progress, cancel: ops.create(conn, plan, progress=progress, cancel=cancel), printer
                )
        command = None
        if console:
            from vmtui.ops import console as console_ops

            command = console_ops.console_command(conn, name, uri=entry.uri, host=label(entry))
    if as_json:
        emit_json({"host": label(entry), **done.to_json()})
        return
    _show_result(done, label(entry))
    if command is not None:
        from vmtui.ops import console as console_ops

        sys.stderr.write(f"vmtui: console of {name} on {label(entry)}; Ctrl-] returns\n")
        ended = console_ops.attach(command)
        if ended.returncode != 0:
            raise OperationError(f"console of {name}: {ended.error or f'virsh exit {ended.returncode}'}")


def _quiet(_step: object) -> None:
    """--json: stdout is the one result document; no steps."""


def _show_plan(plan: ops.CreatePlan, *, as_json: bool) -> None:
    if as_json:
        emit_json({"dry_run": True, **plan.to_json(), "xml": plan.xml})
        return
    from vmtui.cli.render import console
    from vmtui.richtext import lit

    out = console()
    styles = {"title": "bold", "note": "yellow", "": ""}
    for line, kind in ops.plan_lines(plan):
        out.print(lit(line, styles[kind]))
    out.file.flush()
    sys.stdout.write(plan.xml)  # XML as it is (lxml escaped every name in it): no markup, no wrapping


def _show_result(done: ops.CreateResult, host: str) -> None:
    from vmtui.cli.render import console
    from vmtui.richtext import lit

    out = console()
    out.print(lit(f"created {done.name} on {host}: {done.state}, uuid {done.uuid}"))
    for step, vol in zip(done.plan.volumes, done.volumes, strict=True):
        out.print(lit(f"  {step.role}: {vol.path or vol.name}", "dim"))
