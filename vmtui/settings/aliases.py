"""`[aliases]`: a word of the user's for a `:` command line (`prod = "filter host:kvm1"`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vmtui.settings.file import ConfigText

WORD_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
"""A `:` word: what aliases, plugins and `[keys]` names are spelt with."""


@dataclass(frozen=True, slots=True)
class Alias:
    name: str
    expansion: str
    """The command line it stands for; words after the alias are added to it."""
    line: int


def parse_aliases(doc: ConfigText, table: object) -> tuple[Alias, ...]:
    if not isinstance(table, dict):
        raise doc.top_error('aliases must be a table: [aliases] then name = "command"', "aliases")
    out: list[Alias] = []
    for name, value in table.items():
        if not WORD_RE.match(name):
            raise doc.error(f"aliases.{name}: an alias is one word (a-z, digits, '-', '_')", "aliases", name)
        if not isinstance(value, str) or not value.split():
            raise doc.error(f'aliases.{name}: must be a command line in quotes ("filter host:kvm1")', "aliases", name)
        out.append(Alias(name, value.strip(), doc.line("aliases", name)))
    return tuple(out)
