"""`[[plugins]]`: a program the user runs on the selected domain (or its host) from a key or `:NAME`.

The command is an argv list; each variable is replaced inside its own argument, once, and never
through a shell: a domain called `a b; $(rm -rf ~)` reaches the program as that one argument.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from vmtui.config import ConfigError
from vmtui.settings.aliases import WORD_RE
from vmtui.settings.file import ConfigText
from vmtui.settings.keys import KEY_RE

VARIABLES = ("DOMAIN", "UUID", "HOST", "URI", "SSH_TARGET")
"""What `$NAME` in a plugin's arguments may name: the selected domain, its host and how to reach it."""
VARIABLE_RE = re.compile(r"\$([A-Z][A-Z_]*)")
"""`$NAME` in capitals: a script's own `$1`, `$addr`, awk's `$4` are left alone (and `${HOME}` too)."""
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "fish"})
"""Programs whose `-c` argument is shell text: a value pasted into it would be run, so none may be."""
MODES = ("terminal", "panel")
"""terminal: the program gets the terminal (the TUI is suspended), as the console does; panel: its output
is shown in a screen."""
PLUGIN_KEYS = {
    "name": str,
    "key": str,
    "screens": list,
    "command": list,
    "mode": str,
    "confirm": bool,
    "dangerous": bool,
    "description": str,
}
DEFAULT_SCREENS = ("dashboard", "domain")


@dataclass(frozen=True, slots=True)
class Plugin:
    name: str
    """Its `:` word, and its name in the footer, help and palette."""
    command: tuple[str, ...]
    key: str | None = None
    screens: tuple[str, ...] = DEFAULT_SCREENS
    mode: str = "terminal"
    confirm: bool = False
    dangerous: bool = False
    """Changes something: refused on read-only hosts and in a replay."""
    description: str = ""
    line: int = 0
    """The line of its `[[plugins]]` header (its own keys' lines are found again when an error names one)."""
    item: int = 0
    """Which `[[plugins]]` of the file it is (0 is the first)."""

    @property
    def needs_domain(self) -> bool:
        return any(v in ("DOMAIN", "UUID") for arg in self.command for v in VARIABLE_RE.findall(arg))

    @property
    def about(self) -> str:
        return self.description or " ".join(self.command)


def substitute(command: tuple[str, ...], values: Mapping[str, str]) -> list[str]:
    """The argv: each `$NAME` replaced in its own argument, in one pass (a value is never read again)."""
    return [VARIABLE_RE.sub(lambda m: values.get(m.group(1), m.group(0)), arg) for arg in command]


def parse_plugins(doc: ConfigText, array: object) -> tuple[Plugin, ...]:
    if not isinstance(array, list) or not all(isinstance(p, dict) for p in array):
        raise doc.top_error("plugins must be tables: [[plugins]] then name = ..., command = [...]", "plugins")
    out: list[Plugin] = []
    for item, table in enumerate(array):
        out.append(_plugin(doc, item, table))
    names = [p.name for p in out]
    for item, plugin in enumerate(out):
        if names.index(plugin.name) != item:
            raise doc.error(f"plugins: a second plugin named {plugin.name!r}", "plugins", "name", item=item)
    return tuple(out)


def _refuse_values_in_shell_text(command: list[object], fail: Callable[[str, str], ConfigError], label: str) -> None:
    """`sh -c 'virsh dumpxml $DOMAIN'` would paste a host's name into a shell line: refused; the value goes
    after the script (`"sh", "-c", 'virsh dumpxml "$1"', "sh", "$DOMAIN"`) and the script reads "$1"."""
    if Path(str(command[0])).name not in SHELLS:
        return
    for before, arg in zip(command, command[1:], strict=False):
        if before == "-c" and VARIABLE_RE.search(str(arg)):
            raise fail(
                f"{label}.command: ${VARIABLE_RE.search(str(arg)).group(1)} inside the shell's -c text would be run "  # type: ignore[union-attr]
                'as shell code; pass it after the script ("sh", "-c", \'... "$1"\', "sh", "$DOMAIN")',
                "command",
            )


def _plugin(doc: ConfigText, item: int, table: dict[str, object]) -> Plugin:
    def fail(message: str, key: str | None = None) -> ConfigError:
        return doc.error(message, "plugins", key, item=item)

    name = table.get("name")
    label = f"plugins[{item + 1}]" if not isinstance(name, str) else f"plugin {name!r}"
    for field, value in table.items():
        kind = PLUGIN_KEYS.get(field)
        if kind is None:
            raise fail(f"{label}: unknown key {field!r} (known: {', '.join(PLUGIN_KEYS)})", field)
        if not isinstance(value, kind):
            words = {str: "a string in quotes", list: "a list of strings", bool: "true or false"}[kind]
            raise fail(f"{label}.{field}: must be {words}, not {value!r}", field)
    if not isinstance(name, str) or not WORD_RE.match(name):
        raise fail(f"{label}: name = \"...\" is missing or not one word (a-z, digits, '-', '_')", "name")
    command = table.get("command")
    if not isinstance(command, list) or not command:
        raise fail(f'{label}: command = ["program", "arg", ...] is missing (a list: never a shell line)', "command")
    if not all(isinstance(arg, str) for arg in command) or not command[0]:
        raise fail(f"{label}.command: every argument must be a string, the first the program", "command")
    for arg in command:
        assert isinstance(arg, str)
        unknown = [v for v in VARIABLE_RE.findall(arg) if v not in VARIABLES]
        if unknown:
            known = ", ".join(f"${v}" for v in VARIABLES)
            raise fail(f"{label}.command: unknown variable ${unknown[0]} (known: {known})", "command")
    _refuse_values_in_shell_text(command, fail, label)
    key: object = table.get("key")
    if key is not None and not (isinstance(key, str) and KEY_RE.match(key)):
        raise fail(f'{label}.key: must be one key in quotes ("V", "ctrl+v"), not {key!r}', "key")
    mode = table.get("mode", "terminal")
    if mode not in MODES:
        raise fail(f'{label}.mode: must be "terminal" or "panel", not {mode!r}', "mode")
    screens = table.get("screens", list(DEFAULT_SCREENS))
    if not isinstance(screens, list) or not screens or not all(isinstance(s, str) for s in screens):
        raise fail(f'{label}.screens: a list of screen names (["dashboard", "domain"])', "screens")
    return Plugin(
        name=name,
        command=tuple(str(arg) for arg in command),
        key=key if isinstance(key, str) else None,
        screens=tuple(str(s) for s in screens),
        mode=str(mode),
        confirm=bool(table.get("confirm", False)),
        dangerous=bool(table.get("dangerous", False)),
        description=str(table.get("description", "")),
        line=doc.line("plugins", item=item),
        item=item,
    )
