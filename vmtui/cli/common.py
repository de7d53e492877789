"""What every command shares: connection options, global options, JSON output, and the error boundary.

Global options (`vmtui --read-only -c URI suspend VM`) mean exactly what they mean after the
subcommand: `guarded` merges them into the command's own before it runs, and refuses (exit 2) a
global option the command has no use for. Read-only can never be lost on the way.

The error boundary is the one place where exceptions become what the user sees: a VmtuiError
becomes one line on stderr (or an `{"error": ...}` object with --json) and its exit code; anything
else is logged with its traceback and reported as one line pointing at the log file.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import math
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from vmtui.cli.typer_internals import get_current_context
from vmtui.errors import ExitCode, UsageError, VmtuiError
from vmtui.logsetup import setup_logging
from vmtui.models import Device, DomainInfo

log = logging.getLogger("vmtui.cli")

P = ParamSpec("P")
R = TypeVar("R")

ConnectOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--connect",
        "-c",
        help="libvirt URI (qemu:///system, qemu+ssh://user@host/system, an alias); repeatable. "
        "Without -c or -H: every saved host, else libvirt's default URI (LIBVIRT_DEFAULT_URI).",
    ),
]


def complete_hosts(incomplete: str) -> list[str]:
    """Shell completion of saved host names (read from hosts.toml; nothing is contacted)."""
    from vmtui.config import HostStore

    try:
        return [e.name for e in HostStore().load() if e.name.startswith(incomplete)]
    except VmtuiError:
        return []


def complete_domains(incomplete: str) -> list[str]:
    """Shell completion of domain names on the saved hosts (or the default URI), quickly or not at all."""
    import os

    from vmtui.config import resolve_targets
    from vmtui.monitor.poller import open_host

    os.environ.setdefault("VMTUI_CONNECT_TIMEOUT", "3")
    names: set[str] = set()
    try:
        for entry in resolve_targets(None, None, read_only=True):
            try:
                with open_host(entry) as conn:
                    names.update(d.name for d in conn.list_domains())
            except VmtuiError:
                continue
    except VmtuiError:
        return []
    return sorted(n for n in names if n.startswith(incomplete))


HostOpt = Annotated[
    list[str] | None,
    typer.Option("--host", "-H", help="A saved host name; repeatable.", autocompletion=complete_hosts),
]
DomainArg = Annotated[
    str, typer.Argument(help="Domain name, UUID or ID (as in virsh).", autocompletion=complete_domains)
]
OptionalDomainArg = Annotated[
    str | None,
    typer.Argument(
        help="Domain name, UUID or ID (as in virsh); or --filter for every matching domain.",
        metavar="[DOMAIN]",
        autocompletion=complete_domains,
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
ReadOnlyOpt = Annotated[bool, typer.Option("--read-only", "-r", help="Open connections read-only.")]
ReplayOpt = Annotated[
    Path | None, typer.Option("--replay", help="Read the hosts of a `vmtui record` file instead of live hosts.")
]
YesOpt = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Do not ask first (a destructive action, or --filter matching several domains)."),
]
FilterOpt = Annotated[
    str | None,
    typer.Option(
        "--filter",
        "-f",
        help="Only matching domains, as in the TUI's / line: a regex on the name, state:STATE, host:NAME.",
    ),
]


def seconds_in(low: float, high: float) -> Callable[[float | None], float | None]:
    """A typer callback refusing seconds outside [low, high], and nan or inf (which compare false to both)."""

    def check(value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            raise typer.BadParameter(f"{value:g} is not a number of seconds from {low:g} to {high:g}")
        return value

    return check


IntervalOpt = Annotated[
    float,
    typer.Option("--interval", "-i", callback=seconds_in(0.1, 3600), help="Seconds between samples (0.1-3600)."),
]
"""`top`, `stats`, `record`: how often each host is sampled on screen or to a file."""
RoundIntervalOpt = Annotated[
    float,
    typer.Option("--interval", "-i", callback=seconds_in(0.5, 3600), help="Seconds between two rounds (0.5-3600)."),
]
"""`export` (a poll of each host) and the policy loops (a step): work that changes or serves something
runs at most twice a second."""


# The cloud-init options of `vmtui create` and `vmtui clone` (one definition: both read them with
# `ops.seed.read_cloud_init`).
CloudInitOpt = Annotated[
    Path | None, typer.Option("--cloud-init", help="A #cloud-config user-data file for the NoCloud seed.")
]
HostnameOpt = Annotated[str | None, typer.Option("--hostname", help="cloud-init: the guest's hostname.")]
UserOpt = Annotated[str | None, typer.Option("--user", help="cloud-init: a user to make (with sudo).")]
SshKeyOpt = Annotated[Path | None, typer.Option("--ssh-key", help="cloud-init: an OpenSSH public key file.")]
PasswordHashOpt = Annotated[
    str | None, typer.Option("--password-hash", help="cloud-init: a crypt(3) hash ($6$...) for the user.")
]
NetworkConfigOpt = Annotated[
    Path | None, typer.Option("--network-config", help="cloud-init: a network-config file (version 1 or 2).")
]
LiveOpt = Annotated[bool, typer.Option("--live", help="Only the running guest.")]
ConfigOpt = Annotated[bool, typer.Option("--config", help="Only the persistent config (the next boot).")]
ReleaseTimeoutOpt = Annotated[
    float,
    typer.Option("--timeout", min=1, max=600, help="Seconds the guest may take to release a NIC it is asked to drop."),
]
"""`devices virtio` and `sriov detach`: both wait for the guest to let a NIC go."""


GLOBAL_OPTIONS = {"connect": "-c/--connect", "host": "-H/--host", "replay": "--replay", "read_only": "--read-only"}
"""Options the root command takes too, by parameter name, as users would write them."""


def emit_json(payload: Any) -> None:
    """One JSON document (or one line of a stream) on stdout."""
    sys.stdout.write(json.dumps(payload, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def domain_json(host: str, info: DomainInfo) -> dict[str, Any]:
    body = asdict(info)
    body["devices"] = [device_json(d) for d in info.devices]
    return {"host": host, **body}


def device_json(dev: Device) -> dict[str, str]:
    return {"kind": dev.kind, "name": dev.name, "model": dev.model, "class": str(dev.dev_class), "detail": dev.detail}


def report_host_errors(errors: list[tuple[str, VmtuiError]], *, as_json: bool, answered: bool) -> None:
    """Per-host errors on stderr (JSON has them in its body); when no host answered, exit with the first's code."""
    if not as_json:
        for host, exc in errors:
            sys.stderr.write(f"vmtui: error: {exc}\n" if host in str(exc) else f"vmtui: error: {host}: {exc}\n")
    if errors and not answered:
        raise typer.Exit(int(errors[0][1].exit_code))


def errors_json(errors: list[tuple[str, VmtuiError]]) -> list[dict[str, object]]:
    return [{"host": h, **e.error_body()} for h, e in errors]


def report_change(result: Any, *, as_json: bool) -> None:
    """Print a change result (JSON or human) and exit 1 when a half of it failed."""
    if as_json:
        emit_json(result.to_json())
    else:
        from vmtui.cli.render import console
        from vmtui.cli.render_devices import change_view

        console().print(change_view(result))
    if not getattr(result, "ok", True):
        raise typer.Exit(int(ExitCode.FAILED))


def fail(exc: VmtuiError, *, as_json: bool) -> typer.Exit:
    """Report `exc` the way the user asked and return the Exit to raise."""
    if as_json:
        emit_json(exc.to_json())
    else:
        sys.stderr.write(f"vmtui: error: {exc}\n")
    return typer.Exit(int(exc.exit_code))


_GLOBAL: dict[str, Any] = {}
"""The root command's options for this invocation (`set_global_options`, called by the root callback)."""


def set_global_options(**options: Any) -> None:
    """Remember the options given before the subcommand; the subcommand's `guarded` merges them."""
    _GLOBAL.clear()
    _GLOBAL.update(options)


def _root_params() -> dict[str, Any]:
    return dict(_GLOBAL)


def merge_global_options(fn: Callable[..., Any], kwargs: dict[str, Any], *, read_only_safe: bool) -> None:
    """Fold the root command's options into the command's own `kwargs` (in place).

    Lists add up (`vmtui -c A list -c B` lists A and B); flags are ORed; a global option the command
    cannot honour is refused rather than dropped. `read_only_safe` commands only read, so a global
    --read-only needs no parameter there.
    """
    root = _root_params()
    params = inspect.signature(fn).parameters
    ctx = get_current_context(silent=True)  # click's context names the command being run ("vmtui hosts add")
    command = ctx.command_path if ctx is not None else "vmtui"
    if root.get("as_json") and "as_json" in params:
        kwargs["as_json"] = True
    for name, flag in GLOBAL_OPTIONS.items():
        value = root.get(name)
        if not value:
            continue
        if name == "read_only" and "read_only" not in params:
            if read_only_safe:
                continue
            raise UsageError(f"--read-only: `{command}` changes hosts, and read-only was asked for; nothing done")
        if name not in params:
            # Wherever it stood: hoist.py moves a global option after the command to the front too.
            raise UsageError(f"{flag} has no meaning for `{command}`")
        if isinstance(value, list):
            kwargs[name] = [*value, *(kwargs.get(name) or [])]
        elif name == "replay" and kwargs.get("replay") not in (None, value):
            raise UsageError("--replay given twice with different files")
        else:
            kwargs[name] = value


def guarded(*, read_only_safe: bool = False) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap a command: merge global options, and let no traceback ever reach the terminal.

    The wrapped command must take a keyword argument `as_json` (the --json flag).
    `read_only_safe`: the command never changes a host (so a global --read-only needs no handling).
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            as_json = bool(kwargs.get("as_json", False)) or bool(_root_params().get("as_json"))
            try:
                log_file = setup_logging()
            except VmtuiError as exc:
                raise fail(exc, as_json=as_json) from None
            try:
                merge_global_options(fn, kwargs, read_only_safe=read_only_safe)
                return fn(*args, **kwargs)
            except typer.Exit:
                raise
            except VmtuiError as exc:
                log.info("command failed: %s", exc)
                raise fail(exc, as_json=as_json) from None
            except KeyboardInterrupt:
                sys.stderr.write("vmtui: interrupted\n")
                raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
            except BrokenPipeError:
                # `vmtui top --json | head -1`: the reader left; that is how such a pipe ends, not an error.
                _silence_stdout()
                raise typer.Exit(0) from None
            except Exception as exc:
                log.exception("unexpected error in %s", fn.__name__)
                err = VmtuiError(f"internal error: {exc.__class__.__name__}: {exc}", hint=f"traceback in {log_file}")
                raise fail(err, as_json=as_json) from None

        return wrapper

    return decorate


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so Python's exit-time flush does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def confirm(question: str, *, yes: bool, as_json: bool) -> None:
    """Ask before a destructive action (No is the default); `--yes` answers for scripts.

    Without a terminal to ask on, only `--yes` proceeds: a script never destroys a VM by accident.
    """
    if yes:
        return
    if as_json or not sys.stdin.isatty():
        raise UsageError(f"{question} Not asked without a terminal.", hint="add --yes to proceed")
    from vmtui.cli.migrate_terminal import terminal_for_a_question
    from vmtui.present import printable

    with terminal_for_a_question():
        sys.stderr.write(f"{printable(question)} [y/N] ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError("not confirmed; nothing done")
