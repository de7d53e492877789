"""How numbers and states read, for every face: the CLI, the TUI and the exporter's labels alike.

Pure text in, text out; no Rich or Textual here. Strings from hosts (domain, host and device names,
libvirt's messages) are shown literally everywhere: faces put them in Rich `Text` objects or Textual
`Content`, never in markup, and `printable` keeps control characters off the terminal.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

MISSING = "-"
"""What a figure that does not exist (a shut-off domain's CPU, a counter the host lacks) shows."""

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")

STATE_STYLE = {
    "running": "green",
    "paused": "yellow",
    "shut-off": "dim",
    "crashed": "bold red",
    "migrating": "bold cyan",
    "gone": "bold red",
    "template": "dim",
}
"""Rich style names for domain states (both faces)."""
TEMPLATE_STATE = "template"
"""What a table's STATE cell says of a shut-off template (`vmtui template`) in place of "shut-off"."""


def shown_state(state: str, *, template: bool) -> str:
    """A domain's state as the tables show it: a shut-off template says what it is for (it is always off)."""
    return TEMPLATE_STATE if template and state == "shut-off" else state


def size(n_bytes: float | None) -> str:
    """Binary units, at most 3 significant digits: 512 B, 1.5 KiB, 128 MiB, 12 GiB."""
    if n_bytes is None:
        return MISSING
    value = float(n_bytes)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{value:.0f} B"
            return f"{value:.1f} {unit}" if abs(value) < 10 else f"{value:.0f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def size_kib(kib: float | None) -> str:
    return MISSING if kib is None else size(kib * 1024)


def rate(bytes_per_s: float | None) -> str:
    return MISSING if bytes_per_s is None else size(bytes_per_s) + "/s"


def pct(value: float | None) -> str:
    """A percentage without its sign (tables say % in the header): 0.4, 12.3, 150.0."""
    return MISSING if value is None else f"{value:.1f}"


def pct_sign(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f} %"


def count(value: float | None) -> str:
    """A count or a rate of events (exits/s): 0.5, 42, 12345, 123k, 4.2M."""
    if value is None:
        return MISSING
    magnitude = abs(value)
    if magnitude < 10:
        return f"{value:.1f}"
    if magnitude < 100_000:
        return f"{value:.0f}"
    if magnitude < 10_000_000:
        return f"{value / 1000:.0f}k"
    return f"{value / 1_000_000:.1f}M"


def counted(n: int, one: str, many: str) -> str:
    """A count with its noun in the right number: 1 pass, 2 passes, 0 passes."""
    return f"{n} {one if n == 1 else many}"


def per_s(value: float | None) -> str:
    return MISSING if value is None else count(value) + "/s"


def ms(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def seconds(value: float | None) -> str:
    """A duration: 0.4 s, 12 s, 3 min 5 s, 2 h 10 min."""
    if value is None:
        return MISSING
    if value < 10:
        return f"{value:.1f} s"
    if value < 60:
        return f"{value:.0f} s"
    minutes, secs = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def clock(wall: float) -> str:
    """HH:MM:SS of a time.time() value, in local time."""
    return time.strftime("%H:%M:%S", time.localtime(wall))


def printable(text: str) -> str:
    """`text` with control characters (newline, escape, ...) shown as '?': they never reach the terminal."""
    return text if text.isprintable() else "".join(ch if ch.isprintable() else "?" for ch in text)


def one_line(text: str, limit: int = 160, *, whole_words: bool = False) -> str:
    """A message from a host on one line, cut at `limit` characters (notifications stay short).

    `whole_words` (notifications): cut at a word boundary, so no word reads as another ("requested" as
    "req"); only a word longer than half the room (a long path) is cut inside. Without it the cut is
    where the room ends (a table cell, whose column shows as much as fits).
    """
    flat = " ".join(printable(part) for part in text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if whole_words and flat[limit - 1] != " " and space >= (limit - 1) // 2:
        cut = cut[:space].rstrip()
    return cut + "…"


def host_label(name: str) -> str:
    """A host as tables show it: a saved host by its name; a URI given with -c by what tells it apart.

    `qemu+ssh://root@kvm1/system?keyfile=...` reads "root@kvm1"; a local URI stays whole
    (qemu:///system vs qemu:///session), so that two hosts never look the same.
    """
    if "://" not in name:
        return name
    parts = urlsplit(name)
    if not parts.hostname:
        return f"{parts.scheme}://{parts.path}" if not parts.query else name.split("?", 1)[0]
    who = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{who}{parts.hostname}{port}"


def printable_text(text: str) -> str:
    """Like `printable`, for multi-line text (XML): newlines and tabs stay, other controls become '?'."""
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "?" for ch in text)


def bar_cells(fraction: float | None, width: int) -> int | None:
    """How many of `width` cells a usage bar fills for `fraction` (0..1, clamped); None when unknown.

    Both faces draw the cells in their own style from this one count, so a pool reads the same.
    """
    if fraction is None:
        return None
    return round(max(0.0, min(1.0, fraction)) * width)


def usage_style(fraction: float | None) -> str:
    """Rich style of a usage bar (both faces): red from 90 %, yellow from 75 %, as a filling disk deserves."""
    if fraction is None:
        return "dim"
    return "red" if fraction >= 0.9 else "yellow" if fraction >= 0.75 else "green"


def expiry(when: int, now: float) -> str:
    """A DHCP lease's end: "never", "expired", or how long is left ("in 55 min")."""
    if when <= 0:
        return "never"
    left = when - now
    return "expired" if left <= 0 else f"in {seconds(left)}"
