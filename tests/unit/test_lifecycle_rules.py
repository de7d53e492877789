"""The lifecycle rules the CLI and the TUI share: which state allows which action, and which ask first."""

from __future__ import annotations

import pytest

from vmtui.models import DOMAIN_STATES
from vmtui.ops.lifecycle import ACTIONS, BY_KEY, question, refusal

ALLOWED = {
    # Worked out from what libvirt's QEMU driver accepts in each state (virsh refuses the others).
    "start": {"shut-off", "crashed"},
    "shutdown": {"running", "blocked", "paused"},
    "reboot": {"running", "blocked"},
    "destroy": {"running", "blocked", "paused", "shutting-down", "pmsuspended", "crashed"},
    "suspend": {"running", "blocked"},
    "resume": {"paused"},
    "save": {"running", "blocked", "paused"},  # managed save needs a QEMU process to take the memory from
}


@pytest.mark.parametrize("action", sorted(ALLOWED))
@pytest.mark.parametrize("state", DOMAIN_STATES)
def test_each_action_is_allowed_exactly_in_its_states(action: str, state: str) -> None:
    why = refusal(BY_KEY[action], state)
    if state in ALLOWED[action]:
        assert why is None
    else:
        assert why is not None
        assert why.startswith(f"it is {state} (")


def test_the_refusal_names_the_states_that_would_do() -> None:
    assert refusal(BY_KEY["resume"], "running") == "it is running (resume needs paused)"
    assert refusal(BY_KEY["start"], "running") == "it is running (start needs shut-off or crashed)"


def test_what_asks_first_and_how_it_shows() -> None:
    asks = {a.key for a in ACTIONS if a.destructive}
    assert asks == {"shutdown", "reboot", "destroy"}  # what stops or restarts the guest's software
    assert [a.binding for a in ACTIONS] == ["u", "d", "b", "x", "p", "r", "z"]
    assert BY_KEY["suspend"].pending == "pausing…"
    assert question(BY_KEY["destroy"], "[b]web", "lab1") == "Force off [b]web on lab1?"


def test_a_transient_domain_cannot_keep_a_saved_state() -> None:
    assert refusal(BY_KEY["save"], "running", persistent=False) == "it is transient (save needs a defined domain)"
    assert refusal(BY_KEY["save"], "running", persistent=True) is None
    assert refusal(BY_KEY["suspend"], "running", persistent=False) is None
