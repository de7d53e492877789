"""The `vmtui` command. Importing this never imports Textual: only the TUI entry point does."""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Sequence

import typer
from typer.main import get_command

from vmtui.cli.common import (
    ConnectOpt,
    HostOpt,
    JsonOpt,
    ReadOnlyOpt,
    ReplayOpt,
    emit_json,
    fail,
    set_global_options,
)
from vmtui.cli.typer_internals import ClickException, ClickUsageError, Command
from vmtui.errors import ExitCode, UsageError

# ----- the commands, registered only when needed ---------------------------------------------------
#
# Building every command (importing 20 modules, and typer reading ~200 parameters' annotations) costs more
# than most commands' own work. `main()` looks at argv for the subcommand and registers only the group that
# holds it; `--help`, completion, no command, or a name not in the table below get the full app, so what
# the user sees never depends on this shortcut (tests/unit/test_cli_dispatch.py keeps the table honest).


REGISTRARS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vmtui.cli.hosts:hosts_app", ("hosts",)),
    ("vmtui.cli.drain:host_app", ("host",)),
    ("vmtui.cli.devices:devices_app", ("devices",)),
    ("vmtui.cli.sriov:sriov_app", ("sriov",)),
    ("vmtui.cli.domains:register", ("list", "stats", "explain")),
    ("vmtui.cli.lifecycle:register", ("start", "shutdown", "reboot", "destroy", "suspend", "resume", "save")),
    ("vmtui.cli.memory:register", ("balloon", "ksm")),
    ("vmtui.cli.console:register", ("console", "display")),
    ("vmtui.cli.xml:register", ("xml", "edit", "define", "undefine")),
    ("vmtui.cli.provision:register", ("template", "clone", "delete")),
    ("vmtui.cli.provision:disk_app", ("disk",)),
    ("vmtui.cli.snapshot:snapshot_app", ("snapshot",)),
    ("vmtui.cli.backup:backup_app", ("backup",)),
    ("vmtui.cli.storage:register", ("pools", "volumes", "vol-create", "vol-delete")),
    ("vmtui.cli.create:register", ("create",)),
    ("vmtui.cli.networks:register", ("nets",)),
    ("vmtui.cli.autostart:register", ("autostart", "net-autostart")),
    ("vmtui.cli.migrate:register", ("migrate", "place")),
    ("vmtui.cli.top:register", ("top", "record")),
    ("vmtui.cli.export:register", ("export",)),
    ("vmtui.cli.lab:lab_app", ("lab",)),
)  # fmt: skip
"""Each group of commands, in the order `--help` lists them: `module:attribute` (a sub-app, added under
the first name, or a function that registers the names on the app) and the names it registers."""


def register_group(app: typer.Typer, where: str, names: tuple[str, ...]) -> None:
    """Import one group's module and add its commands to `app`."""
    module, _, attribute = where.partition(":")
    try:
        found = getattr(importlib.import_module(module), attribute)
    except ImportError:  # the lab is optional in a build without vmtui.lab
        if module == "vmtui.cli.lab":
            return
        raise
    if isinstance(found, typer.Typer):
        app.add_typer(found, name=names[0])
    else:
        found(app)


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
    only = [where for where, names in REGISTRARS if command in names]
    for where, names in REGISTRARS:
        if not only or where in only:
            register_group(app, where, names)
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
        _check_settings(as_json=as_json)
        return
    from vmtui.cli.tui import run_tui

    run_tui(connect=connect, host=host, read_only=read_only, replay=replay, as_json=as_json)


def _check_settings(*, as_json: bool) -> None:
    """A config file with a mistake stops every command before it starts, as it stops the TUI: vmtui never
    runs half-configured (`vmtui.settings`; the TUI checks the keys against its screens as well)."""
    from vmtui.errors import VmtuiError
    from vmtui.settings.load import load_settings

    try:
        load_settings()
    except VmtuiError as exc:
        raise fail(exc, as_json=as_json) from None


def main() -> None:
    """Run the CLI; usage errors are one line (or a JSON error with --json) and exit 2, never a box."""
    try:
        _run()
    finally:
        # On the way out the interpreter runs full collections over every object start-up made (typer,
        # libvirt, lxml and vmtui's own modules), which all live until exit and are freed by reference
        # counting as the modules go: ~15 ms of a ~95 ms `vmtui list` (bench/startup.py), for nothing.
        # Frozen, the collector skips them. What this gives up: an object in a reference cycle is not
        # finalized at exit; vmtui closes its connections and files itself, never in a finalizer.
        gc.freeze()


def prepare(argv: Sequence[str]) -> tuple[Command, list[str]]:
    """The command to run `argv` with, and `argv` as it reads it: global options in any position
    (`vmtui ksm -r tune`) moved before the command (see vmtui.cli.hoist)."""
    command = get_command(build_app(command_in(argv)))
    if os.environ.get("_VMTUI_COMPLETE"):
        return command, list(argv)
    from vmtui.cli.hoist import hoist

    return command, hoist(command, argv)


def _run() -> None:
    try:
        command, argv = prepare(sys.argv[1:])
        rc = command.main(args=argv, standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("vmtui: interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))
    except ClickUsageError as exc:
        path = exc.ctx.command_path if exc.ctx is not None else "vmtui"
        err = UsageError(exc.format_message(), hint=f"see `{path} --help`")
        if "--json" in sys.argv[1:]:
            emit_json(err.to_json())
        else:
            sys.stderr.write(f"vmtui: error: {err}\n")
        sys.exit(int(ExitCode.USAGE))
    except ClickException as exc:
        sys.stderr.write(f"vmtui: error: {exc.format_message()}\n")
        sys.exit(exc.exit_code)
    # Without standalone mode an Exit's code comes back as the return value (a command's own is None).
    sys.exit(rc if isinstance(rc, int) else 0)
