"""The command palette's vmtui commands: the table `:` reads too (`vmtui.tui.commands`), searched by name.

Commands only post the same request messages the screens post, or run the screens' own keys; the app
decides and acts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.markup import escape

from vmtui.tui.commands import CommandTable

PaletteLine = tuple[str, Callable[[], object], str]


class DomainCommands(Provider):
    """Every command of `CommandTable`: the current screen's keys, other screens by their opening key (the
    help says the keys: "M, then B"), opening any domain, removing hosts, the user's plugins."""

    CLI_OPTIONS: ClassVar[dict[str, str]] = {"hosts rm": "palette: Remove host NAME"}
    """The CLI command only the palette (and `:`) offers (tests/unit/test_parity.py reads them)."""

    def _commands(self) -> list[PaletteLine]:
        return [(c.title, c.run, c.help) for c in CommandTable(self.app, self.screen).commands()]

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
