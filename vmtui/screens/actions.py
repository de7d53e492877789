"""Lifecycle actions shared by the dashboard, the domain screen and the command palette."""

from __future__ import annotations

from typing import NamedTuple

from textual.binding import Binding


class Action(NamedTuple):
    key: str
    """The libvirt-facing action name passed to `Connection.lifecycle`."""
    label: str
    binding: str
    destructive: bool
    """Asks for confirmation first: it stops or restarts what runs inside the guest."""
    allowed_states: tuple[str, ...]


ACTIONS: tuple[Action, ...] = (
    Action("start", "Start", "u", False, ("shut-off", "crashed")),
    Action("shutdown", "Shut down", "d", True, ("running", "blocked", "paused")),
    Action("reboot", "Reboot", "b", True, ("running", "blocked")),
    Action("destroy", "Force off", "x", True, ("running", "blocked", "paused", "shutting-down", "pmsuspended")),
    Action("suspend", "Pause", "p", False, ("running", "blocked")),
    Action("resume", "Resume", "r", False, ("paused",)),
)
BY_KEY = {a.key: a for a in ACTIONS}

ACTION_BINDINGS = [Binding(a.binding, f"lifecycle('{a.key}')", a.label) for a in ACTIONS]
"""Bindings for screens that act on one domain; `check_action` hides those the state does not allow."""
