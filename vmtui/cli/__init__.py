"""The `vmtui` command. Importing this never imports Textual: only the TUI entry point does."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

import typer

# typer vendors click (typer._click) and raises its exceptions; the CLI turns its usage errors into
# vmtui's own one-line (or JSON) errors, so it has to name them.
from typer import _click as click

from vmtui.cli.common import ConnectOpt, HostOpt, JsonOpt, ReadOnlyOpt, ReplayOpt, emit_json, set_global_options
from vmtui.errors import ExitCode, UsageError

# ----- the commands, registered only when needed ---------------------------------------------------
#
# Building every command (importing 20 modules, and typer reading ~200 parameters' annotations) costs more
# than most commands' own work. `main()` looks at argv for the subcommand and registers only the group that
# holds it; `--help`, completion, no command, or a name not in the table below get the full app, so what
# the user sees never depends on this shortcut (tests/unit/test_cli_dispatch.py keeps the table honest).


def _hosts(app: typer.Typer) -> None:
    from vmtui.cli.hosts import hosts_app

    app.add_typer(hosts_app, name="hosts")


def _devices(app: typer.Typer) -> None:
    from vmtui.cli.devices import devices_app

    app.add_typer(devices_app, name="devices")


def _sriov(app: typer.Typer) -> None:
    from vmtui.cli.sriov import sriov_app

    app.add_typer(sriov_app, name="sriov")


def _domains(app: typer.Typer) -> None:
    from vmtui.cli import domains

    domains.register(app)


def _memory(app: typer.Typer) -> None:
    from vmtui.cli import memory

    memory.register(app)


def _console(app: typer.Typer) -> None:
    from vmtui.cli import console

    console.register(app)


def _xml(app: typer.Typer) -> None:
    from vmtui.cli import xml

    xml.register(app)


def _snapshot(app: typer.Typer) -> None:
    from vmtui.cli.snapshot import snapshot_app

    app.add_typer(snapshot_app, name="snapshot")


def _storage(app: typer.Typer) -> None:
    from vmtui.cli import storage

    storage.register(app)


def _networks(app: typer.Typer) -> None:
    from vmtui.cli import networks

    networks.register(app)


def _autostart(app: typer.Typer) -> None:
    from vmtui.cli import autostart

    autostart.register(app)


def _migrate(app: typer.Typer) -> None:
    from vmtui.cli import migrate

    migrate.register(app)


def _watchers(app: typer.Typer) -> None:
    from vmtui.cli.export import export
    from vmtui.cli.top import record, top

    app.command("top")(top)
    app.command("record")(record)
    app.command("export")(export)


def _lab(app: typer.Typer) -> None:
    try:
        from vmtui.cli.lab import lab_app
    except ImportError:  # the lab is optional in a build without vmtui.lab
        return
    app.add_typer(lab_app, name="lab")


Registrar = Callable[[typer.Typer], None]

REGISTRARS: tuple[tuple[Registrar, tuple[str, ...]], ...] = (
    (_hosts, ("hosts",)),
    (_devices, ("devices",)),
    (_sriov, ("sriov",)),
    (_domains, ("list", "stats", "explain", "start", "shutdown", "reboot", "destroy", "suspend", "resume", "save")),
    (_memory, ("balloon", "ksm")),
    (_console, ("console", "display")),
    (_xml, ("xml", "edit", "define", "undefine")),
    (_snapshot, ("snapshot",)),
    (_storage, ("pools", "volumes", "vol-create", "vol-delete")),
    (_networks, ("nets",)),
    (_autostart, ("autostart", "net-autostart")),
    (_migrate, ("migrate", "place")),
    (_watchers, ("top", "record", "export")),
    (_lab, ("lab",)),
)
"""Each group of commands, in the order `--help` lists them, with the names it registers."""

_VALUE_OPTIONS = frozenset({"--connect", "-c", "--host", "-H", "--replay"})
"""The root's options that take a value (`vmtui -c URI list`): their value is not the command."""


def command_in(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` names, if it can be told without click; None means: build every command.

    None for --help (the root's help lists every command), for completion, and for no command at all.
    """
    if os.environ.get("_VMTUI_COMPLETE"):
        return None
    args = iter(argv)
    for arg in args:
        if arg in ("--help", "--install-completion", "--show-completion", "--"):
            return None
        if arg.startswith("--"):
            if "=" not in arg and arg in _VALUE_OPTIONS:
                next(args, None)
            continue
        if arg.startswith("-") and len(arg) > 1:
            # Short flags may be bundled (-rc URI); a value option takes the rest, or the next word.
            for i, flag in enumerate(arg[1:], 1):
                if f"-{flag}" in _VALUE_OPTIONS:
                    if i == len(arg) - 1:
                        next(args, None)
                    break
            continue
        return arg
    return None


def build_app(command: str | None = None) -> typer.Typer:
    """The `vmtui` app with every command, or only the group that holds `command` (when it is known)."""
    app = typer.Typer(
        name="vmtui",
        help="A terminal console for KVM/QEMU hypervisors over libvirt. Without a command: the full-screen TUI.",
        no_args_is_help=False,
        # typer's own --install-completion / --show-completion; domain and host names complete too.
        add_completion=True,
        pretty_exceptions_enable=False,
    )
    only = [reg for reg, names in REGISTRARS if command in names]
    for register, _names in REGISTRARS:
        if not only or register in only:
            register(app)
    if only:
        # typer builds every registered command's parameters; `vmtui list` needs only its own.
        app.registered_commands = [c for c in app.registered_commands if c.name == command]
    app.callback(invoke_without_command=True)(root)
    return app


def __getattr__(name: str) -> typer.Typer:
    # `from vmtui.cli import app`: the full app, built on first use (tests, documentation tools).
    if name == "app":
        app = build_app()
        globals()["app"] = app
        return app
    raise AttributeError(name)


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
        rc = build_app(command_in(sys.argv[1:]))(standalone_mode=False)
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
