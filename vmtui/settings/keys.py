"""`[keys]`: the user's key for a command (`migrate = "g"`), by its `:` word or its binding's action name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vmtui.settings.aliases import WORD_RE
from vmtui.settings.file import ConfigText

KEY_RE = re.compile(r"^((ctrl|shift|alt)\+)*([A-Za-z0-9]|f[0-9]{1,2}|[a-z_]{2,20})$|^[!-~]$")
"""A key as Textual names it ("g", "G", "ctrl+g", "f5", "question_mark") or one printable character ("?")."""


@dataclass(frozen=True, slots=True)
class KeyChoice:
    command: str
    """The `:` word of the command ("migrate", "pools") or its action name ("resources")."""
    key: str
    line: int


def parse_keys(doc: ConfigText, table: object) -> tuple[KeyChoice, ...]:
    if not isinstance(table, dict):
        raise doc.top_error('keys must be a table: [keys] then command = "key"', "keys")
    out: list[KeyChoice] = []
    for command, key in table.items():
        if not WORD_RE.match(command):
            raise doc.error(f"keys.{command}: not a command name (see `:` in the TUI)", "keys", command)
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise doc.error(f'keys.{command}: must be one key in quotes ("g", "ctrl+g"), not {key!r}', "keys", command)
        out.append(KeyChoice(command, key, doc.line("keys", command)))
    return tuple(out)
