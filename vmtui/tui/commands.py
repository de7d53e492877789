"""The one table of commands that the palette (ctrl+p) and the `:` command line both read.

Every key of the current screen by its name and its `:` word, every other screen by the key that opens it,
the commands that take a word (`:host NAME`, `:domain NAME`, `:filter EXPR`, `:sort KEY`), the user's
plugins, and the app's own (help, notifications, quit). A refused command is in the table with its
reason, and running it says the reason (as its key does): the palette and `:` cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from textual.actions import parse
from textual.app import App
from textual.dom import DOMNode
from textual.message import Message
from textual.screen import Screen

from vmtui.present import printable
from vmtui.screens.host import DOMAIN_ACTIONS, HostScreen
from vmtui.screens.keymap import SCREENS, ScreenKeys, opener, screen_keys
from vmtui.tui.fleet import Fleet
from vmtui.tui.messages import DomainOpenRequested, HostRemoveRequested
from vmtui.widgets.refusals import Refusals
from vmtui.widgets.table_layout import COLUMNS


class FleetApp(Protocol):
    """What the table needs of the app: its fleet state, the dashboard, and who may add hosts."""

    fleet: Fleet
    host_screen: HostScreen

    def can_add_hosts(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its palette line, what runs it, and its `:` word (None: the palette's only)."""

    title: str
    help: str
    run: Callable[[], object]
    word: str | None = None
    refusal: str | None = None
    """Why it cannot run now (running it says this), or None."""


@dataclass(frozen=True, slots=True)
class WordCommand:
    """A `:` command that takes a word after it: `host NAME`, `domain NAME`, `filter EXPR`, `sort KEY`."""

    word: str
    argument: str
    """What the word is: "host", "domain", "expression", "column"."""
    about: str
    run: Callable[[str], object]


PLUGIN_ACTION = "app.plugin"
"""The action of a plugin's key (`app.plugin('NAME')`): the palette lists plugins once, as plugins."""

SORT_NAMES: dict[str, str] = {
    **{c.title.split()[0].rstrip("%/s").lower(): c.key for c in COLUMNS},
    **{c.key: c.key for c in COLUMNS},
}
"""`:sort` takes a column as its header says it (cpu, mem, ovhd, exits) or by its key (mem_cur_kib)."""

APP_COMMANDS = (
    ("help", "Help", "every key of this screen and of the app (key ?)", "help"),
    ("notifications", "Notifications", "every notification whole (key ctrl+n)", "notifications"),
    ("quit", "Quit", "leave vmtui (key q)", "quit"),
)
"""The app's own commands: word, palette title, help, action."""


class CommandTable:
    """The commands of `screen` (the one the palette or `:` was opened on) in `app`, built when asked."""

    def __init__(self, app: App[Any], screen: Screen[Any]) -> None:
        self.app = app
        self.screen = screen
        fleet = getattr(app, "fleet", None)
        self.fleet = fleet if isinstance(fleet, Fleet) else None

    def _post(self, message: Message) -> Callable[[], object]:
        return partial(self.app.post_message, message)

    def commands(self) -> list[Command]:
        """Every command, the current screen's keys first."""
        if self.fleet is None:
            return []
        holder: FleetApp = self.app  # type: ignore[assignment]
        here = screen_keys(self.screen)
        out: list[Command] = []
        if here is not None:
            out += self._keys_here(here, self.fleet)
        for table in SCREENS:
            if table is not here:
                out += self._keys_elsewhere(table, holder.host_screen)
        plugins = getattr(self.app, "user_plugins", None)
        if plugins is not None:
            out += plugins.commands(self.screen)
        for view in self.fleet.hosts.values():
            for d in view.domains.values():
                out.append(
                    Command(f"Open {printable(d.name)}", f"on {view.name}", self._post(DomainOpenRequested(d.uuid)))
                )
        for word, title, help_text, action in APP_COMMANDS:
            out.append(Command(title, help_text, partial(self.app.run_action, action), word))
        if holder.can_add_hosts():
            for name in self.fleet.hosts:
                out.append(Command(f"Remove host {name}", "stop watching it", self._post(HostRemoveRequested(name))))
        return out

    def find(self, word: str) -> Command | None:
        """The command `:word` runs: the current screen's key before another screen's opener."""
        return next((c for c in self.commands() if c.word == word), None)

    def words(self) -> list[str]:
        """Every `:` word, once each, in table order, then those that take a word."""
        seen: dict[str, None] = {}
        for command in self.commands():
            if command.word is not None:
                seen.setdefault(command.word)
        for word in self.word_commands():
            seen.setdefault(word)
        return list(seen)

    def word_commands(self) -> dict[str, WordCommand]:
        return {
            "host": WordCommand("host", "host", "the dashboard, the hosts pane on host NAME", self._host),
            "domain": WordCommand("domain", "domain", "open domain NAME", self._domain),
            "filter": WordCommand("filter", "expression", "filter the domains (as /)", self._filter),
            "sort": WordCommand("sort", "column", f"sort by a column ({', '.join(SORT_NAMES)})", self._sort),
        }

    def choices(self, argument: str) -> list[str]:
        """The words an argument may be, for completion: host names, domain names (as shown), columns."""
        if self.fleet is None:
            return []
        if argument == "host":
            return list(self.fleet.hosts)
        if argument == "domain":
            return sorted({d.name for view in self.fleet.hosts.values() for d in view.domains.values()})
        if argument == "column":
            return list(SORT_NAMES)
        return []

    # ----- the commands that take a word ------------------------------------------------------------

    def _dashboard(self) -> HostScreen:
        """Back to the dashboard, every screen above it closed as its Esc would."""
        holder: FleetApp = self.app  # type: ignore[assignment]
        while len(self.app.screen_stack) > 1 and self.app.screen is not holder.host_screen:
            self.app.pop_screen()
        return holder.host_screen

    def _host(self, name: str) -> str | None:
        if self.fleet is None or name not in self.fleet.hosts:
            return f"no host named {name!r} is watched"
        self._dashboard().focus_host(name)
        return None

    def _domain(self, name: str) -> str | None:
        if self.fleet is None:
            return "no fleet"
        found = [d.uuid for view in self.fleet.hosts.values() for d in view.domains.values() if d.name == name]
        if not found:
            return f"no domain named {name!r} is shown"
        self.app.post_message(DomainOpenRequested(found[0]))
        return None

    def _filter(self, expression: str) -> str | None:
        dashboard = self._dashboard()
        dashboard.filter_to(expression)
        return None

    def _sort(self, column: str) -> str | None:
        key = SORT_NAMES.get(column.lower())
        if key is None:
            return f"no column {column!r} (one of {', '.join(SORT_NAMES)})"
        self._dashboard().table.sort_by(key)
        return None

    # ----- keys ------------------------------------------------------------------------------------

    def _keys_here(self, table: ScreenKeys, fleet: Fleet) -> list[Command]:
        """The screen's own keys, run on it: a refused one says why, as the key does."""
        screen = self.screen
        selected = getattr(screen, "selected_uuid", None)
        uuid = selected() if callable(selected) else None
        domain = printable(fleet.name_of(uuid)) if isinstance(uuid, str) else ""
        out: list[Command] = []
        for entry in table.entries():
            node: DOMNode | None = (
                screen if entry.owner is table.screen else next(iter(screen.query(entry.owner)), None)
            )
            if node is None:
                continue
            action = entry.binding.action
            if action.startswith(PLUGIN_ACTION):
                continue  # listed by the plugins, with their refusal
            _namespace, name, parameters = parse(action)
            text = f"{entry.name} {domain}" if domain and name in DOMAIN_ACTIONS else entry.name
            why = node.refusal(name, parameters) if isinstance(node, Refusals) else None
            if why is None:
                out.append(Command(text, f"key {entry.keys}", partial(self.app.run_action, action, node), entry.word))
            else:
                assert isinstance(node, Refusals)
                run = partial(node.action_why_not, action, entry.name)
                out.append(Command(text, f"key {entry.keys}; not now: {why}", run, entry.word, why))
        return out

    def _keys_elsewhere(self, table: ScreenKeys, dashboard: HostScreen) -> list[Command]:
        """Another screen's keys: each opens that screen from the dashboard's selection."""
        opening = opener(table)
        if opening is None:
            return []
        node = dashboard if opening.owner is HostScreen else next(iter(dashboard.query(opening.owner)), None)
        if node is None:
            return []
        run: Callable[[], object] = partial(self.app.run_action, opening.binding.action, node)
        _namespace, name, parameters = parse(opening.binding.action)
        why = node.refusal(name, parameters) if isinstance(node, Refusals) else None
        if why is not None:
            assert isinstance(node, Refusals)
            run = partial(node.action_why_not, opening.binding.action, opening.name)
        out = [Command(table.title, f"key {opening.keys} on the dashboard: {table.about}", run, table.word, why)]
        for entry in table.entries():
            if entry.binding.action in ("app.pop_screen", "cancel", "close"):
                continue  # leaving a screen is not a reason to open it
            out.append(Command(f"{table.title}: {entry.name}", f"{opening.keys}, then {entry.keys}", run, None, why))
        return out
