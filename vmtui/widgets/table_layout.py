"""Which columns of the domains table fit the terminal, and how wide each is.

At 80 columns a table of every figure does not fit. As k9s and htop do, vmtui picks columns by
width: the name and the state always, then the figures in order of how often an operator needs them.
`w` shows them all (the table then scrolls sideways); the domain screen always has everything.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from operator import attrgetter
from typing import NamedTuple

from rich.cells import cell_len, set_cell_size

from vmtui.tui.fleet import DomainRow


class Column(NamedTuple):
    key: str
    """The DomainRow attribute shown and sorted on."""
    title: str
    width: int
    right: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("host", "HOST", 10),
    Column("name", "NAME", 24),
    Column("state", "STATE", 14),
    Column("accel", "ACCEL", 6),
    Column("vcpus", "VCPU", 5, True),
    Column("cpu", "CPU%", 6, True),
    Column("steal", "STEAL%", 7, True),
    Column("overhead", "OVHD%", 6, True),
    Column("mem_cur_kib", "MEM cur/max", 15, True),
    Column("disk_bps", "DISK/s", 9, True),
    Column("net_bps", "NET/s", 9, True),
    Column("exits", "EXITS/s", 8, True),
)
"""Every column, in display order, with its natural width: one cell wider than its title, for the sort arrow."""
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
TEXT_KEYS = ("host", "name", "state", "accel")
"""Sorted A to Z first; every other column largest first."""
LIVE_KEYS = ("cpu", "steal", "overhead", "mem_cur_kib", "disk_bps", "net_bps", "exits")
"""The columns whose figures come from the host's sample, so age while a row is not sampled. Their
leaders are polled every tick (`leaders`). The text columns and VCPU are facts (XML, events): their
order is right however old a row's figures are, so they need no leaders; the first page of such a
sort is sampled from the next tick on, and marked "old" until then."""

PRIORITY = ("name", "state", "cpu", "mem_cur_kib", "host", "overhead", "exits", "disk_bps", "net_bps", "steal")
"""Kept first when the width runs out; columns not listed (ACCEL, VCPU) go first."""
NAME_MIN, NAME_MAX = 16, 40
HOST_MIN, HOST_MAX = 5, 24
"""HOST_MIN: "HOST" and its sort arrow."""


def choose(width: int, host_width: int, *, wide: bool = False) -> tuple[Column, ...]:
    """The columns to show in `width` cells (all of them when `wide`), in display order.

    The HOST column is as wide as the longest host label (5-24 cells); NAME takes what is left, up
    to 40 cells, but never less than 16.
    """
    host_w = max(HOST_MIN, min(HOST_MAX, host_width))
    sized = {c.key: c._replace(width=host_w) if c.key == "host" else c for c in COLUMNS}
    if wide:
        return tuple(sized[c.key] for c in COLUMNS)
    order = [*PRIORITY, *(c.key for c in COLUMNS if c.key not in PRIORITY)]
    keep: list[str] = []
    used = 0
    for key in order:
        need = (NAME_MIN if key == "name" else sized[key].width) + (1 if keep else 0)
        if keep and used + need > width:
            continue
        keep.append(key)
        used += need
    spare = max(0, width - used)
    name_w = min(NAME_MAX, NAME_MIN + spare)
    sized["name"] = sized["name"]._replace(width=name_w)
    return tuple(sized[c.key] for c in COLUMNS if c.key in keep)


def fit(text: str, col: Column) -> str:
    """`text` padded or cut (with an ellipsis) to the column's width, in terminal cells."""
    if cell_len(text) > col.width:
        return set_cell_size(text, col.width - 1) + "…"
    pad = " " * (col.width - cell_len(text))
    return pad + text if col.right else text + pad


def cut_middle(text: str, width: int) -> str:
    """`text` in at most `width` terminal cells; a longer one loses its middle ("web-prod-…-db-02"):
    names of one fleet share their start and differ at the end (web-01, web-02), so the end must stay
    to tell the rows apart."""
    if cell_len(text) <= width:
        return text
    head_w = (width - 1) // 2
    tail_w = width - 1 - head_w
    tail = ""
    for char in reversed(text):
        if cell_len(char + tail) > tail_w:
            break
        tail = char + tail
    return set_cell_size(text, head_w) + "…" + tail


def fit_middle(text: str, col: Column) -> str:
    """As `fit`, but a long text loses its middle (`cut_middle`)."""
    return fit(cut_middle(text, col.width), col)


def header_cell(col: Column, arrow: str) -> str:
    """A column title with its sort arrow in a cell of its own ("CPU%▼", never "ACCE▲"): every column is
    wider than its title (COLUMNS, HOST_MIN, NAME_MIN)."""
    return fit(col.title + arrow, col)


def as_shown(key: str, value: object) -> object:
    """`value` rounded as the table shows it: rows that read the same sort as tied (then by host, name,
    UUID), so 0.03 % and 0.04 %, both "0.0", stop swapping places from one sample to the next."""
    if not isinstance(value, float | int) or key in ("vcpus",):
        return value
    if key in ("cpu", "steal", "overhead"):
        return round(value, 1)  # present.pct: one decimal
    if key == "mem_cur_kib":
        return _shown_size(value * 1024)
    if key in ("disk_bps", "net_bps"):
        return _shown_size(value)
    return _shown_count(value)


def _shown_size(n_bytes: float) -> float:
    """As present.size rounds: three significant digits of binary units."""
    value, scale = float(n_bytes), 1.0
    while abs(value) >= 1024 and scale < 1024**5:
        value, scale = value / 1024, scale * 1024
    return round(value, 1 if scale > 1 and abs(value) < 10 else 0) * scale


def _shown_count(value: float) -> float:
    """As present.count rounds: 0.5, 42, 123k, 4.2M."""
    magnitude = abs(value)
    if magnitude < 10:
        return round(value, 1)
    if magnitude < 100_000:
        return round(value)
    if magnitude < 10_000_000:
        return round(value / 1000) * 1000
    return round(value / 1_000_000, 1) * 1_000_000


def leaders(rows: Iterable[DomainRow], n: int) -> frozenset[str]:
    """UUIDs of the first `n` rows of a sort by each of LIVE_KEYS, largest first: the first page `s`
    shows, so that it is sampled every tick before the user asks for it (DomainTable's focus).

    The same order as DomainTable's sort: the value as shown, largest first, ties by (host, name, uuid);
    rows without a value come last, by host and name. About 1 ms for 1000 rows: computed when the data,
    the filter or the page height change, not per scroll.
    """
    shown = list(rows)
    out: set[str] = set()
    for key in LIVE_KEYS:
        get = attrgetter(key)
        present = [(-as_shown(key, v), r.host, r.name, r.uuid) for r in shown if (v := get(r)) is not None]  # type: ignore[operator]
        # Tuples compared in C: no key function per row (7 keys x 1000 rows on every data change).
        out.update(t[3] for t in heapq.nsmallest(n, present))
        if len(present) < n:
            missing = [(r.host, r.name, r.uuid) for r in shown if get(r) is None]
            out.update(t[2] for t in heapq.nsmallest(n - len(present), missing))
    return frozenset(out)
