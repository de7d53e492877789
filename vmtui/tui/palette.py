"""The command palette's vmtui commands: every key of every screen by its name, open any domain, remove a
host.

Commands only post the same request messages the screens post; the app decides and acts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import ClassVar, Protocol

from textual.actions import parse
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.markup import escape
from textual.message import Message

from vmtui.present import printable
from vmtui.screens.host import DOMAIN_ACTIONS, HostScreen
from vmtui.screens.keymap import SCREENS, ScreenKeys, opener, screen_keys
from vmtui.tui.fleet import Fleet
from vmtui.tui.messages import DomainOpenRequested, HostRemoveRequested
from vmtui.widgets.refusals import Refusals


class FleetApp(Protocol):
    """What the palette needs of the app: its fleet state, the selected domain and the dashboard."""

    fleet: Fleet
    host_screen: HostScreen

    def selected_uuid(self) -> str | None: ...

    def can_add_hosts(self) -> bool: ...


Command = tuple[str, Callable[[], object], str]


class DomainCommands(Provider):
    """Every key of every screen (`vmtui.screens.keymap`), opening any domain, removing hosts.

    The current screen's keys run here; another screen's keys open that screen (as its dashboard key
    does), and the help says the keys: "M, then B".
    """

    CLI_OPTIONS: ClassVar[dict[str, str]] = {"hosts rm": "palette: Remove host NAME"}
    """The CLI command only the palette offers (tests/unit/test_parity.py reads them)."""

    def _post(self, message: Message) -> Callable[[], object]:
        return partial(self.app.post_message, message)

    def _commands(self) -> list[Command]:
        app = self.app
        fleet = getattr(app, "fleet", None)
        if not isinstance(fleet, Fleet):
            return []
        holder: FleetApp = app  # type: ignore[assignment]
        here = screen_keys(self.screen)
        out: list[Command] = []
        if here is not None:
            out += self._keys_here(here, fleet)
        for table in SCREENS:
            if table is not here:
                out += self._keys_elsewhere(table, holder.host_screen)
        for view in fleet.hosts.values():
            for d in view.domains.values():
                out.append((f"Open {printable(d.name)}", self._post(DomainOpenRequested(d.uuid)), f"on {view.name}"))
        out.append(("Notifications", partial(app.run_action, "notifications"), "every notification whole (key ctrl+n)"))
        if holder.can_add_hosts():
            for name in fleet.hosts:
                out.append((f"Remove host {name}", self._post(HostRemoveRequested(name)), "stop watching it"))
        return out

    def _keys_here(self, table: ScreenKeys, fleet: Fleet) -> list[Command]:
        """The screen's own keys, run on it: a refused one says why, as the key does."""
        screen = self.screen
        selected = getattr(screen, "selected_uuid", None)
        uuid = selected() if callable(selected) else None
        domain = printable(fleet.name_of(uuid)) if isinstance(uuid, str) else ""
        out: list[Command] = []
        for entry in table.entries():
            node = screen if entry.owner is table.screen else next(iter(screen.query(entry.owner)), None)
            if node is None:
                continue
            action = entry.binding.action
            _namespace, name, parameters = parse(action)
            text = f"{entry.name} {domain}" if domain and name in DOMAIN_ACTIONS else entry.name
            why = node.refusal(name, parameters) if isinstance(node, Refusals) else None
            if why is None:
                command: Callable[[], object] = partial(self.app.run_action, action, node)
                out.append((text, command, f"key {entry.keys}"))
            else:
                assert isinstance(node, Refusals)
                command = partial(node.action_why_not, action, entry.name)
                out.append((text, command, f"key {entry.keys}; not now: {why}"))
        return out

    def _keys_elsewhere(self, table: ScreenKeys, dashboard: HostScreen) -> list[Command]:
        """Another screen's keys: each opens that screen from the dashboard's selection."""
        opening = opener(table)
        if opening is None:
            return []
        node = dashboard if opening.owner is HostScreen else next(iter(dashboard.query(opening.owner)), None)
        if node is None:
            return []
        command: Callable[[], object] = partial(self.app.run_action, opening.binding.action, node)
        _namespace, name, parameters = parse(opening.binding.action)
        why = node.refusal(name, parameters) if isinstance(node, Refusals) else None
        if why is not None:
            assert isinstance(node, Refusals)
            command = partial(node.action_why_not, opening.binding.action, opening.name)
        out: list[Command] = [(table.title, command, f"key {opening.keys} on the dashboard: {table.about}")]
        for entry in table.entries():
            if entry.binding.action in ("app.pop_screen", "cancel", "close"):
                continue  # leaving a screen is not a reason to open it
            out.append((f"{table.title}: {entry.name}", command, f"{opening.keys}, then {entry.keys}"))
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
