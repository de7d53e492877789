"""Where a key is in a TOML file: tomllib gives positions for syntax errors only, so a semantic error
(an unknown key, a bad value) finds its line with this small scan of the text."""

from __future__ import annotations

import re


def _header(line: str) -> tuple[str, bool] | None:
    """A table header's name without spaces (`[ hosts."a" ]` reads `hosts."a"`), and whether it is `[[...]]`."""
    stripped = line.strip()
    match = re.match(r"^(\[\[?)\s*([^\]#]*?)\s*\]\]?\s*(#.*)?$", stripped)
    if match is None:
        return None
    return match.group(2).replace(" ", ""), match.group(1) == "[["


def key_line(text: str, headers: tuple[str, ...], key: str | None = None, *, item: int = 0) -> int:
    """The line (1-based) of `key` in the table headed by one of `headers` (spaces ignored), or of the
    header itself when `key` is None or not found there; 0 when the table is not in the file.

    `item`: for an array of tables (`[[plugins]]`), which one (0 is the first).
    """
    wanted = {h.replace(" ", "") for h in headers}
    start = 0
    seen = -1
    for number, line in enumerate(text.splitlines(), 1):
        header = _header(line)
        if header is not None:
            if start:
                break
            if header[0] in wanted:
                seen += 1
                if seen == item:
                    start = number
                    if key is None:
                        return number
            continue
        if start and key is not None and re.match(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
            return number
    return start


def top_level_line(text: str, key: str) -> int:
    """The line of a top-level key or table (`name = ...`, `[name]`, `[[name]]`, `[name.sub]`), 0 if none."""
    in_table = False
    for number, line in enumerate(text.splitlines(), 1):
        header = _header(line)
        if header is not None:
            in_table = True
            name = header[0]
        elif not in_table and "=" in line:
            name = line.split("=", 1)[0].strip()  # a key before the first table is top-level
        else:
            continue
        if name.strip("\"'") == key or name.startswith(f"{key}."):
            return number
    return 0
