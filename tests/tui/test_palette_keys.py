"""The command palette holds every key of every screen by its name, with the key that does it.

Built from the screens' BINDINGS (`vmtui.screens.keymap`): the test walks every screen class of
vmtui/screens on its own, so a screen or a key the palette forgets fails here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from textual.binding import Binding
from textual.command import CommandList
from textual.pilot import Pilot
from textual.screen import Screen

import vmtui.screens
from tests.guest_disks import LOCAL_URI
from tests.tui.conftest import wait_for
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.screens.command_line import CommandLineModal
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.form import FormModal
from vmtui.screens.help import HelpModal
from vmtui.screens.prompt import PromptModal
from vmtui.tui.palette import DomainCommands
from vmtui.widgets.refusals import WHY_NOT

pytestmark = pytest.mark.timeout(120)

WRITTEN = {"slash": "/", "escape": "esc", "question_mark": "?"}
"""How help and the palette write the keys Textual names."""

ANSWERS = (ConfirmModal, HelpModal, FormModal, PromptModal, CommandLineModal)
"""Modals that only answer a question (or take a `:` line): their keys (y, n, esc, tab) are not commands."""


def screen_classes() -> list[type[Screen[object]]]:
    """Every screen class defined in vmtui/screens, found by walking the package (not from the keymap)."""
    out = []
    for module in pkgutil.iter_modules(vmtui.screens.__path__):
        mod = importlib.import_module(f"vmtui.screens.{module.name}")
        for _name, cls in inspect.getmembers(mod, inspect.isclass):
            if issubclass(cls, Screen) and cls.__module__ == mod.__name__ and not issubclass(cls, ANSWERS):
                out.append(cls)
    return out


def own_bindings(cls: type) -> list[Binding]:
    return [b for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding) and not b.action.startswith(WHY_NOT)]


async def palette_hit(pilot: Pilot[None], query: str) -> tuple[str, str]:
    """Type `query` in the palette: the highlighted hit's text and help."""
    app = pilot.app
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*query)

    def hit() -> tuple[str, str] | None:
        lists = app.screen.query(CommandList)
        index = lists.first().highlighted if lists else None
        if index is None:
            return None
        prompt = lists.first().get_option_at_index(index).prompt
        return str(prompt), str(getattr(prompt, "plain", prompt))

    await wait_for(pilot, lambda: hit() is not None, within=10)
    found = hit()
    assert found is not None
    await pilot.press("escape")
    return found


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mig", "Migrat"),
        ("mem", "Memory"),
        ("snap", "Snapshot"),
        ("dev", "Devices"),
        ("stor", "Storage"),
        ("netw", "Networks"),
        ("ksm", "KSM"),
    ],
)
async def test_the_palette_finds_every_screen_by_name(query: str, expected: str) -> None:
    app = VmtuiApp([HostEntry("local", LOCAL_URI)], interval=1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.fleet.hosts["local"].status == "connected")
        text, _plain = await palette_hit(pilot, query)
        assert expected in text


async def test_the_palette_has_every_key_of_every_screen_with_its_real_key() -> None:
    app = VmtuiApp([HostEntry("local", LOCAL_URI)], interval=1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.fleet.hosts["local"].status == "connected")
        commands = DomainCommands(app.screen)._commands()
        helps = "\n".join(f"{text} | {help_text}" for text, _command, help_text in commands)
        # Written out by hand: the XML is X, storage P, memory M, and they say so.
        assert any(t.startswith("XML") and (h == "key X" or h.startswith("key X;")) for t, _c, h in commands), helps
        assert any(t == "Storage" and h.startswith("key P ") for t, _c, h in commands), helps
        assert any(t == "Memory and KSM" and h.startswith("key M ") for t, _c, h in commands), helps
        classes = screen_classes()
        assert len(classes) >= 10  # dashboard, domain, memory, storage, networks, devices, SR-IOV, XML, migrate x2
        for cls in classes:
            for binding in own_bindings(cls):
                if binding.action in ("app.pop_screen", "cancel", "close"):
                    continue
                name = binding.tooltip or binding.description
                first_key = WRITTEN.get(binding.key.split(",")[0], binding.key.split(",")[0])
                assert any(name in t and first_key in h for t, _c, h in commands), (cls.__name__, binding, helps)
