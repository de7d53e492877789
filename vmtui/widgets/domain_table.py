"""The fleet's domains as a Line-API table: cheap enough to redraw 1000 changing rows every second.

Textual's DataTable drops its render caches on every update, which costs about 13 % of a core at
1000 rows (../shared/LAB.md, "Costs"). This widget keeps one pre-formatted line per domain, re-formats
only rows whose data changed, and `render_line` turns the visible lines into single-segment strips.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from vmtui.filters import DomainFilter, parse_filter
from vmtui.present import (
    STATE_STYLE,
    TEMPLATE_STATE,
    clock,
    count,
    host_label,
    one_line,
    pct,
    printable,
    size,
    size_kib,
)
from vmtui.thresholds import DEFAULT, LEVEL_STYLE, Thresholds, worst
from vmtui.tui.fleet import DomainRow, HostRows, row_alerts
from vmtui.widgets.refusals import Refusals, explained
from vmtui.widgets.table_layout import (
    COLUMN_KEYS,
    COLUMNS,
    TEXT_KEYS,
    Column,
    as_shown,
    choose,
    fit,
    fit_middle,
    header_cell,
    leaders,
)


def host_cell(row: DomainRow) -> str:
    """The HOST cell: the host, or while it migrates both ends ("lab1→lab2")."""
    if row.target is None:
        return printable(host_label(row.host))
    return printable(f"{host_label(row.host)}→{host_label(row.target)}")


def format_row(row: DomainRow, columns: tuple[Column, ...] = COLUMNS) -> str:
    """The row's line: the chosen columns padded (by terminal cells, not characters) and joined by spaces."""
    state = row.state if row.stale_since is None else "stale " + clock(row.stale_since)
    mem = "-"
    if row.mem_max_kib:
        mem = f"{size_kib(row.mem_cur_kib or 0)}/{size_kib(row.mem_max_kib)}"
    cells = {
        "host": host_cell(row),
        "name": printable(row.name),
        "state": state,
        "accel": row.accel,
        "vcpus": str(row.vcpus),
        "cpu": pct(row.cpu),
        "steal": pct(row.steal),
        "overhead": pct(row.overhead),
        "mem_cur_kib": mem,
        "disk_bps": size(row.disk_bps),
        "net_bps": size(row.net_bps),
        "exits": count(row.exits),
    }
    return " ".join(
        fit_middle(cells[col.key], col) if col.key == "name" else fit(cells[col.key], col) for col in columns
    )


NO_AGED: Mapping[str, float] = MappingProxyType({})
NO_COLOURS: Mapping[str, str] = MappingProxyType({})

DIM = Style(dim=True)
NO_STYLE = Style()

LEVEL_COLUMNS = frozenset(("cpu", "steal", "overhead", "exits"))
"""The measures (vmtui.thresholds) that are columns here, under the same keys."""

FIXED_KEYS = ("host", "name")
"""The leading columns that never scroll sideways: which guest a row is."""

RowKey = tuple[str, str]
"""(host, UUID): a row per copy, since another tool can run one UUID on two hosts (Fleet.split_brain)."""


class DomainTable(Refusals, ScrollView, can_focus=True):
    """Domains of every host, keyed by (host, UUID), sortable by any column, filterable."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor(-1000000)", "First", show=False),
        Binding("end", "cursor(1000000)", "Last", show=False),
        Binding("enter", "select", "Open"),
        Binding("s", "sort_next", "Sort"),
        Binding("S", "sort_reverse", "Reverse", show=False),
        # One key per figure an operator sorts by, as htop's P/M and k9s's shift+c/shift+m (those letters
        # open screens here): again flips the order.
        *explained(
            Binding("1", "sort_column('cpu')", "Sort CPU", show=False, tooltip="Sort by CPU %"),
            Binding("2", "sort_column('mem_cur_kib')", "Sort MEM", show=False, tooltip="Sort by memory"),
            Binding("3", "sort_column('disk_bps')", "Sort DISK", show=False, tooltip="Sort by disk IO"),
            Binding("4", "sort_column('net_bps')", "Sort NET", show=False, tooltip="Sort by network IO"),
        ),
        *explained(Binding("w", "toggle_wide", "Cols", tooltip="Columns: all / those that fit")),
        # Marks: a lifecycle key then acts on every marked domain (one question lists them).
        *explained(
            Binding("space", "mark", "Mark", show=False, tooltip="Mark or unmark the row"),
            Binding("asterisk", "mark_shown", "Mark all", show=False, tooltip="Mark every row the filter shows"),
        ),
        # Not explained: with no marks, Esc goes on to the screen's own (it clears the filter).
        Binding("escape", "clear_marks", "Clear marks", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "domain-table--header",
        "domain-table--sorted",
        "domain-table--cursor",
        "domain-table--stale",
        "domain-table--marked",
    }

    DEFAULT_CSS = """
    DomainTable { height: 1fr; }
    DomainTable > .domain-table--header { text-style: bold; background: $panel; }
    DomainTable > .domain-table--sorted { text-style: bold underline; background: $panel; }
    DomainTable > .domain-table--cursor { background: $accent 40%; }
    DomainTable:focus > .domain-table--cursor { background: $accent; color: $text; }
    DomainTable > .domain-table--stale { color: $text-muted; text-style: italic; }
    DomainTable > .domain-table--marked { background: $warning 35%; text-style: bold; }
    """

    class Selected(Message):
        """Enter (or a double click) on a row."""

        def __init__(self, uuid: str, host: str | None = None) -> None:
            super().__init__()
            self.uuid = uuid
            self.host = host

    class FocusChanged(Message):
        """The rows the poller should sample every tick changed (scroll, resize, sort, filter, data):
        those on screen, the current sort's first page and the leaders of every live column.

        `uuids` is immutable: the app hands the same object to every poller thread as is.
        """

        def __init__(self, uuids: frozenset[str]) -> None:
            super().__init__()
            self.uuids = uuids

    class MarksChanged(Message):
        """Rows were marked or unmarked (or a marked domain went away): the footer's count and the keys change."""

        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    class Highlighted(Message):
        """The cursor moved to another domain (screens refresh which action keys apply)."""

        def __init__(self, uuid: str | None) -> None:
            super().__init__()
            self.uuid = uuid

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        name: str | None = None,
        id: str | None = None,  # noqa: A002
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.clock = clock
        self._host_rows: dict[str, Iterable[DomainRow]] = {}
        """Per host, the rows last given (identity only: an unchanged host costs no loop)."""
        self._aged: dict[str, Mapping[str, float]] = {}
        """Per host, its rows not sampled in the host's last round, with their sample's time.time()."""
        self.focus_uuids: frozenset[str] | None = None
        """The rows on screen and every sort's leaders, as last posted in FocusChanged."""
        self._leaders: frozenset[str] | None = None
        """`leaders` of the rows shown, for a page of `_leaders_body` rows; None when the data changed."""
        self._leaders_body = 0
        self._rows: dict[RowKey, DomainRow] = {}
        self._lines: dict[RowKey, str] = {}
        """Formatted line per row drawn, kept until its DomainRow changes: formatted when first drawn, so a
        host of 10 000 rows formats the screenful shown (its first table, and per tick), not every row."""
        self._order: list[RowKey] = []
        """Rows shown, filtered and sorted."""
        self._filter: DomainFilter | None = None
        self._cursor: RowKey | None = None
        """The row highlighted, the one the keys act on: always a row shown, or None (nothing selected)."""
        self._wanted: RowKey | None = None
        """The domain the user chose: followed through sorts, samples, filters and a migration (its UUID on
        the new host); while a filter hides it or it is gone, `_cursor` is another shown row or None."""
        self._wanted_name = ""
        self.sort_key = "name"
        self.sort_reverse = False
        self.wide = False
        """`w`: every column, scrolling sideways, instead of those that fit."""
        self.columns: tuple[Column, ...] = COLUMNS
        self._host_labels: dict[str, int] = {}
        """Each host's label width, for the HOST column."""
        self._moving: dict[RowKey, int] = {}
        """Rows migrating, with the width of their "lab1→lab2" HOST cell: the column widens to fit it."""
        self._header = ""
        self._fixed_width = 0
        """Cells of the leading FIXED_KEYS columns (with their separators): drawn at any scroll."""
        self._marks: set[str] = set()
        """UUIDs of the marked domains: kept apart from the rows, so sorting, filtering and polling keep them."""
        self._results: dict[str, tuple[str, str | None]] = {}
        """UUID -> (result, state after) of the last action on marked rows, drawn in the STATE cell."""
        self.thresholds: Thresholds = DEFAULT
        """The levels a figure's cell is coloured by (the fleet's, set by the screen)."""
        self.host_colours: Mapping[str, str] = NO_COLOURS
        """Saved hosts' colours (hosts.toml `colour`): the HOST cell of their rows."""
        self._update_header()

    # ----- data ---------------------------------------------------------------------------------

    def update_host(self, host: str, rows: Iterable[DomainRow], *, aged: Mapping[str, float] = NO_AGED) -> None:
        """Replace `host`'s rows: changed rows are kept (formatted when drawn), vanished ones removed; one refresh.

        `aged`: rows whose figures come from an earlier round than the host's last (off screen when it
        was polled): drawn dimmed, with their age, until a round samples them again.
        """
        was = self._aged.get(host, NO_AGED)
        if aged is not was:
            self._aged[host] = aged
            top = int(self.scroll_y)
            # Repainted only if a row on screen changed marking (rows on screen are sampled every tick).
            if any((u in aged) != (u in was) for h, u in self._order[top : top + self.size.height - 1] if h == host):
                self.refresh()
        before = self._host_rows.get(host)
        if rows is before:
            return  # the very list of last time (Fleet.rows hands it out again when nothing changed)
        self._host_rows[host] = rows
        if isinstance(rows, HostRows) and before is not None and rows.base is before:
            # Derived from the list this table holds: the same domains, only `changed` differ. A focused
            # round of a large host costs the rows it sampled, not a walk over all of them.
            changed = self._take(host, rows.changed)
            gone: list[RowKey] = []
        else:
            changed = self._take(host, rows)
            seen = {(host, row.uuid) for row in rows}
            gone = [k for k in self._rows if k[0] == host and k not in seen]
        for key in gone:
            moving_to = self._rows[key].target
            if key == self._wanted and moving_to is not None:
                # Its migration ended on this host's side first: it is awaited on the target.
                self._wanted = (moving_to, key[1])
            del self._rows[key]
            self._lines.pop(key, None)
            self._moving.pop(key, None)
        if changed or gone:
            self._leaders = None
        if host not in self._host_labels:
            self._host_labels[host] = cell_len(host_label(host))
        # A new host or a migration's "lab1→lab2" may need a wider HOST column: the layout looks at no row.
        if self._relayout():
            return
        if changed or gone:
            # Nothing moved: no re-sort and no repaint (idle and shut-off fleets cost nothing).
            self._reorder()

    def _take(self, host: str, rows: Iterable[DomainRow]) -> int:
        """Keep and format the rows that differ from those held; how many did."""
        changed = 0
        for row in rows:
            key = (host, row.uuid)
            old = self._rows.get(key)
            if old is not row and old != row:
                self._rows[key] = row
                self._lines.pop(key, None)  # formatted again when drawn
                changed += 1
                if row.target is not None:
                    self._moving[key] = cell_len(host_cell(row))
                else:
                    self._moving.pop(key, None)
        return changed

    def row(self, uuid: str, host: str | None = None) -> DomainRow | None:
        """The row of `uuid` (on `host`; else its first row: a UUID has two when it runs on two hosts)."""
        if host is not None:
            return self._rows.get((host, uuid))
        return next((r for (_h, u), r in self._rows.items() if u == uuid), None)

    def rows_of(self, uuid: str) -> list[DomainRow]:
        return [r for (_h, u), r in self._rows.items() if u == uuid]

    @property
    def nothing_selected(self) -> str:
        """Why no row is selected (for the keys that then refuse): the chosen domain is gone or hidden."""
        wanted = self._wanted
        if wanted is None:
            return "no domain selected"
        if wanted in self._rows:
            return f"nothing selected (the filter hides {self._wanted_name})"
        return f"nothing selected ({self._wanted_name} is gone)"

    @property
    def cursor_uuid(self) -> str | None:
        return self._cursor[1] if self._cursor else None

    @property
    def cursor_host(self) -> str | None:
        """The host of the row under the cursor: which copy of a UUID running on two hosts is meant."""
        return self._cursor[0] if self._cursor else None

    def set_filter(self, text: str) -> tuple[str, ...]:
        """Show only matching rows; returns what in `text` was not understood (said under the filter line)."""
        self._filter = parse_filter(text) if text.strip() else None
        self._leaders = None
        self._reorder(refiltered=True)
        return self._filter.problems if self._filter else ()

    def sort_by(self, key: str, *, reverse: bool | None = None) -> None:
        if key not in COLUMN_KEYS:
            raise ValueError(f"unknown column {key!r}")
        if reverse is None:
            # Clicking the sorted column again flips it, like every file manager.
            reverse = not self.sort_reverse if key == self.sort_key else key not in TEXT_KEYS
        self.sort_key, self.sort_reverse = key, reverse
        self._update_header()
        self._reorder()

    def _reorder(self, *, refiltered: bool = False) -> None:
        was_at = self._cursor_index()
        key = self.sort_key
        rows = self._rows
        flt = self._filter
        keys = [k for k, r in rows.items() if flt is None or _matches(flt, r)]
        present = [k for k in keys if getattr(rows[k], key) is not None]
        missing = [k for k in keys if getattr(rows[k], key) is None]
        # Ties (as shown: `as_shown`) keep one order in either direction: by host, name, UUID. Sorted on
        # that first; the value's sort is stable, reversed or not.
        present.sort(key=lambda k: (k[0], rows[k].name, k[1]))
        present.sort(key=lambda k: as_shown(key, getattr(rows[k], key)), reverse=self.sort_reverse)  # type: ignore[arg-type,return-value]
        missing.sort(key=lambda k: (k[0], rows[k].name, k[1]))
        # Rows without a value (shut-off guests have no CPU %) always go last, whatever the direction.
        self._order = present + missing
        self._follow_selection(refiltered=refiltered)
        self.virtual_size = Size(cell_len(self._header), len(self._order) + 1)
        self._keep_in_view(was_at)
        self.refresh()
        self._update_focus()

    def _follow_selection(self, *, refiltered: bool) -> None:
        """Keep the cursor on the chosen domain (by host and UUID); never land on a neighbour unasked.

        A row that went away leaves nothing selected (said once), unless its UUID is on another host
        now (a migration ended): the cursor follows it there. A filter that hides the chosen row
        highlights the first row it shows, and the chosen one again when it shows that.
        """
        order = self._order
        if self._wanted is None:  # the first rows to arrive: start on the first
            self._choose(order[0] if order else None)
            return
        wanted = self._wanted
        if wanted not in self._rows:
            moved = next((k for k in self._rows if k[1] == wanted[1]), None)
            if moved is not None:
                self._wanted = wanted = moved
            elif self._cursor == wanted:
                self.app.notify(
                    one_line(f"{self._wanted_name} is gone; nothing selected"), severity="warning", markup=False
                )
        shown = set(order) if refiltered or self._cursor != wanted else None
        if shown is None:
            new = wanted if wanted in self._rows and self._filter_shows(wanted) else None
        elif wanted in shown:
            new = wanted
        elif refiltered:
            new = self._cursor if self._cursor in shown else (order[0] if order else None)
        else:
            new = self._cursor if self._cursor in shown and self._cursor != wanted else None
        self._set_cursor(new)

    def _filter_shows(self, key: RowKey) -> bool:
        return self._filter is None or _matches(self._filter, self._rows[key])

    def _keep_in_view(self, was_at: int) -> None:
        """A selected row that was on screen stays there when a sort or a sample moves it."""
        if self._cursor is None or was_at < 0:
            return
        top, body = int(self.scroll_y), max(1, self.size.height - 1)
        if not top <= was_at < top + body:
            return
        index = self._cursor_index()
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + body:
            self.scroll_to(y=index - body + 1, animate=False)

    def _update_focus(self) -> None:
        """Tell the app (and so the pollers) which rows are on screen, and every sort's leaders."""
        body = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if self._leaders is None or self._leaders_body != body:
            # Not per scroll: only the data, the filter and the page height move the leaders.
            self._leaders = leaders((self._rows[k] for k in self._order), body)
            self._leaders_body = body
        # The rows shown, the first page of the current sort (where `home` goes, in either direction),
        # and the first page `s` or a header click would show for each live column: whichever sort the
        # user picks, its top is fresh the moment it appears. A row scrolled into view is sampled on the
        # next tick; the rest within the slow round.
        shown = self._order[top : top + body] + self._order[:body]
        uuids = frozenset(u for _h, u in shown) | self._leaders
        if uuids != self.focus_uuids:
            self.focus_uuids = uuids
            self.post_message(self.FocusChanged(uuids))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self._update_focus()

    def _update_header(self) -> None:
        # HOST and NAME say which row is which: they stay while the other columns scroll sideways.
        self._fixed_width = 0
        for col in self.columns:
            if col.key not in FIXED_KEYS:
                break
            self._fixed_width += col.width + 1
        arrow = "▼" if self.sort_reverse else "▲"
        self._header = " ".join(header_cell(c, arrow if c.key == self.sort_key else "") for c in self.columns)
        self.refresh()

    def _relayout(self) -> bool:
        """Choose the columns for the current width and hosts; re-format every line if they changed."""
        host_width = max([*self._host_labels.values(), *self._moving.values()], default=4)
        # The region rows are drawn in (the vertical scrollbar takes its share of the width).
        width = self.scrollable_content_region.width or self.size.width or 200
        columns = choose(width, host_width, wide=self.wide)
        if columns == self.columns:
            return False
        self.columns = columns
        self._lines.clear()  # each row is formatted for the new columns when drawn
        self._update_header()
        self._reorder()
        return True

    def on_resize(self, _event: events.Resize) -> None:
        self._relayout()
        self._update_focus()

    def action_toggle_wide(self) -> None:
        self.wide = not self.wide
        self._relayout()

    def _layout_refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        # Offered only when it changes something: some columns are hidden, or all are shown by `w`.
        if action == "toggle_wide" and not self.wide and len(self.columns) == len(COLUMNS):
            return "every column fits already"
        if action == "sort_column" and parameters and parameters[0] not in {c.key for c in self.columns}:
            title = next(c.title for c in COLUMNS if c.key == parameters[0])
            return f"{title} is not shown at this width (w shows every column)"
        return None

    # ----- rendering ----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        if y == 0:
            strip = Strip([Segment(self._header, base + self.get_component_rich_style("domain-table--header"))])
            return self._scrolled(strip, scroll_x, width, base)
        index = scroll_y + y - 1
        if index >= len(self._order):
            return Strip.blank(width, base)
        key = self._order[index]
        row = self._rows[key]
        style: Style = base
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = format_row(row, self.columns)
        sampled = self._aged.get(row.host, NO_AGED).get(row.uuid)
        if row.stale_since is not None or sampled is not None:
            style += self.get_component_rich_style("domain-table--stale")
        if sampled is not None and row.stale_since is None:
            # Off screen when its host was last polled: its figures are older than the rest. Said so,
            # until the next tick samples it (a visible row is in the focus).
            age = max(1, round(self.clock() - sampled))
            line = format_row(replace(row, state=f"{row.state} {age}s old"), self.columns)
        shown = self._result_word(row)
        if shown is not None:
            line = format_row(replace(row, state=shown), self.columns)
        if row.uuid in self._marks:
            style += self.get_component_rich_style("domain-table--marked")
        if key == self._cursor:
            style += self.get_component_rich_style("domain-table--cursor")
        strip = Strip([Segment(line, style)])
        if row.stale_since is None and sampled is None:
            strip = self._coloured(strip, row)
        return self._scrolled(strip, scroll_x, width, style)

    def _coloured(self, strip: Strip, row: DomainRow) -> Strip:
        """The STATE cell in its state's colour (a shut-off row dimmed whole); each figure at warn or
        critical (thresholds) in its level's colour, the NAME in the row's worst level (figures without
        a column count too); the HOST cell in the saved host's colour."""
        colours = {"host": self.host_colours.get(row.host, "")}
        if row.state in ("shut-off", TEMPLATE_STATE):
            strip = restyled(strip, DIM)
        else:
            alerts = row_alerts(row, self.thresholds)
            colours["state"] = STATE_STYLE.get(row.state, "")
            colours.update((key, LEVEL_STYLE[level]) for key, level in alerts if key in LEVEL_COLUMNS)
            if alerts:
                colours["name"] = LEVEL_STYLE[worst(level for _k, level in alerts)]
        cuts: list[int] = []
        styles: list[str] = []
        left = 0
        for col in self.columns:
            if colours.get(col.key):
                cuts += [left, left + col.width]
                styles += ["", colours[col.key]]
            left += col.width + 1
        if not cuts:
            return strip
        pieces = strip.divide([*cuts, strip.cell_length])
        styles += [""]
        return Strip.join(
            restyled(piece, Style.parse(extra)) if extra else piece for piece, extra in zip(pieces, styles, strict=True)
        )

    def _scrolled(self, strip: Strip, scroll_x: int, width: int, style: Style) -> Strip:
        """The line as shown `scroll_x` cells to the right: the key columns fixed, the others moved."""
        fixed = min(self._fixed_width, width)
        if not scroll_x or not fixed:
            return strip.crop_extend(scroll_x, scroll_x + width, style)
        start = fixed + scroll_x
        return Strip.join([strip.crop_extend(0, fixed, style), strip.crop_extend(start, start + width - fixed, style)])

    # ----- marks --------------------------------------------------------------------------------

    @property
    def marked(self) -> frozenset[str]:
        """The marked domains' UUIDs (shown or hidden by the filter)."""
        return frozenset(self._marks)

    def action_mark(self) -> None:
        """Mark the row (or unmark it) and go to the next, as htop's space does."""
        if self._cursor is None:
            return
        uuid = self._cursor[1]
        if uuid in self._marks:
            self._marks.discard(uuid)
        else:
            self._marks.add(uuid)
        self._marks_changed()
        self.action_cursor(1)

    def action_mark_shown(self) -> None:
        """Mark every row the filter shows (every row without one)."""
        self._marks.update(u for _h, u in self._order)
        self._marks_changed()

    def action_clear_marks(self) -> None:
        self._marks.clear()
        self._results.clear()
        self._marks_changed()

    def forget_gone(self) -> None:
        """Marks and results of domains no host has any more leave the set (called after new rows)."""
        if not self._marks and not self._results:
            return
        present = {u for _h, u in self._rows}
        if self._marks - present:
            self._marks &= present
            self._marks_changed()
        for uuid in self._results.keys() - present:
            del self._results[uuid]

    def set_results(self, results: Mapping[str, tuple[str, str | None]]) -> None:
        """Show each domain's result (done, refused, failed, not-started) in its STATE cell; `(None)`
        state: the cell says the result alone. A done row shows it while its state is still the one after."""
        self._results.update(results)
        self.refresh()

    def clear_results(self, uuids: Iterable[str]) -> None:
        for uuid in uuids:
            self._results.pop(uuid, None)
        self.refresh()

    def result_of(self, uuid: str) -> str | None:
        """What the row's STATE cell says of its last result (None: it shows the state)."""
        row = self.row(uuid)
        return self._result_word(row) if row is not None else None

    def _result_word(self, row: DomainRow) -> str | None:
        found = self._results.get(row.uuid)
        if found is None:
            return None
        result, after = found
        if result in ("done", "requested"):
            # Done: "✓ paused" while it is; once the state moves on (a poll, another action), the state.
            # Requested (a shutdown): "✓ requested" until the guest acts on it.
            word = after if result == "done" else result
            return f"✓ {word}" if after is not None and row.state == after else None
        return f"✗ {result}"

    def _marks_changed(self) -> None:
        self.refresh()
        self.post_message(self.MarksChanged(len(self._marks)))

    def refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action == "clear_marks" and not self._marks and not self._results:
            return "nothing is marked"
        if action == "mark" and self._cursor is None:
            return "no domain selected"
        if action == "mark_shown" and not self._order:
            return "no row is shown"
        return self._layout_refusal(action, parameters)

    # ----- interaction --------------------------------------------------------------------------

    def _cursor_index(self) -> int:
        """The cursor's place in the rows shown, -1 with nothing selected (a move then starts at the top)."""
        try:
            return self._order.index(self._cursor) if self._cursor else -1
        except ValueError:
            return -1

    def move_cursor(self, index: int) -> None:
        if not self._order:
            return
        index = max(0, min(len(self._order) - 1, index))
        self._choose(self._order[index])
        body = max(1, self.size.height - 1)
        if index < self.scroll_y:
            self.scroll_to(y=index, animate=False)
        elif index >= self.scroll_y + body:
            self.scroll_to(y=index - body + 1, animate=False)
        self.refresh()

    def _choose(self, key: RowKey | None) -> None:
        """The user (or the first rows to arrive) chose this row: the selection follows its domain."""
        if key is not None:
            self._wanted, self._wanted_name = key, printable(self._rows[key].name)
        self._set_cursor(key)

    def _set_cursor(self, key: RowKey | None) -> None:
        if key != self._cursor:
            self._cursor = key
            self.post_message(self.Highlighted(key[1] if key else None))

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self._cursor_index() + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self._cursor_index() + direction * max(1, self.size.height - 2))

    def action_select(self) -> None:
        if self._cursor is not None:
            self.post_message(self.Selected(self._cursor[1], self._cursor[0]))

    def action_sort_next(self) -> None:
        shown = [c.key for c in self.columns]
        index = (shown.index(self.sort_key) + 1) % len(shown) if self.sort_key in shown else 0
        self.sort_by(shown[index])

    def action_sort_column(self, key: str) -> None:
        self.sort_by(key)

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_key, reverse=not self.sort_reverse)

    def column_at(self, x: int) -> str | None:
        """The column under virtual x (header clicks)."""
        left = 0
        for col in self.columns:
            if left <= x < left + col.width + 1:
                return col.key
            left += col.width + 1
        return None

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            # The key columns do not scroll: a click on them is where they are drawn.
            key = self.column_at(event.x if event.x < self._fixed_width else event.x + int(self.scroll_x))
            if key is not None:
                self.sort_by(key)
            return
        index = int(self.scroll_y) + event.y - 1
        if 0 <= index < len(self._order):
            self.move_cursor(index)
            if event.chain >= 2:
                self.action_select()


def restyled(strip: Strip, style: Style) -> Strip:
    """`strip` with `style` over its own (a colour replaces the row's, the cursor's background stays)."""
    return Strip([Segment(s.text, (s.style or NO_STYLE) + style) for s in strip], strip.cell_length)


def _matches(flt: DomainFilter, row: DomainRow) -> bool:
    """A migrating domain is on both hosts: `host:` finds it by either."""
    if flt.matches(host=row.host, name=row.name, state=row.state):
        return True
    return row.target is not None and flt.matches(host=row.target, name=row.name, state=row.state)
