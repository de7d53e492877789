"""One meaning per key: a key that stops, restarts, deletes or takes something away on one screen
never does something harmless on another (`vmtui.widgets.keys.DESTRUCTIVE` marks them).

Every class with BINDINGS in vmtui/screens, vmtui/widgets and the app is found by walking the
packages, not from the keymap, so a new screen is checked the day it is added.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict

from textual.binding import Binding

import vmtui.screens
import vmtui.widgets
from vmtui.app import VmtuiApp
from vmtui.widgets.keys import DESTRUCTIVE, is_destructive, keys_of, long_name
from vmtui.widgets.refusals import MOVED, WHY_NOT


def binding_owners() -> list[type]:
    owners: list[type] = [VmtuiApp]
    for package in (vmtui.screens, vmtui.widgets):
        for module in pkgutil.iter_modules(package.__path__):
            mod = importlib.import_module(f"{package.__name__}.{module.name}")
            for _name, cls in inspect.getmembers(mod, inspect.isclass):
                if cls.__module__ == mod.__name__ and cls.__dict__.get("BINDINGS"):
                    owners.append(cls)
    return owners


def meanings() -> dict[str, set[tuple[str, str, bool]]]:
    """Per key: (screen, meaning, destructive) of every binding on it, over every screen."""
    out: dict[str, set[tuple[str, str, bool]]] = defaultdict(set)
    for owner in binding_owners():
        for binding in owner.__dict__["BINDINGS"]:
            assert isinstance(binding, Binding)
            if binding.action.startswith((WHY_NOT, MOVED)):
                continue  # a twin that only says why, or where the key went: no meaning of its own
            for key in keys_of(binding):
                out[key].add((owner.__name__, long_name(binding), is_destructive(binding)))
    return out


def test_every_screen_is_walked() -> None:
    names = {o.__name__ for o in binding_owners()}
    assert {"HostScreen", "DomainTable", "DomainScreen", "MemoryScreen", "StorageScreen", "NetworksScreen"} <= names
    assert {"DevicesScreen", "SriovScreen", "XmlScreen", "MigrationScreen", "MigrateModal", "VmtuiApp"} <= names


def test_no_key_is_destructive_on_one_screen_and_harmless_on_another() -> None:
    mixed = {
        key: sorted(uses) for key, uses in meanings().items() if len({destructive for _s, _m, destructive in uses}) > 1
    }
    assert mixed == {}


def test_every_destructive_action_is_bound_so_the_rule_sees_it() -> None:
    # An action renamed in its screen but not in DESTRUCTIVE would count as harmless, silently: `B`
    # (balloon) would then be free to mean something harmless elsewhere.
    bound = {b.action for o in binding_owners() for b in o.__dict__["BINDINGS"] if isinstance(b, Binding)}
    assert DESTRUCTIVE - bound == set()
    # By hand, from the screens: the destructive keys of each screen.
    destructive_keys = {
        (s, k) for k, uses in meanings().items() for s, _m, destructive in uses if destructive and s != "HostScreen"
    }
    assert destructive_keys >= {
        ("DomainScreen", "R"),
        ("DomainScreen", "D"),
        ("StorageScreen", "D"),
        ("StorageScreen", "delete"),
        ("DevicesScreen", "t"),
        ("DevicesScreen", "T"),
        ("SriovScreen", "C"),
        ("SriovScreen", "d"),
        ("MemoryScreen", "B"),
        ("MemoryScreen", "E"),
        ("MigrationScreen", "x"),
    }


def test_refresh_resume_reboot_and_revert_have_one_meaning_each() -> None:
    # The examples, by hand: R reverted a snapshot and refreshed storage, r resumed a VM and
    # refreshed devices, b rebooted and ballooned.
    table = meanings()
    assert {m for _s, m, _d in table["r"]} == {"Resume"}
    assert {m for _s, m, _d in table["b"]} == {"Reboot"}
    assert {m for _s, m, _d in table["R"]} == {"Revert"}
    assert {m for _s, m, _d in table["ctrl+r"]} == {"Refresh"}
    # `i` opened SR-IOV on the dashboard but switched live/definition in the XML view.
    assert {m for _s, m, _d in table["i"]} == {"SR-IOV"}
    assert {m for _s, m, _d in table["l"]} == {"Live / definition"}
    assert {s for s, _m, _d in table["ctrl+r"]} == {"StorageScreen", "NetworksScreen", "DevicesScreen", "SriovScreen"}


def test_a_moved_key_never_hides_a_key_of_its_own_screen() -> None:
    """`moved` bindings only speak where the key means nothing: on their screen no other binding has the key."""
    for owner in binding_owners():
        bindings = [b for b in owner.__dict__["BINDINGS"] if isinstance(b, Binding)]
        said = {k for b in bindings if b.action.startswith(MOVED) for k in keys_of(b)}
        real = {k for b in bindings if not b.action.startswith((MOVED, WHY_NOT)) for k in keys_of(b)}
        assert said & real == set(), owner.__name__
    every_moved = {
        k for o in binding_owners() for b in o.__dict__["BINDINGS"] if b.action.startswith(MOVED) for k in keys_of(b)
    }
    assert {"v", "b", "A", "a", "R", "r", "c", "p", "i"} <= every_moved
