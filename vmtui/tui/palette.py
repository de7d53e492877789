"""The command palette's vmtui commands: actions, console and XML of the selected domain, open any domain,
add or remove a host.

Commands only post the same request messages the screens post; the app decides and acts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.markup import escape
from textual.message import Message

from vmtui.ops.lifecycle import ACTIONS
from vmtui.present import printable
from vmtui.tui.fleet import Fleet
from vmtui.tui.messages import (
    ActionRequested,
    ConsoleRequested,
    DomainOpenRequested,
    HostRemoveRequested,
    XmlRequested,
)


class FleetApp(Protocol):
    """What the palette needs of the app: its fleet state and the selected domain."""

    fleet: Fleet

    def selected_uuid(self) -> str | None: ...

    def can_add_hosts(self) -> bool: ...


Command = tuple[str, Callable[[], object], str]


class DomainCommands(Provider):
    """Lifecycle actions on the selected domain, opening any domain, adding and removing hosts."""

    def _post(self, message: Message) -> Callable[[], object]:
        return partial(self.app.post_message, message)

    def _commands(self) -> list[Command]:
        app = self.app
        fleet = getattr(app, "fleet", None)
        if not isinstance(fleet, Fleet):
            return []
        holder: FleetApp = app  # type: ignore[assignment]
        out: list[Command] = []
        uuid = holder.selected_uuid()
        found = fleet.find(uuid) if uuid else None
        if uuid and found:
            view = found[0]
            name = printable(fleet.name_of(uuid))
            for action in ACTIONS:
                if fleet.action_refusal(uuid, action.key) is None:
                    out.append(
                        (f"{action.label} {name}", self._post(ActionRequested(uuid, action.key)), f"on {view.name}")
                    )
            if fleet.tool_refusal(uuid, running=True) is None:
                out.append((f"Console {name}", self._post(ConsoleRequested(uuid)), "serial console (key c)"))
            if fleet.tool_refusal(uuid, writes=False) is None:
                out.append((f"XML of {name}", self._post(XmlRequested(uuid)), "the domain's XML (key v)"))
        for view in fleet.hosts.values():
            for d in view.domains.values():
                out.append((f"Open {printable(d.name)}", self._post(DomainOpenRequested(d.uuid)), f"on {view.name}"))
        out.append(("Notifications", partial(app.run_action, "notifications"), "every notification whole (key ctrl+n)"))
        if holder.can_add_hosts():
            out.append(("Add host…", partial(app.run_action, "add_host"), "save a libvirt URI and watch it (key a)"))
            for name in fleet.hosts:
                out.append((f"Remove host {name}", self._post(HostRemoveRequested(name)), "stop watching it"))
        return out

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands()[:20]:
            # Content(...) is literal text: a domain called "[b]x" reads "[b]x", never bold "x".
            # The palette reads `help` as markup, so it is escaped.
            yield DiscoveryHit(Content(text), command, text=text, help=escape(help_text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, literal_highlight(matcher, text), command, text=text, help=escape(help_text))


def literal_highlight(matcher: Matcher, text: str) -> Content:
    """`Matcher.highlight` without reading `text` as markup (it calls Content.from_markup)."""
    content = Content(text)
    _score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    for offset in offsets:
        if not text[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
