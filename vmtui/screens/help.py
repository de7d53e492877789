"""`?`: the current screen's keys first (from its bindings, `vmtui.screens.keymap`), then every key of the app."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from vmtui.ops.lifecycle import ACTIONS
from vmtui.screens.keymap import screen_keys

GENERAL_KEYS = (
    ("?", "this help"),
    ("q", "quit"),
    ("ctrl+p", "command palette (actions on the selected domain, themes)"),
    (":", "command line: every command by its word (:pools, :host NAME, :filter EXPR, :sort cpu); Tab completes"),
    ("/", "filter domains: regex on the name, state:running, host:NAME (terms combine)"),
    ("escape", "clear the filter / back from a domain"),
    ("up/down, j/k, pgup/pgdn, home/end", "move the cursor"),
    ("enter (or double click)", "open the domain screen"),
    ("s / S", "sort by the next column / reverse the order (or click a column header)"),
    ("1 / 2 / 3 / 4", "sort by CPU % / memory / disk IO / network IO, largest first (again: the other way)"),
    ("w", "all columns (the table scrolls sideways) / only those that fit the terminal"),
    ("a", "add a host: name, URI, read-only; saved in hosts.toml like `vmtui hosts add`"),
    ("M", "memory of the selected domain's host: balloons, the balloon plan, KSM savings and cost"),
    ("M, then B / E", "balloon the selected guest (like `vmtui balloon`) / apply one step of the plan (asks first)"),
    (
        "m",
        "migrate the selected domain: pick the target among the hosts' pre-checks, then watch it (x aborts); "
        "on a domain that is migrating, show that job",
    ),
    ("ctrl+p, Remove host", "stop watching a host and forget it, like `vmtui hosts rm` (asks first)"),
    (
        "v",
        "the selected domain's devices: class, virtio advice; t/T switch one/all to virtio (asks first), "
        "a add disk, n add NIC",
    ),
    (
        "i",
        "SR-IOV of the selected domain's host: C VF count (asks), n new VF pool, a give a VF to a VM, d take it back",
    ),
    ("P", "storage of the selected domain's host: pools with bars, the selected pool's volumes"),
    ("n / delete", "in storage: new volume (name, size, format) / delete one (asks; refused while used)"),
    ("N", "virtual networks of the selected domain's host, with the selected network's DHCP leases"),
    ("A", "autostart on/off: the domain (domain screen) or the selected network (networks)"),
    ("ctrl+r", "storage, networks, devices, SR-IOV: ask the host again"),
)
TOOL_KEYS = (
    ("c", "serial console of the selected domain (virsh console); ctrl+] comes back to vmtui"),
    ("X", "the domain's XML; in it, l switches between the live XML and the persistent definition"),
    ("e (domain screen)", "edit the persistent XML in $EDITOR; a definition libvirt refuses changes nothing"),
    ("n (domain screen)", "take a snapshot (a running guest's memory included)"),
    ("tab, R / D (domain screen)", "choose a snapshot, revert to it / delete it (both ask first)"),
)


def screen_table(screen: object) -> Table | None:
    """The keys of `screen`, as its bindings say (None for a screen without keys of its own)."""
    keys = screen_keys(screen)
    if keys is None:
        return None
    table = Table(
        title=f"Keys of this screen: {keys.title}", title_justify="left", box=None, pad_edge=False, header_style="bold"
    )
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("what it does")
    for entry in keys.entries():
        table.add_row(entry.keys, entry.name + (" (asks first)" if entry.destructive else ""))
    return table


def help_table() -> Table:
    table = Table(title="Every key", title_justify="left", box=None, pad_edge=False, header_style="bold")
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("what it does")
    for key, what in GENERAL_KEYS:
        table.add_row(key, what)
    for action in ACTIONS:
        ask = " (asks first)" if action.destructive else ""
        table.add_row(action.binding, f"{action.label} the selected domain{ask}; refused on read-only hosts")
    for key, what in TOOL_KEYS:
        table.add_row(key, what)
    return table


def changed_table(changed: Mapping[str, tuple[str, str]]) -> Table:
    """The keys config.toml moved: the list below is the shipped one, read it with these instead."""
    table = Table(
        title="Your keys (config.toml [keys]; they replace the keys below)",
        title_justify="left",
        box=None,
        pad_edge=False,
        header_style="bold",
    )
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("what it does")
    for name, (shipped, yours) in changed.items():
        table.add_row(yours, f"{name} (instead of {shipped})")
    return table


class HelpModal(ModalScreen[None]):
    """Keys and what they do; any of escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    def __init__(self, under: object = None, *, changed: Mapping[str, tuple[str, str]] | None = None) -> None:
        """`under`: the screen `?` was pressed on; its keys come first. `changed`: the keys config.toml
        moved (a command's name -> its shipped key, the user's key), said before the shipped list."""
        super().__init__()
        self.under = under
        self.changed = dict(changed or {})

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static("[b]vmtui keys[/b]\n")
            first = screen_table(self.under)
            if first is not None:
                yield Static(first, id="help-screen-keys")
                yield Static("")
            if self.changed:
                yield Static(changed_table(self.changed), id="help-your-keys")
                yield Static("")
            yield Static(help_table())
