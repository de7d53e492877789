"""Rich `Text` pieces both faces draw alike: the CLI's tables and the TUI's screens import them from here.

One level above `vmtui.present` (plain strings): this module may import rich, `present` and the pure
modules, never Textual, typer, click or a face (import-linter contract "the text helpers are shared by
the faces"). Every string from a host goes through `lit`, so it is never read as markup and never
carries a control character to the terminal.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.color import Color, ColorParseError
from rich.text import Text

from vmtui.config import HostStore, host_key_error
from vmtui.drivers.resources import Lease, NetworkInfo
from vmtui.explain import Severity
from vmtui.models import DeviceClass, HostEntry
from vmtui.present import MISSING, STATE_STYLE, bar_cells, expiry, pct, printable, usage_style

SEVERITY_STYLE = {Severity.HIGH: "bold red", Severity.MEDIUM: "yellow", Severity.LOW: "cyan", Severity.INFO: "dim"}
"""Rich style of a finding's severity (`vmtui explain`, the domain screen's findings)."""

DEVICE_CLASS_STYLE: dict[str, str] = {
    DeviceClass.PARAVIRTUAL: "green",
    DeviceClass.EMULATED: "bold yellow",
    DeviceClass.PASSTHROUGH: "cyan",
    DeviceClass.OTHER: "dim",
}
"""Rich style of a device's class: emulated stands out (every register access is a VM exit)."""

TDP_TEXT = {True: ("on", "green"), False: ("off (shadow paging)", "bold red"), None: ("unknown", "dim")}
"""EPT/NPT (two-dimensional paging) on the host: off means shadow page tables, a large cost."""

USAGE_BAR_WIDTH = 12
"""Cells of a pool's usage bar, in `vmtui pools` and on the storage screen alike."""


def lit(text: str, style: str = "") -> Text:
    """A string from a host, shown as it is (no markup, no control characters)."""
    return Text(printable(text), style=style)


def yes_no(flag: bool | None) -> Text:
    """yes (green), no (dim), or the missing mark (dim) when the host does not say."""
    if flag is None:
        return Text(MISSING, "dim")
    return Text("yes", "green") if flag else Text("no", "dim")


def state_text(state: str) -> Text:
    """A domain state in its colour (`present.STATE_STYLE`); an unknown state unstyled."""
    return Text(state, STATE_STYLE.get(state, ""))


def device_class_text(dev_class: str) -> Text:
    """A device's class (paravirtual, emulated, passthrough, other) in its colour."""
    return Text(str(dev_class), DEVICE_CLASS_STYLE.get(dev_class, ""))


def tdp_text(tdp: bool | None) -> Text:
    """EPT/NPT: on (green), off (shadow paging) in bold red, unknown (dim)."""
    return Text(*TDP_TEXT[tdp])


def usage_bar(fraction: float | None, width: int = USAGE_BAR_WIDTH) -> Text:
    """`████░░░░ 42.0%`, filled by `present.bar_cells` and coloured by `present.usage_style`."""
    cells = bar_cells(fraction, width)
    if cells is None or fraction is None:
        return Text("·" * width + f" {MISSING}", "dim")
    return (
        Text("█" * cells, usage_style(fraction)) + Text("░" * (width - cells), "dim") + Text(f" {pct(fraction * 100)}%")
    )


def network_cells(net: NetworkInfo) -> list[Text]:
    """A network's row from its name to DHCP: name, active, autostart, forward, bridge, addresses, dhcp.

    Autostart means nothing for a transient network, so it shows the missing mark there.
    """
    return [
        lit(net.name, "bold"),
        yes_no(net.active),
        yes_no(net.autostart if net.persistent else None),
        lit(net.forward),
        lit(net.bridge or MISSING),
        lit(", ".join(net.addresses) or MISSING),
        yes_no(net.dhcp),
    ]


def lease_cells(lease: Lease, now: float) -> list[Text | str]:
    """A DHCP lease's row: MAC, IP with its prefix, hostname, the domain with that MAC, when it expires."""
    return [
        lit(lease.mac),
        lit(f"{lease.ip}/{lease.prefix}" if lease.prefix else lease.ip),
        lit(lease.hostname or MISSING),
        lit(lease.domain, "cyan") if lease.domain else Text("(no domain has this MAC)", "dim"),
        expiry(lease.expiry, now),
    ]


def colour_problem(value: str) -> str | None:
    """Why `value` is not a colour Rich can draw (a name like red or bright_blue, #rrggbb, rgb(r,g,b),
    color(N)), or None. Rich's own parser: a copy of its 256 names would drift from it."""
    try:
        Color.parse(value)
    except ColorParseError:
        return f"{value!r} is not a colour (a name like red or bright_blue, or #rrggbb)"
    return None


def check_host_colours(entries: Iterable[HostEntry]) -> None:
    """Refuse to start on a saved host's `colour` that is not a colour: one line, with file, line and key."""
    for entry in entries:
        problem = None if entry.colour is None else colour_problem(entry.colour)
        if problem is not None:
            raise host_key_error(entry.name, "colour", f"hosts.{entry.name}.colour: {problem}")


def check_saved_host_colours() -> None:
    """Refuse to start on a saved host's colour Rich cannot draw (hosts.toml read and checked whole), also
    when -c or --replay chooses other hosts: vmtui never starts half-configured."""
    check_host_colours(HostStore().load())
