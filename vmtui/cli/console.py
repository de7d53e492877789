"""`vmtui console DOMAIN` (the serial console, through virsh) and `vmtui display DOMAIN` (VNC/SPICE)."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer

from vmtui.cli.common import ConnectOpt, DomainArg, HostOpt, JsonOpt, ReadOnlyOpt, emit_json, guarded
from vmtui.cli.targets import domain_host, label
from vmtui.errors import OperationError, UsageError
from vmtui.ops import console as ops

LocalPortOpt = Annotated[
    int | None,
    typer.Option("--local-port", help="Local end of the SSH tunnel (on 127.0.0.1); default: the display's port."),
]
OpenOpt = Annotated[bool, typer.Option("--open", help="Start virt-viewer on the display (when installed).")]


def register(app: typer.Typer) -> None:
    app.command("console")(console_cmd)
    app.command("display")(display_cmd)


@guarded()
def console_cmd(
    domain: DomainArg,
    *,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Attach to the domain's serial console (virsh console); Ctrl-] returns. --json prints the command."""
    with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
        command = ops.console_command(conn, domain, uri=entry.uri, host=label(entry))
    if as_json:
        # A console is a conversation on a terminal; a script gets the command to run instead.
        emit_json(command.to_json())
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the console needs a terminal", hint="--json prints the command to run instead")
    from vmtui.present import printable

    sys.stderr.write(f"vmtui: console of {printable(command.domain.name)} on {label(entry)}; Ctrl-] returns\n")
    ended = ops.attach(command)
    if ended.returncode != 0:
        raise OperationError(f"console of {command.domain.name}: {ended.error or f'virsh exit {ended.returncode}'}")


@guarded(read_only_safe=True)
def display_cmd(
    domain: DomainArg,
    *,
    local_port: LocalPortOpt = None,
    open_viewer: OpenOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The domain's VNC/SPICE display: its URI, and for a remote host the SSH tunnel that reaches it."""
    with domain_host(domain, connect, host, read_only=True) as (entry, conn):
        info = ops.display(conn, domain, uri=entry.uri, host=label(entry), local_port=local_port)
    pid = ops.open_viewer(info) if open_viewer else None
    if as_json:
        emit_json({**info.to_json(), "viewer_pid": pid})
        return
    from rich.text import Text

    from vmtui.cli.render import console
    from vmtui.richtext import lit

    out = console()
    for d in info.displays:
        head = Text(f"{d.type} ", "bold")
        head.append_text(lit(info.domain.name))
        head.append(f" on {label(entry)}: ")
        head.append(f"port {d.port}" if d.port else lit(d.socket or "no port"))
        if d.tls_port:
            head.append(f", TLS port {d.tls_port}")
        if d.listen:
            head.append_text(lit(f", listening on {d.listen}"))
        out.print(head)
        if d.uri:
            out.print(Text("  viewer URI: ").append_text(lit(d.uri, "green")))
        if d.tunnel:
            out.print("  from here, through SSH (the local end listens on 127.0.0.1 only):")
            out.print(Text("    ").append_text(lit(shlex.join(d.tunnel), "cyan")), soft_wrap=True)
            out.print(Text("  then: ").append_text(lit(d.tunnel_uri or "", "green")))
        if d.note:
            out.print(Text("  ").append_text(lit(d.note, "dim")))
    if pid is not None:
        out.print(f"virt-viewer started (pid {pid})")
    else:
        out.print(Text("or: ").append_text(lit(shlex.join(info.viewer), "cyan")), soft_wrap=True)
