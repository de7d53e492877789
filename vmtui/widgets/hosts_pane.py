"""The hosts pane: per host, a line with its state and load, and a line with its virtualization features
and versions (or why it is disconnected), wrapped to the pane's width: nothing is cut at 80 columns."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.visual import VisualType
from textual.widgets import Static

from vmtui.present import clock, host_label, one_line, printable, size_kib
from vmtui.richtext import tdp_text
from vmtui.thresholds import LEVEL_STYLE, Level
from vmtui.tui.fleet import Fleet, HostView
from vmtui.tui.messages import HostDrainRequested

"""EPT/NPT as the pane says it: without it the host shadows guest page tables in software."""


def host_line(view: HostView, now: float, age: float | None = None, alerts: tuple[int, int] = (0, 0)) -> Text:
    """One host as rich Text, two lines; `now` (time.time()) is passed in so screens can be frozen in tests.

    `age`: seconds since the host's last sample, when that is long enough to say so.
    `alerts`: (warn, critical), its domains at each level at worst (thresholds).
    """
    line = Text()
    name_style = f"bold {view.colour}" if view.colour else "bold"
    if view.status == "disconnected":
        line.append("✖ ", "bold red")
        line.append(printable(host_label(view.name)), name_style)
        since = clock(view.down_since) if view.down_since else "?"
        line.append(f"  disconnected since {since}", "red")
        if view.retry_at is not None:
            wait = max(0, round(view.retry_at - now))
            line.append(f", retrying in {wait} s" if wait else ", retrying now")
        if view.last_sample_wall is not None:
            line.append(f"  last sample {clock(view.last_sample_wall)}", "dim")
        if view.reason:
            # On a line of its own, wrapped by the pane: the whole reason, under the countdown.
            line.append(f"\n  {one_line(view.reason, 400)}", "dim")
        return line
    if view.status == "connecting" or view.info is None:
        line.append("… ", "yellow")
        line.append(printable(host_label(view.name)), name_style)
        line.append("  connecting", "yellow")
        return line
    info = view.info
    line.append("● ", "bold green")
    line.append(printable(host_label(view.name)), name_style)
    if view.recorded:
        line.append("  replay" if view.status != "ended" else "  replay finished", "green")
    else:
        line.append(f"  {view.status}", "green")
    if view.maintenance:
        line.append("  MAINTENANCE", "bold yellow")
    if age is not None:
        line.append(f"  last sample {age:.0f} s ago", "bold red")
    if (view.read_only or info.read_only) and not view.recorded:
        line.append(" RO", "bold yellow")
    # What an operator looks for first comes first; the features and versions go on the second line.
    metrics = view.tick.host if view.tick else None
    cpu = "-" if metrics is None or metrics.cpu_pct is None else f"{metrics.cpu_pct:.1f}%"
    line.append(f"  CPU {cpu} of {info.cpus}")
    if metrics is not None and metrics.memory_total_kib and metrics.memory_used_kib is not None:
        used, total = metrics.memory_used_kib, metrics.memory_total_kib
        line.append(f"  MEM {size_kib(used)}/{size_kib(total)} ({used / total * 100:.0f}%)")
    else:
        line.append(f"  MEM -/{size_kib(info.memory_kib)}")
    ratio = view.overcommit()
    if ratio is not None:
        line.append(f"  overcommit {ratio:.2f}x", "bold yellow" if ratio > 1 else "")
    running = view.active_count()
    line.append(f"  {len(view.domains)} domains ({running} active)", "dim")
    warn, critical = alerts
    if critical:
        line.append(f"  {critical} critical", LEVEL_STYLE[Level.CRITICAL])
    if warn:
        line.append(f"  {warn} warn", LEVEL_STYLE[Level.WARN])
    line.append("\n  KVM ")
    line.append("yes" if info.kvm_usable else "no", "green" if info.kvm_usable else "bold red")
    line.append("  EPT/NPT ")
    line.append_text(tdp_text(info.tdp))
    line.append(f"  {info.hypervisor} {info.hypervisor_version} · libvirt {info.libvirt_version}")
    if info.kernel:
        line.append(f" · {info.kernel}", "dim")
    return line


class HostsPane(Static, can_focus=True):
    """Every host, two lines or more each (a handful of hosts: a Static re-rendered per tick is cheap)."""

    DEFAULT_CSS = """
    HostsPane { height: auto; max-height: 10; border: round $primary; padding: 0 1;
                text-wrap: nowrap; text-overflow: ellipsis; }
    """

    _last: Text | None = None

    # ----- the host cursor: `Tab` focuses the pane, its keys then act on the host under it (k9s's nodes)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        # The plan is shown and confirmed before anything moves; on a host in maintenance: undrain.
        Binding("D", "drain", "Drain", tooltip="Drain the host / take it out of maintenance"),
    ]

    CLI_OPTIONS: ClassVar[dict[str, str]] = {"host drain": "key D", "host undrain": "key D"}
    """The CLI commands this pane's keys stand for (tests/unit/test_parity.py reads them)."""

    hosts: tuple[str, ...] = ()
    """The hosts in the order shown (set by the screen from the fleet)."""
    _cursor = 0
    _unmarked: VisualType = ""

    @property
    def selected(self) -> str | None:
        """The host under the cursor."""
        return self.hosts[min(self._cursor, len(self.hosts) - 1)] if self.hosts else None

    def select(self, host: str) -> None:
        if host in self.hosts:
            self._cursor = self.hosts.index(host)
            self.update(self._unmarked, layout=False)

    def action_drain(self) -> None:
        host = self.selected
        if host is not None:
            self.post_message(HostDrainRequested(host))

    def action_move(self, delta: int) -> None:
        self._cursor = max(0, min(len(self.hosts) - 1, self._cursor + delta))
        self.update(self._unmarked, layout=False)

    def on_focus(self) -> None:
        self.update(self._unmarked, layout=False)

    def on_blur(self) -> None:
        self.update(self._unmarked, layout=False)

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        """The text, with the selected host's first line highlighted while the pane has the focus."""
        self._unmarked = content
        host = self.selected
        if self.has_focus and host is not None and isinstance(content, Text):
            content = content.copy()
            label = re.escape(printable(host_label(host)))
            start = re.search(rf"(?m)^\S {label}(?=\s|$)", content.plain)
            if start is not None:
                end = content.plain.find("\n", start.start())
                content.stylize("reverse", start.start(), len(content.plain) if end < 0 else end)
        super().update(content, layout=layout)

    def show(self, fleet: Fleet, now: float) -> None:
        # Wrapped here, to the width of now, so that the number of lines says when the pane's height changes.
        width = self.content_region.width or self.app.size.width - 4
        text = Text("\n", no_wrap=True, overflow="ellipsis").join(
            Text("\n").join(
                host_line(v, now, fleet.sample_age(v), fleet.alert_counts(v.name)).wrap(
                    self.app.console, max(20, width)
                )
            )
            for v in fleet.hosts.values()
        )
        if self._last is not None and text.plain == self._last.plain and text.spans == self._last.spans:
            return
        # A layout pass costs more than the whole table: do one only when the number of lines changes.
        lines_changed = self._last is None or text.plain.count("\n") != self._last.plain.count("\n")
        self._last = text
        self.update(text, layout=lines_changed)
