"""Reading config.toml: the text kept for the line numbers of errors found later (the TUI's own checks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vmtui.config import ConfigError
from vmtui.settings.lines import key_line, top_level_line


@dataclass(frozen=True, slots=True)
class ConfigText:
    """The config file's path and text: every error names the file and the line."""

    path: Path
    text: str

    def where(self, line: int) -> str:
        return f"{self.path}:{line}" if line else str(self.path)

    def line(self, table: str, key: str | None = None, *, item: int = 0) -> int:
        """The line of `key` in `[table]` (or in the `item`th `[[table]]`), 0 when not found."""
        return key_line(self.text, (table,), key, item=item)

    def error(self, message: str, table: str, key: str | None = None, *, item: int = 0) -> ConfigError:
        """A one-line error at `key` of `[table]` (or of the `item`th `[[table]]`)."""
        return self.at(self.line(table, key, item=item), message)

    def at(self, line: int, message: str) -> ConfigError:
        return ConfigError(f"{self.where(line)}: {message}")

    def top_error(self, message: str, key: str) -> ConfigError:
        return ConfigError(f"{self.where(top_level_line(self.text, key))}: {message}")


def read_config_text(path: Path) -> ConfigText | None:
    """The file's text, None when there is none; unreadable or not TOML text: a ConfigError naming it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError as exc:
        raise ConfigError(f"{path} is a directory, not a config file") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return ConfigText(path, raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (a TOML file is expected)") from exc
