"""Keys that cannot act now: off the footer, and pressed they say why (a key never does nothing silently).

A screen (or widget) says once, in `refusal`, why an action cannot run now; `check_action` follows
from it, so what the footer offers and what a key answers never disagree. `explained` gives each
binding a hidden twin on the same keys: Textual tries a key's next binding when `check_action`
refuses the first, and the twin says the refusal.
"""

from __future__ import annotations

from textual.actions import parse
from textual.binding import Binding
from textual.dom import DOMNode

from vmtui.present import one_line

WHY_NOT = "why_not"
MOVED = "key_moved"


def explained(*bindings: Binding) -> list[Binding]:
    """The bindings, each followed by its hidden twin that says why it is refused."""
    out: list[Binding] = []
    for binding in bindings:
        out.append(binding)
        # Said by its full name ("Memory and KSM"), not the footer's short word ("Mem").
        twin = f"{WHY_NOT}({binding.action!r}, {(binding.tooltip or binding.description)!r})"
        out.append(Binding(binding.key, twin, show=False))
    return out


def moved(key: str, now: str) -> Binding:
    """A key with no meaning here that a user may still press (it had one here before, or has one on
    another screen): pressed, it says which key does what they want (a key never does nothing silently)."""
    return Binding(key, f"{MOVED}({key!r}, {now!r})", show=False)


class Refusals:
    """Mixin: `refusal` decides whether a key is offered and what it says when pressed anyway.

    Listed before the Textual base (`class X(Refusals, Screen[None])`) so that its `check_action` wins;
    not a DOMNode itself, since Textual takes a widget's CSS types from its first DOMNode base only.
    """

    def refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        """Why `action` cannot run now, or None when it can."""
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in (WHY_NOT, MOVED):
            return True  # the twin runs only when the key's own binding was refused; a moved key always says
        return self.refusal(action, parameters) is None

    def action_key_moved(self, key: str, now: str) -> None:
        assert isinstance(self, DOMNode)
        self.app.notify(one_line(f"{key} does nothing here: {now}"), title="key", markup=False)

    def action_why_not(self, action: str, description: str) -> None:
        assert isinstance(self, DOMNode)
        _namespace, name, parameters = parse(action)
        why = self.refusal(name, parameters) or "not now"
        self.app.notify(one_line(f"{description}: {why}"), title="not offered", severity="warning", markup=False)
