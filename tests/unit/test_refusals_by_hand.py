"""Which key is offered, and what a refused key says when pressed anyway (`widgets.refusals`).

A screen of the test's own holds one rule (pause a running guest, resume a paused one), driven with
Textual's Pilot; what the user sees is checked: the action ran or not, the notification's words.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.screen import Screen

from vmtui.widgets.refusals import Refusals, explained


class Switch(Refusals, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *explained(
            Binding("p", "pause", "Pause"),
            Binding("r", "resume", "Resume"),
            Binding("d", "delete('disk[b]1\\nextra')", "Delete"),
            Binding("k", "kill", "Kill"),
        )
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state = "running"
        self.done: list[str] = []

    def refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action == "pause" and self.state != "running":
            return f"it is {self.state}"
        if action == "resume" and self.state != "paused":
            return f"it is {self.state}"
        if action == "delete":
            return f"{parameters[0]} is in use"
        if action == "kill":
            return ""  # refused, with no reason given
        return None

    def action_pause(self) -> None:
        self.done.append("pause")
        self.state = "paused"

    def action_resume(self) -> None:
        self.done.append("resume")
        self.state = "running"


class Plain(Refusals, Screen[None]):
    """A screen that refuses nothing."""


class SwitchApp(App[None]):
    def on_mount(self) -> None:
        self.push_screen(Switch())


def test_each_binding_gets_a_hidden_twin_that_says_why() -> None:
    assert explained(Binding("p", "pause", "Pause"), Binding("x", "destroy", "Force off")) == [
        Binding("p", "pause", "Pause"),
        Binding("p", "why_not('pause', 'Pause')", show=False),
        Binding("x", "destroy", "Force off"),
        Binding("x", "why_not('destroy', 'Force off')", show=False),
    ]


def test_a_screen_without_a_rule_offers_everything() -> None:
    assert Plain().check_action("pause", ()) is True


async def test_a_refused_key_is_not_offered_and_pressed_says_why() -> None:
    seen: list[Message] = []
    app = SwitchApp()
    async with app.run_test(message_hook=seen.append) as pilot:
        screen = app.screen
        assert isinstance(screen, Switch)
        # Running: pause is offered, resume is not; the twins always run (they only speak).
        assert screen.check_action("pause", ()) is True
        assert screen.check_action("resume", ()) is False
        assert screen.check_action("why_not", ("resume", "Resume")) is True
        await pilot.press("r")  # refused: nothing runs, it says why
        await pilot.press("p")  # offered: it runs
        await pilot.press("p")  # now paused: refused
        await pilot.press("d")  # the refusal reads the binding's parameter; shown on one line, literally
        await pilot.press("k")  # refused without a reason
        await pilot.pause()
        assert screen.done == ["pause"]
        assert screen.state == "paused"
    notes: list[Notification] = [m.notification for m in seen if isinstance(m, Notify)]
    assert [(n.message, n.title, n.severity, n.markup) for n in notes] == [
        ("Resume: it is running", "not offered", "warning", False),
        ("Pause: it is paused", "not offered", "warning", False),
        ("Delete: disk[b]1 extra is in use", "not offered", "warning", False),
        ("Kill: not now", "not offered", "warning", False),
    ]
