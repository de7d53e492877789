"""The `vmtui` command. Importing this never imports Textual: only the TUI entry point does."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmtui.cli import domains
from vmtui.cli.common import ConnectOpt, HostOpt, ReadOnlyOpt
from vmtui.cli.hosts import hosts_app
from vmtui.cli.top import record, top

app = typer.Typer(
    name="vmtui",
    help="A terminal console for KVM/QEMU hypervisors over libvirt. Without a command: the full-screen TUI.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(hosts_app, name="hosts")
domains.register(app)
app.command("top")(top)
app.command("record")(record)


def _add_lab() -> None:
    try:
        from vmtui.cli.lab import lab_app
    except ImportError:  # the lab is optional in a build without vmtui.lab
        return
    app.add_typer(lab_app, name="lab")


_add_lab()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    *,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    replay: Annotated[Path | None, typer.Option("--replay", help="Play back a `vmtui record` file.")] = None,
) -> None:
    """Open the full-screen TUI on every saved host (or -c URI / --host NAME)."""
    if ctx.invoked_subcommand is not None:
        return
    from vmtui.cli.tui import run_tui

    run_tui(connect=connect, host=host, read_only=read_only, replay=replay)


def main() -> None:
    app()
