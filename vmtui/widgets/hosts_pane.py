"""The hosts pane: one line per host with its state, versions, virtualization features and load."""

from __future__ import annotations

from collections.abc import Iterable
from time import localtime, strftime

from rich.text import Text
from textual.widgets import Static

from vmtui.fleet import ACTIVE_STATES, HostView
from vmtui.widgets.domain_table import human_bytes


def _clock(wall: float) -> str:
    return strftime("%H:%M:%S", localtime(wall))


def host_line(view: HostView, now: float) -> Text:
    """One host as rich Text; `now` (time.time()) is passed in so screens can be frozen in tests."""
    line = Text(no_wrap=True, overflow="ellipsis")
    if view.status == "disconnected":
        line.append("✖ ", "bold red")
        line.append(view.name, "bold")
        since = _clock(view.down_since) if view.down_since else "?"
        line.append(f"  disconnected since {since}", "red")
        if view.reason:
            line.append(f" ({view.reason})", "dim")
        if view.retry_at is not None:
            wait = max(0, round(view.retry_at - now))
            line.append(f", retrying in {wait} s" if wait else ", retrying now")
        if view.last_sample_wall is not None:
            line.append(f"  last sample {_clock(view.last_sample_wall)}", "dim")
        return line
    if view.status == "connecting" or view.info is None:
        line.append("… ", "yellow")
        line.append(view.name, "bold")
        line.append("  connecting", "yellow")
        return line
    info = view.info
    line.append("● ", "bold green")
    line.append(view.name, "bold")
    line.append(f"  {view.status}", "green")
    if view.read_only or info.read_only:
        line.append(" RO", "bold yellow")
    line.append(f"  {info.hypervisor} {info.hypervisor_version} · libvirt {info.libvirt_version}")
    if info.kernel:
        line.append(f" · {info.kernel}", "dim")
    line.append("  KVM ")
    line.append("yes" if info.kvm_usable else "no", "green" if info.kvm_usable else "bold red")
    line.append("  EPT/NPT ")
    tdp = {True: ("on", "green"), False: ("off", "bold red"), None: ("?", "dim")}[info.tdp]
    line.append(*tdp)
    metrics = view.tick.host if view.tick else None
    cpu = "-" if metrics is None or metrics.cpu_pct is None else f"{metrics.cpu_pct:.1f}%"
    line.append(f"  CPU {cpu} of {info.cpus}")
    if metrics is not None and metrics.memory_total_kib and metrics.memory_used_kib is not None:
        used, total = metrics.memory_used_kib, metrics.memory_total_kib
        line.append(f"  MEM {human_bytes(used * 1024)}/{human_bytes(total * 1024)} ({used / total * 100:.0f}%)")
    else:
        line.append(f"  MEM -/{human_bytes(info.memory_kib * 1024)}")
    ratio = view.overcommit()
    if ratio is not None:
        line.append(f"  overcommit {ratio:.2f}x", "bold yellow" if ratio > 1 else "")
    running = sum(1 for d in view.domains.values() if d.state in ACTIVE_STATES)
    line.append(f"  {len(view.domains)} domains ({running} active)", "dim")
    return line


class HostsPane(Static):
    """Every host, one line each (a handful of hosts: a Static re-rendered per tick is cheap)."""

    DEFAULT_CSS = """
    HostsPane { height: auto; max-height: 8; border: round $primary; padding: 0 1; }
    """

    _last: Text | None = None

    def show(self, views: Iterable[HostView], now: float) -> None:
        text = Text("\n").join(host_line(v, now) for v in views)
        if self._last is not None and text.plain == self._last.plain and text.spans == self._last.spans:
            return
        # A layout pass costs more than the whole table: do one only when the number of lines changes.
        lines_changed = self._last is None or text.plain.count("\n") != self._last.plain.count("\n")
        self._last = text
        self.update(text, layout=lines_changed)
