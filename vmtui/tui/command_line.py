"""`:` commands: the line the user types, read against the shared command table (`vmtui.tui.commands`) and
the user's aliases; Tab completes command words, host names, domain names and columns."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import App
from textual.screen import Screen

from vmtui.screens.command_line import CommandLineModal
from vmtui.settings.aliases import Alias
from vmtui.tui.commands import CommandTable


class CommandLine:
    """Opens the `:` line over the current screen and runs what is typed there."""

    def __init__(self, app: App[None], aliases: Sequence[Alias] = ()) -> None:
        self.app = app
        self.aliases = {a.name: a.expansion for a in aliases}

    def open(self) -> None:
        under = self.app.screen
        self.app.push_screen(
            CommandLineModal(lambda text: self.complete(text, under)), lambda text: self.run(text or "", under)
        )

    def expand(self, text: str) -> str:
        """The line with an alias in its first word replaced by what it stands for (the rest kept after it)."""
        word, _space, rest = text.strip().partition(" ")
        if word in self.aliases:
            return f"{self.aliases[word]} {rest}".strip()
        return text.strip()

    def complete(self, text: str, screen: Screen[object]) -> list[str]:
        """The whole lines `text` may become: a command word (a space after one that takes a word), or the
        word after `host`, `domain`, `sort` among the fleet's hosts, domains (as shown) and columns."""
        table = CommandTable(self.app, screen)
        word, space, rest = text.lstrip().partition(" ")
        if not space:
            takes = table.word_commands()
            words = [*table.words(), *self.aliases]
            return sorted({f"{w} " if w in takes else w for w in words if w.startswith(word)})
        command = table.word_commands().get(word)
        if command is None:
            return []
        return [f"{word} {choice}" for choice in table.choices(command.argument) if choice.startswith(rest)]

    def run(self, text: str, screen: Screen[object]) -> None:
        line = self.expand(text)
        if not line:
            return
        table = CommandTable(self.app, screen)
        word, _space, rest = line.partition(" ")
        argument = rest.strip()
        takes = table.word_commands().get(word)
        if takes is not None and argument:
            why = takes.run(argument)
            if isinstance(why, str):
                self.app.notify(f":{line}: {why}", title="command", severity="warning", markup=False)
            return
        command = table.find(word)
        if command is None:
            hint = f"{word} needs a {takes.argument}" if takes is not None else f"unknown command {word!r}"
            self.app.notify(f":{line}: {hint} (Tab lists them)", title="command", severity="warning", markup=False)
            return
        if argument:
            self.app.notify(
                f":{line}: {word} takes no word after it", title="command", severity="warning", markup=False
            )
            return
        self.app.call_later(command.run)  # run_action is a coroutine: the loop awaits it
