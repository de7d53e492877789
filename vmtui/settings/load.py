"""Loading config.toml: every section parsed by its own module, the whole file refused at its first mistake."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vmtui.config import paths
from vmtui.settings.aliases import Alias, parse_aliases
from vmtui.settings.file import ConfigText, read_config_text
from vmtui.settings.keys import KeyChoice, parse_keys
from vmtui.settings.plugins import Plugin, parse_plugins
from vmtui.settings.thresholds import parse_thresholds_section

if TYPE_CHECKING:
    from vmtui.thresholds import Thresholds

SECTIONS: dict[str, Callable[[ConfigText, object], object]] = {
    "aliases": parse_aliases,
    "keys": parse_keys,
    "plugins": parse_plugins,
    "thresholds": parse_thresholds_section,
}
"""Each top-level table of config.toml and the module that reads it; any other key is refused."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What config.toml says (all empty without one)."""

    doc: ConfigText | None = None
    """The file read, for errors found later with its lines (None: there is no config file)."""
    aliases: tuple[Alias, ...] = ()
    keys: tuple[KeyChoice, ...] = ()
    plugins: tuple[Plugin, ...] = ()
    levels: Thresholds | None = None
    """`[thresholds]` as written (None: the defaults); read it as `thresholds`."""

    @property
    def thresholds(self) -> Thresholds:
        """The warn and critical levels every face colours by (the TUI, `top`, `export --rules`). The
        defaults are imported only when asked: `vmtui list` reads config.toml, and needs no levels."""
        from vmtui.thresholds import DEFAULT

        return self.levels if self.levels is not None else DEFAULT


def config_file() -> Path:
    return paths().config_file


def load_settings(path: Path | None = None) -> Settings:
    """The config file read and checked; a mistake is a ConfigError `FILE:LINE: what` (exit 2)."""
    doc = read_config_text(path or config_file())
    if doc is None:
        return Settings()
    import tomllib

    try:
        data = tomllib.loads(doc.text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "(at line 3, column 7)": FILE:LINE first, as every other mistake.
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(found.group(1)) if found else 0
        raise doc.at(line, f"not valid TOML: {exc}") from exc
    parsed: dict[str, object] = {}
    for key, value in data.items():
        parse = SECTIONS.get(key)
        if parse is None:
            known = ", ".join(f"[{name}]" for name in SECTIONS)
            raise doc.top_error(f"unknown key {key!r} (known: {known})", key)
        parsed[key] = parse(doc, value)
    if "thresholds" in parsed:
        parsed["levels"] = parsed.pop("thresholds")
    return Settings(doc, **parsed)  # type: ignore[arg-type]
