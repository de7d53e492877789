"""Domain errors and the CLI exit codes they map to.

Drivers convert `libvirt.libvirtError` into these, so nothing above `vmtui/drivers/`
needs to know libvirt's error numbers.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every `vmtui` command (documented in README.md)."""

    OK = 0
    FAILED = 1
    """The operation was attempted and the host refused or failed it."""
    USAGE = 2
    """Bad arguments (typer's own code for usage errors)."""
    NOT_FOUND = 3
    """Unknown domain, saved host, or guest image."""
    UNREACHABLE = 4
    """The host could not be connected: bad URI, daemon down, SSH failure."""
    DENIED = 5
    """Read-only connection, missing privilege, or a host key that does not match."""
    UNKNOWN = 6
    """The end of an operation could not be learnt (a migration whose source stopped answering):
    neither success nor failure; `vmtui migrate jobs` settles it once the host answers."""
    PARTIAL = 7
    """An action over several domains was done on some of them, not all (each one's result is reported)."""
    INTERRUPTED = 130


class VmtuiError(Exception):
    """Base of every error shown to users as one line."""

    exit_code: ExitCode = ExitCode.FAILED
    kind: str = "failed"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def error_body(self) -> dict[str, object]:
        """kind, code, message (and hint): what `--json` output says about this error."""
        body: dict[str, object] = {"kind": self.kind, "code": int(self.exit_code), "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        return body

    def to_json(self) -> dict[str, object]:
        """The `{"error": ...}` object of `--json` output."""
        return {"error": self.error_body()}


class NotFoundError(VmtuiError):
    exit_code = ExitCode.NOT_FOUND
    kind = "not-found"


class ConnectError(VmtuiError):
    exit_code = ExitCode.UNREACHABLE
    kind = "unreachable"


class DeniedError(VmtuiError):
    exit_code = ExitCode.DENIED
    kind = "denied"


class UsageError(VmtuiError):
    exit_code = ExitCode.USAGE
    kind = "usage"


class OperationError(VmtuiError):
    """The host refused or failed an operation (libvirt's message is kept verbatim)."""

    exit_code = ExitCode.FAILED
    kind = "failed"


class EndOfRecordingError(VmtuiError):
    """A finite source (a recording played back) has no more samples: an end, not a failure."""

    exit_code = ExitCode.OK
    kind = "end"
