"""What every command shares: connection options, JSON output, and the error boundary.

The error boundary is the one place where exceptions become what the user sees: a VmtuiError
becomes one line on stderr (or an `{"error": ...}` object with --json) and its exit code; anything
else is logged with its traceback and reported as one line pointing at the log file.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from vmtui.errors import ExitCode, VmtuiError
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
        help="libvirt URI (qemu:///system, qemu+ssh://user@host/system, an alias); repeatable.",
        envvar="LIBVIRT_DEFAULT_URI",
        show_envvar=True,
    ),
]
HostOpt = Annotated[list[str] | None, typer.Option("--host", "-H", help="A saved host name; repeatable.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
ReadOnlyOpt = Annotated[bool, typer.Option("--read-only", "-r", help="Open connections read-only.")]
FilterOpt = Annotated[
    str | None,
    typer.Option(
        "--filter",
        "-f",
        help="Only matching domains, as in the TUI's / line: a regex on the name, state:STATE, host:NAME.",
    ),
]


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


def fail(exc: VmtuiError, *, as_json: bool) -> typer.Exit:
    """Report `exc` the way the user asked and return the Exit to raise."""
    if as_json:
        emit_json(exc.to_json())
    else:
        sys.stderr.write(f"vmtui: error: {exc}\n")
    return typer.Exit(int(exc.exit_code))


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so no traceback ever reaches the terminal.

    The wrapped command must take a keyword argument `as_json` (the --json flag).
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        as_json = bool(kwargs.get("as_json", False))
        log_file = setup_logging()
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except VmtuiError as exc:
            log.info("command failed: %s", exc)
            raise fail(exc, as_json=as_json) from None
        except KeyboardInterrupt:
            sys.stderr.write("vmtui: interrupted\n")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except Exception as exc:
            log.exception("unexpected error in %s", fn.__name__)
            err = VmtuiError(f"internal error: {exc.__class__.__name__}: {exc}", hint=f"traceback in {log_file}")
            raise fail(err, as_json=as_json) from None

    return wrapper
