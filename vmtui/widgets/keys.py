"""What every key means, in one place: which bindings are destructive, and the keys shared by every screen.

The rule (tests/tui/test_keymap.py checks it over every screen's bindings): a key that stops, restarts,
deletes or takes something from a guest or a host on one screen never does something harmless on
another, so a key learnt on one screen cannot hurt on the next. Refresh is ctrl+r everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding, BindingType

from vmtui.ops.lifecycle import ACTIONS
from vmtui.widgets.refusals import MOVED, WHY_NOT

REFRESH = "ctrl+r"
"""Ask the host again, on every screen that fetches (as a browser's reload; `r` resumes a guest)."""

DESTRUCTIVE: frozenset[str] = frozenset(
    {
        *(f"lifecycle('{a.key}')" for a in ACTIONS if a.destructive),
        "snapshot('revert')",
        "snapshot('delete')",
        "delete_volume",
        "delete_domain",
        "convert",
        "convert_all",
        "vf_count",
        "detach",
        "balloon",
        "policy_step",
        "ksm_settings",
        "ksm_step",
        "abort",
        "drain",
    }
)
"""Binding actions that stop, restart, delete, shrink or rewire what runs (each asks or takes a value first)."""


def is_destructive(binding: Binding) -> bool:
    return binding.action in DESTRUCTIVE


def keys_of(binding: Binding) -> tuple[str, ...]:
    """The keys of a binding ("delete,D" is two keys)."""
    return tuple(k.strip() for k in binding.key.split(","))


def key_label(binding: Binding) -> str:
    """How help and the palette write a binding's keys: "delete / D", "ctrl+r"."""
    names = {"question_mark": "?", "slash": "/", "escape": "esc", "asterisk": "*"}
    return " / ".join(names.get(k, k) for k in keys_of(binding))


def long_name(binding: Binding) -> str:
    """The binding's full name: its tooltip when the footer's word is shortened ("Off" is "Force off")."""
    return binding.tooltip or binding.description


def keys_hint(bindings: Iterable[BindingType]) -> str:
    """A screen's keys on one line by their full names ("t: To virtio   a: Add disk"), for the hint under
    its table: built from the bindings, it cannot name a key that moved (it read "v: … V: …" after t/T)."""
    named = [
        b
        for b in bindings
        if isinstance(b, Binding) and b.action != "app.pop_screen" and not b.action.startswith((WHY_NOT, MOVED))
    ]
    return "   ".join(f"{key_label(b)}: {long_name(b)}" for b in named)
