"""`vmtui xml`, `edit`, `define` and `undefine`: a domain's definition, as virsh dumpxml/edit/define/undefine."""

from __future__ import annotations

import os
import sys
from pathlib import Path
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
from vmtui.cli.targets import domain_host, label, open_entry, resolve_targets
from vmtui.drivers.base import Hypervisor
from vmtui.errors import OperationError, UsageError, VmtuiError
from vmtui.models import HostEntry
from vmtui.ops import xml as ops
from vmtui.ops.base import no_progress

InactiveOpt = Annotated[
    bool, typer.Option("--inactive", help="The persistent definition (what the next boot uses), not the live one.")
]


def register(app: typer.Typer) -> None:
    app.command("xml")(xml_cmd)
    app.command("edit")(edit_cmd)
    app.command("define")(define_cmd)
    app.command("undefine")(undefine_cmd)


@guarded(read_only_safe=True)
def xml_cmd(
    domain: DomainArg,
    *,
    inactive: InactiveOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    replay: ReplayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The domain's XML: highlighted on a terminal, exactly as libvirt gave it when piped."""
    with domain_host(domain, connect, host, read_only=True, replay=replay) as (entry, conn):
        result = ops.domain_xml(conn, domain, inactive=inactive, host=label(entry))
    if as_json:
        emit_json(result.to_json())
    elif sys.stdout.isatty():
        from rich.syntax import Syntax

        from vmtui.cli.render import console
        from vmtui.present import printable_text

        # Syntax shows text literally; control characters a hostile host might send never reach the terminal.
        console().print(Syntax(printable_text(result.xml), "xml", theme="ansi_dark", background_color="default"))
    else:
        sys.stdout.write(result.xml if result.xml.endswith("\n") else result.xml + "\n")


def _define_edit(conn: Hypervisor, session: ops.EditSession, edited: str) -> ops.Defined:
    return run_op(
        lambda progress, cancel: ops.finish_edit(conn, session, edited, progress=progress, cancel=cancel), no_progress
    )


def _edit_until_defined(conn: Hypervisor, session: ops.EditSession, *, as_json: bool) -> ops.Defined:
    """Editor, then define; on a refusal say why and offer the same file again. The file always goes,
    except when the definition changed under us: then the user's work is kept and named."""
    path = ops.edit_file(session)
    keep = False
    try:
        while True:
            ops.run_editor(path, os.environ)
            try:
                return _define_edit(conn, session, ops.read_edit(path))
            except (OperationError, UsageError) as exc:
                if "changed while it was being edited" in exc.message:
                    keep = True
                    raise OperationError(exc.message, hint=f"your edit is kept in {path}") from exc
                if not _ask_again(exc, as_json=as_json):
                    unchanged = f"{session.domain.name}: not defined; its definition is unchanged"
                    raise OperationError(unchanged) from exc
    finally:
        if keep:
            ops.keep_edit(path)
        else:
            ops.discard_edit(path)


def _ask_again(error: VmtuiError, *, as_json: bool) -> bool:
    from vmtui.present import printable

    sys.stderr.write(f"vmtui: error: {printable(str(error))}\n")
    try:
        confirm("Edit again?", yes=False, as_json=as_json)
    except UsageError:
        return False
    return True


@guarded()
def edit_cmd(
    domain: DomainArg,
    *,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Edit the persistent definition in $VISUAL/$EDITOR; libvirt validates it, a refusal changes nothing."""
    if not sys.stdin.isatty():
        raise UsageError("edit opens an editor and needs a terminal", hint="vmtui xml X --inactive > F; vmtui define F")
    with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
        session = ops.begin_edit(conn, domain, host=label(entry))
        result = _edit_until_defined(conn, session, as_json=as_json)
    if as_json:
        emit_json(result.to_json())
    elif not result.changed:
        typer.echo(f"{_name(result.domain.name)}: no changes")
    else:
        when = " (it applies when the domain next starts)" if result.next_boot else ""
        typer.echo(f"{_name(result.domain.name)} on {result.host}: new definition saved{when}")


def _name(name: str) -> str:
    from vmtui.present import printable

    return printable(name)


def _one_target(connect: list[str] | None, host: list[str] | None, read_only: bool) -> HostEntry:
    targets = resolve_targets(connect, host, read_only=read_only)
    if len(targets) != 1:
        raise UsageError(
            f"this acts on one host, and {len(targets)} are selected", hint="pick one with --host NAME or -c URI"
        )
    return targets[0]


FileArg = Annotated[Path, typer.Argument(help="A domain XML file ('-' reads standard input).")]


@guarded()
def define_cmd(
    file: FileArg,
    *,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Define a domain from an XML file (new, or a new definition of the domain with its UUID or name)."""
    entry = _one_target(connect, host, read_only)
    source = str(file)
    try:
        data = sys.stdin.buffer.read(ops.MAX_XML_BYTES + 1) if source == "-" else file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from exc
    text = ops.read_definition(data, source)
    with open_entry(entry) as conn:
        result = run_op(
            lambda progress, cancel: ops.define(
                conn, text, source=source, host=label(entry), progress=progress, cancel=cancel
            ),
            no_progress,
        )
    if as_json:
        emit_json(result.to_json())
    else:
        what = "defined" if result.created else "new definition saved"
        when = " (it applies when the domain next starts)" if result.next_boot else ""
        typer.echo(f"{_name(result.domain.name)} on {result.host}: {what} from {source}{when}")


@guarded()
def undefine_cmd(
    domain: DomainArg,
    *,
    remove_storage: Annotated[
        bool,
        typer.Option("--remove-storage", help="Also delete its writable disks that a storage pool holds."),
    ] = False,
    keep_nvram: Annotated[bool, typer.Option("--keep-nvram", help="Keep the UEFI variables file.")] = False,
    yes: YesOpt = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove a domain's definition, with its snapshot metadata, managed save and NVRAM (asks first)."""
    with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
        plan = ops.plan_undefine(conn, domain, keep_nvram=keep_nvram, remove_storage=remove_storage, host=label(entry))
        confirm(plan.question(), yes=yes, as_json=as_json)
        done = run_op(lambda progress, cancel: ops.undefine(conn, plan, progress=progress, cancel=cancel), no_progress)
    if as_json:
        emit_json({"action": "undefine", **done.to_json()})
        return
    lines = [f"{_name(done.facts.name)} on {done.host}: undefined"]
    if done.facts.active:
        lines.append("  it runs on as a transient domain until it stops")
    lines += [f"  removed volume {_name(d.source or d.target)}" for d in done.volumes]
    lines += [f"  kept {_name(text)}" for text in done.kept_text()]
    typer.echo("\n".join(lines))
