"""Lifecycle actions: which state allows which, which ones ask first, and running one.

The CLI's `vmtui destroy` and the TUI's `x` share this table and this function: the same refusal
in the same words, before any call that would change the host.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from vmtui.drivers.base import Hypervisor
from vmtui.errors import OperationError
from vmtui.models import DomainInfo
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.busy import refuse_if_migrating


@dataclass(frozen=True, slots=True)
class LifecycleAction:
    key: str
    """The action's name, as libvirt's driver and the CLI command call it."""
    label: str
    """How the UI names it ("Force off")."""
    binding: str
    """The TUI key."""
    pending: str
    """What the row shows while it runs ("pausing…")."""
    destructive: bool
    """Asks for confirmation first: it stops or restarts what runs inside the guest."""
    allowed_states: tuple[str, ...]
    help: str
    key_label: str = ""
    """The footer's word for the key, short enough for 80 columns (defaults to `label`)."""
    in_footer: bool = True
    """Shown in the TUI's footer (80 columns hold only so many); the key works either way."""
    persistent_only: bool = False
    """Only a defined domain can do it (a transient one has nowhere to keep a saved state)."""


ACTIONS: tuple[LifecycleAction, ...] = (
    LifecycleAction("start", "Start", "u", "starting…", False, ("shut-off", "crashed"), "Start a defined domain."),
    LifecycleAction(
        "shutdown",
        "Shut down",
        "d",
        "shutting down…",
        True,
        ("running", "blocked", "paused"),
        "Ask the guest to shut down (ACPI).",
        key_label="Shutdown",
    ),
    LifecycleAction("reboot", "Reboot", "b", "rebooting…", True, ("running", "blocked"), "Ask the guest to reboot."),
    LifecycleAction(
        "destroy",
        "Force off",
        "x",
        "forcing off…",
        True,
        ("running", "blocked", "paused", "shutting-down", "pmsuspended", "crashed"),
        "Force off immediately (like pulling the plug; the definition stays).",
        key_label="Off",
    ),
    LifecycleAction("suspend", "Pause", "p", "pausing…", False, ("running", "blocked"), "Pause the domain's vCPUs."),
    LifecycleAction("resume", "Resume", "r", "resuming…", False, ("paused",), "Resume a paused domain."),
    # Not destructive: nothing is lost, and `start` restores the guest where it was.
    LifecycleAction(
        "save",
        "Save",
        "z",
        "saving…",
        False,
        ("running", "blocked", "paused"),
        "Managed save: write the guest's memory to the host's disk and stop it; `start` restores it.",
        persistent_only=True,
        in_footer=False,
    ),
)
BY_KEY = {a.key: a for a in ACTIONS}


def refusal(action: LifecycleAction, state: str, *, persistent: bool = True) -> str | None:
    """Why `action` cannot run on a domain in `state`, or None when it can."""
    if action.persistent_only and not persistent:
        return f"it is transient ({action.label.lower()} needs a defined domain)"
    if state in action.allowed_states:
        return None
    return f"it is {state} ({action.label.lower()} needs {' or '.join(action.allowed_states)})"


def question(action: LifecycleAction, name: str, host: str) -> str:
    """The question asked before a destructive action (names go in as they are: faces show them literally)."""
    return f"{action.label} {name} on {host}?"


def has_saved_state(conn: Hypervisor, ident: str) -> bool:
    """A managed save image waits on the host: `start` restores the guest from it (a recording has none)."""
    # Imported here: the CLI imports this module to name its commands, and `vmtui list` must not pay for
    # the resource types.
    from vmtui.drivers.resources import ResourceHost

    return isinstance(conn, ResourceHost) and conn.has_managed_save(ident)


def refuse(conn: Hypervisor, spec: LifecycleAction, info: DomainInfo) -> None:
    """OperationError when the domain cannot take `spec` now: a migration holds it, or its state
    forbids it. Asked before any question and any change (the CLI asks it before its confirmation)."""
    if spec.key != "destroy":  # a force-off ends any job (QEMU is killed): the way out when all else hangs
        refuse_if_migrating(conn, info.uuid, spec.label.lower(), name=info.name)
    why = refusal(spec, info.state, persistent=info.persistent)
    if why is not None:
        raise OperationError(f"{spec.label.lower()} {info.name}: {why}")


def run(
    conn: Hypervisor,
    ident: str,
    action: str,
    *,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> DomainInfo:
    """Run one lifecycle action; refused before any change when the host or the domain's state forbids it.

    Returns the domain's facts after the call. Raises DeniedError (read-only), NotFoundError,
    OperationError (state does not allow it, or libvirt refused), UserCancelledError.
    """
    spec = BY_KEY[action]
    conn.require_writable(action)
    info = conn.domain(ident)
    refuse(conn, spec, info)
    check_cancel(cancel or never_cancelled(), f"{spec.label.lower()} {info.name}")
    if action == "start" and has_saved_state(conn, info.uuid):
        progress(Step(f"restoring {info.name} from its saved state"))
    else:
        progress(Step(f"{spec.pending} {info.name}"))
    return conn.lifecycle(info.uuid, action)
