"""The `vmtui` command. Importing this never imports Textual: only the TUI entry point does."""

from __future__ import annotations

import sys

import typer

# typer vendors click (typer._click) and raises its exceptions; the CLI turns its usage errors into
# vmtui's own one-line (or JSON) errors, so it has to name them.
from typer import _click as click

from vmtui.cli import autostart, console, domains, memory, migrate, networks, storage, xml
from vmtui.cli.common import ConnectOpt, HostOpt, JsonOpt, ReadOnlyOpt, ReplayOpt, emit_json, set_global_options
from vmtui.cli.devices import devices_app
from vmtui.cli.export import export
from vmtui.cli.hosts import hosts_app
from vmtui.cli.snapshot import snapshot_app
from vmtui.cli.sriov import sriov_app
from vmtui.cli.top import record, top
from vmtui.errors import ExitCode, UsageError

app = typer.Typer(
    name="vmtui",
    help="A terminal console for KVM/QEMU hypervisors over libvirt. Without a command: the full-screen TUI.",
    no_args_is_help=False,
    # typer's own --install-completion / --show-completion; domain and host names complete too.
    add_completion=True,
    pretty_exceptions_enable=False,
)
app.add_typer(hosts_app, name="hosts")
app.add_typer(devices_app, name="devices")
app.add_typer(sriov_app, name="sriov")
domains.register(app)
memory.register(app)
console.register(app)
xml.register(app)
app.add_typer(snapshot_app, name="snapshot")
storage.register(app)
networks.register(app)
autostart.register(app)
migrate.register(app)
app.command("top")(top)
app.command("record")(record)
app.command("export")(export)


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
    replay: ReplayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open the full-screen TUI on every saved host (or -c URI / --host NAME).

    Options given here apply to the command that follows, exactly as if given after it.
    """
    set_global_options(
        connect=connect,
        host=host,
        read_only=read_only,
        replay=replay,
        as_json=as_json,
    )
    if ctx.invoked_subcommand is not None:
        return
    from vmtui.cli.tui import run_tui

    run_tui(connect=connect, host=host, read_only=read_only, replay=replay, as_json=as_json)


def main() -> None:
    """Run the CLI; usage errors are one line (or a JSON error with --json) and exit 2, never a box."""
    try:
        rc = app(standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("vmtui: interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))
    except click.exceptions.UsageError as exc:
        path = exc.ctx.command_path if exc.ctx is not None else "vmtui"
        err = UsageError(exc.format_message(), hint=f"see `{path} --help`")
        if "--json" in sys.argv[1:]:
            emit_json(err.to_json())
        else:
            sys.stderr.write(f"vmtui: error: {err}\n")
        sys.exit(int(ExitCode.USAGE))
    except click.exceptions.ClickException as exc:
        sys.stderr.write(f"vmtui: error: {exc.format_message()}\n")
        sys.exit(exc.exit_code)
    # Without standalone mode an Exit's code comes back as the return value (a command's own is None).
    sys.exit(rc if isinstance(rc, int) else 0)
