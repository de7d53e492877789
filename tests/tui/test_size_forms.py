"""Every TUI form that takes a size reads it as the CLI does (`vmtui.ops.sizes`): a bare number is refused
in place with the hint, the form stays open, and the same text with a unit is taken.

The balloon dialog and the devices screen's add-disk form run here in a bare app (they contact nothing
before they close); the storage screen's new-volume form is driven on a real pool in test_resources_tui.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widgets import Input, Label

from tests.tui.conftest import wait_for
from vmtui.screens.devices import _check_disk
from vmtui.screens.form import FormField, FormModal
from vmtui.screens.memory import BalloonModal


class _Host(App[None]):
    """Shows one modal and keeps what it was dismissed with."""

    def __init__(self, modal: Any) -> None:
        super().__init__()
        self.modal = modal
        self.result: list[object] = []

    def on_mount(self) -> None:
        self.push_screen(self.modal, self.result.append)


def _error(app: App[None], selector: str) -> str:
    return str(app.screen.query_one(selector, Label).render())


async def test_balloon_dialog_refuses_a_bare_number_then_takes_a_unit() -> None:
    app = _Host(BalloonModal("Balloon guest: now 256 MiB"))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, BalloonModal))
        await pilot.press(*"163840", "enter")  # virsh would read KiB; vmtui asks for a unit
        await wait_for(pilot, lambda: "has no unit" in _error(app, "#balloon-error"))
        assert _error(app, "#balloon-error") == (
            "size '163840' has no unit (add one: 163840KiB, 163840MiB/163840M, 163840GiB/163840G (binary) "
            "or 163840MB (decimal))"
        )
        assert isinstance(app.screen, BalloonModal)
        assert app.result == []
        app.screen.query_one(Input).value = "160M"
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(app.result))
        assert app.result == [163840]  # 160 x 1024 KiB


async def test_add_disk_form_refuses_a_bare_number_then_takes_a_unit() -> None:
    fields = (
        FormField("size", "Size", "10G"),
        FormField("pool", "Storage pool", value="default"),
        FormField("name", "Volume name (empty: named after the domain)"),
    )
    app = _Host(FormModal("Add a disk", fields, _check_disk))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, FormModal))
        await pilot.press(*"10", "enter", "enter", "enter")  # bytes to qemu-img: vmtui asks for a unit
        await wait_for(pilot, lambda: "has no unit" in _error(app, "#form-error"))
        assert isinstance(app.screen, FormModal)
        assert app.result == []
        app.screen.query_one("#form-size", Input).value = "1.5G"
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(app.result))
        assert app.result == [{"size": "1.5G", "pool": "default", "name": ""}]
