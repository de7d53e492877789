"""Why the TUI refuses a change before any libvirt call: every rule once, over plain values.

`Fleet` and `Migrations` gather the values (a host's status, what runs on a domain, its state, its
twins) and ask these functions; the wording here is what the user reads after "refused". Pure: no
Textual, no fleet, so each rule and its order is pinned by `tests/unit/test_tui_refusals.py`.
"""

from __future__ import annotations

from vmtui.ops.lifecycle import LifecycleAction
from vmtui.ops.lifecycle import refusal as lifecycle_refusal
from vmtui.ops.migrate.precheck import MIGRATABLE_STATES as MIGRATABLE
from vmtui.split_brain import split_refusal

NO_DOMAIN = "no such domain"
REPLAY = "a replay has no live host"

CONSOLE_STATES = ("running", "paused", "blocked")
"""States with a serial console to attach to."""


def write_refusal(host: str, *, recorded: bool, read_only: bool, status: str, silent_s: float | None) -> str | None:
    """Why nothing may be changed on `host` now, or None.

    `silent_s`: seconds since its newest sample once that is stale (None while fresh).
    """
    if recorded:
        return REPLAY
    if read_only:
        return f"{host} is connected read-only"
    if status != "connected":
        return f"{host} is {status}"
    if silent_s is not None:
        return f"{host} has not answered for {silent_s:.0f} s"
    return None


def busy_refusal(pending: str | None) -> str | None:
    """One operation at a time per domain: `pending` is what runs on it now ("pausing…"), or None."""
    return f"{pending} still running" if pending else None


def operation_refusal(*, write: str | None, pending: str | None) -> str | None:
    """A change a screen asks for (a device, a balloon): the host must take writes, the domain be idle."""
    return write or busy_refusal(pending)


def action_refusal(
    action: LifecycleAction,
    *,
    write: str | None,
    pending: str | None,
    state: str,
    persistent: bool,
    template: bool = False,
) -> str | None:
    """A lifecycle action (start, pause, ...): the host, then the job in flight, then the state (a template's too)."""
    return write or busy_refusal(pending) or lifecycle_refusal(action, state, persistent=persistent, template=template)


def tool_refusal(
    *,
    recorded: bool,
    write: str | None,
    pending: str | None,
    twins: tuple[str, ...] | None,
    state: str,
    running: bool,
    writes: bool,
) -> str | None:
    """A console, an XML view or edit, a snapshot action.

    `writes`: it changes the host or needs a read-write connection (reading XML does neither, and works
    on every live host). `running`: it needs a running domain (a console). `twins`: the hosts where the
    same UUID runs at once, or None.
    """
    if recorded:
        return REPLAY
    why = (write or busy_refusal(pending) or split_refusal(twins)) if writes else None
    if why is None and running and state not in CONSOLE_STATES:
        why = f"it is {state}"
    return why


def migrate_refusal(
    *, write: str | None, pending: str | None, twins: tuple[str, ...] | None, state: str, has_target: bool
) -> str | None:
    """A live migration: the host, the job in flight, a twin, the state, then somewhere to go."""
    why = write or busy_refusal(pending) or split_refusal(twins)
    if why is None and state not in MIGRATABLE:
        why = f"it is {state} (live migration needs it running or paused)"
    if why is None and not has_target:
        why = "no other connected, writable host to move it to"
    return why
