"""The user's plugins: run from their key or `:NAME` on the selected domain (or the screen's host).

A plugin is refused, with its reason said (as a refused key's), when there is no domain to give it, on
a replay (no live host), and, when marked `dangerous`, wherever nothing may be changed (a read-only
host). `confirm` asks first. `terminal` plugins get the terminal as the console does; `panel` plugins
run as a job and their output is shown in a screen.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.screen import Screen

from vmtui.ops import plugins as plugin_ops
from vmtui.ops.base import Progress
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.host import HostScreen
from vmtui.screens.keymap import screen_keys
from vmtui.screens.plugin_output import PluginOutputScreen
from vmtui.settings.plugins import Plugin, substitute
from vmtui.tui.actions import After
from vmtui.tui.commands import Command
from vmtui.tui.parts import Controller, Parts


@dataclass(frozen=True, slots=True)
class Target:
    """What a plugin acts on: the host, and the domain when one is selected."""

    host: str
    uuid: str | None
    domain: str


class Plugins(Controller):
    def __init__(self, parts: Parts, plugins: Sequence[Plugin]) -> None:
        super().__init__(parts)
        self.plugins = {p.name: p for p in plugins}

    def applies(self, plugin: Plugin, screen: Screen[Any]) -> bool:
        keys = screen_keys(screen)
        return keys is not None and keys.word in plugin.screens

    def commands(self, screen: Screen[Any]) -> list[Command]:
        """The plugins of `screen`, for the palette and `:` (`vmtui.tui.commands`)."""
        out: list[Command] = []
        for plugin in self.plugins.values():
            if self.applies(plugin, screen):
                why = self.refusal(plugin, screen)
                key = f"key {plugin.key}" if plugin.key else f":{plugin.name}"
                text = f"{key}; not now: {why}" if why else key
                out.append(
                    Command(
                        f"Plugin {plugin.name}",
                        f"{text}: {plugin.about}",
                        partial(self.run, plugin.name, screen),
                        plugin.name,
                        why,
                    )
                )
        return out

    def target(self, screen: Screen[Any]) -> Target | None:
        selected = getattr(screen, "selected_uuid", None)
        uuid = selected() if callable(selected) else None
        found = self.fleet.find(uuid) if isinstance(uuid, str) else None
        if found is not None and isinstance(uuid, str):
            return Target(found[0].name, uuid, self.fleet.name_of(uuid))
        host = screen.selected_host() if isinstance(screen, HostScreen) else getattr(screen, "host", None)
        return Target(host, None, "") if isinstance(host, str) and host in self.fleet.hosts else None

    def refusal(self, plugin: Plugin, screen: Screen[Any]) -> str | None:
        """Why `plugin` cannot run on `screen` now, or None."""
        if not self.applies(plugin, screen):
            return f"it runs on {', '.join(plugin.screens)}"
        target = self.target(screen)
        if target is None:
            return "no domain selected" if plugin.needs_domain else "no host selected"
        if plugin.needs_domain and target.uuid is None:
            return "no domain selected"
        view = self.fleet.hosts[target.host]
        if plugin.dangerous:
            why = self.fleet.write_refusal(view)
            if why is not None:
                return f"a dangerous plugin changes things: {why}"
        if view.recorded:
            return "a replay has no live host to run it on"
        if target.host not in self.entries:
            return "its host is not watched any more"
        return None

    def run(self, name: str, screen: Screen[Any] | None = None) -> None:
        """Run plugin `name` on `screen`'s selection (the screen on top when None), or say why not."""
        plugin = self.plugins.get(name)
        screen = screen or self.ui.top
        if plugin is None or screen is None:
            self.ui.say(f"no plugin called {name!r}", severity="warning")
            return
        why = self.refusal(plugin, screen)
        target = self.target(screen)
        if why is not None or target is None:
            self.ui.say(f"plugin {plugin.name}: {why}", title="not offered", severity="warning")
            return
        entry = self.entries[target.host]
        values = plugin_ops.plugin_values(domain=target.domain, uuid=target.uuid or "", host=target.host, uri=entry.uri)
        if not plugin.confirm:
            self._start(plugin, target, values)
            return
        what = f" on {target.domain}" if target.uuid else f" on host {target.host}"
        question = f"Run plugin {plugin.name}{what}?"
        detail = " ".join(substitute(plugin.command, values))
        self.ui.show(
            ConfirmModal(question, detail=detail), lambda ok: self._start(plugin, target, values) if ok else None
        )

    def _start(self, plugin: Plugin, target: Target, values: dict[str, str]) -> None:
        label = f"plugin {plugin.name}"
        if plugin.mode == "terminal":
            ran, ended = self.ui.hand_over(label, partial(plugin_ops.run_on_terminal, plugin, values))
            if ran and ended is not None and ended.returncode != 0:
                self.ui.say(f"{label}: exit {ended.returncode}: {ended.output or 'it failed'}", severity="error")
            return

        def work(_progress: Progress, cancel: threading.Event) -> object:
            return plugin_ops.run_captured(plugin, values, cancel)

        def show(result: object) -> None:
            assert isinstance(result, plugin_ops.PluginRun)
            on = target.domain or target.host
            status = f"exit {result.returncode}" if result.returncode else ""
            self.ui.show(PluginOutputScreen(f"{plugin.name}: {on}", result.output, status=status))

        after = After(ok=show, quiet=True, changes=plugin.dangerous)
        uuid = target.uuid if plugin.dangerous else None
        self.starter.start(target.host, uuid, label, work, after=after)
