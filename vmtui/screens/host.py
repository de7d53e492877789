"""The main dashboard: hosts pane on top, every host's domains below, a filter line on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Input, Static

from vmtui.ops.lifecycle import ACTIONS
from vmtui.screens.host_picker import HostPickerModal
from vmtui.screens.provision import ask_clone, clone_refusal
from vmtui.tui.fleet import Fleet
from vmtui.tui.messages import (
    ActionRequested,
    BulkActionRequested,
    ConsoleRequested,
    CreateRequested,
    DevicesOpenRequested,
    DomainOpenRequested,
    MemoryOpenRequested,
    MigrateRequested,
    ResourcesOpenRequested,
    SriovOpenRequested,
    XmlRequested,
)
from vmtui.widgets.domain_table import DomainTable
from vmtui.widgets.fitting_footer import FittingFooter
from vmtui.widgets.hosts_pane import HostsPane
from vmtui.widgets.refusals import Refusals, explained

ACTION_BINDINGS = explained(
    *(
        Binding(a.binding, f"lifecycle('{a.key}')", a.key_label or a.label, show=a.in_footer, tooltip=a.label)
        for a in ACTIONS
    ),
    Binding("m", "migrate", "Migrate"),
)
"""Bindings for screens that act on one domain; `domain_refusal` hides those that cannot run now."""
DEVICE_BINDINGS = explained(
    Binding("v", "devices", "Devs", tooltip="Devices"),
    Binding("i", "sriov", "SR-IOV", show=False),
)
"""The selected domain's devices screen, and its host's SR-IOV screen."""

TOOL_BINDINGS = explained(Binding("c", "console", "Console"), Binding("X", "xml", "XML"))
"""The serial console and the XML of the selected domain (table and domain screen alike)."""

CLONE_BINDINGS = explained(
    Binding("Y", "clone", "Clone", tooltip="Clone (a shut-off domain or a template)", show=False)
)
"""Clone the selected domain (a form: name, linked, start): on the dashboard and the domain screen."""

HOST_BINDINGS = explained(
    Binding("M", "memory", "Mem", tooltip="Memory and KSM"),
    Binding("P", "resources('storage')", "Pools", tooltip="Storage"),
    Binding("N", "resources('networks')", "Nets", tooltip="Networks"),
)
"""Screens of the selected domain's host (dashboard and domain screen alike)."""

FOOTER_RANKING = ("enter", "slash", "d", "x", "m", "s", "p", "b", "M", "P", "N", "v", "c", "X", "w", "u", "r", "q")
"""The dashboard's keys by use, for the footer at narrow widths (80 columns hold about the first seven;
`?` always stays): open, filter, then what a console is for: stop, force off, move."""


def host_refusal(fleet: Fleet, host: str | None) -> str | None:
    """Why a key of HOST_BINDINGS cannot open `host`'s screens now (or None)."""
    if host is None:
        return "no host is watched"
    return "a replay has no live host to ask" if fleet.hosts[host].recorded else None


DOMAIN_ACTIONS = frozenset({"lifecycle", "migrate", "devices", "sriov", "console", "xml", "clone"})


def domain_refusal(
    fleet: Fleet, uuid: str | None, action: str, parameters: tuple[object, ...], host: str | None = None
) -> str | None:
    """Why a key of ACTION_BINDINGS, DEVICE_BINDINGS or TOOL_BINDINGS cannot act on `uuid` now (or None).

    Only what can run is shown: not on read-only hosts, replays, stale hosts, domains with an
    operation in flight, or states that do not allow it.
    """
    if action not in DOMAIN_ACTIONS:
        return None
    found = fleet.find(uuid, host) if uuid else None
    if found is None:
        return "no domain selected"
    view = found[0]
    if action == "migrate":
        return fleet.write_refusal(view)
    if action == "console":
        return fleet.tool_refusal(uuid, running=True)
    if action == "clone" and uuid is not None:
        return fleet.tool_refusal(uuid) or clone_refusal(fleet.state_of(uuid, view.name))
    if action == "xml":
        return fleet.tool_refusal(uuid, writes=False)
    if action in ("devices", "sriov"):
        return "a replay has no devices to read" if view.recorded else None
    if action == "lifecycle" and parameters:
        return fleet.action_refusal(uuid, str(parameters[0]), found[0].name)
    return None


class HostScreen(Refusals, Screen[None]):
    """Fleet dashboard: the screen the app starts on. Reads the fleet; posts requests to the app."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # A priority binding runs as the app reads the key, before the keys behind it are routed: the
        # filter gets the focus in time for text typed or pasted in the same burst as "/".
        # The footer holds the main keys in short words (at 80 columns the most used, FOOTER_RANKING);
        # every key is in the help (?) and the palette (ctrl+p) by its full name.
        Binding("slash", "filter", "Filter", priority=True),
        # Enter and Esc leave the filter line as the app reads them, too: keys typed right behind them
        # ("/web⏎d") reach the table, not the filter line.
        Binding("enter", "keep_filter", "Keep filter", show=False, priority=True),
        Binding("escape", "clear_filter", "Clear filter", show=False, priority=True),
        # Between the domains and the hosts pane only: Textual's own Tab also stops in a kept filter line,
        # where the next letter would replace the filter.
        Binding("tab,shift+tab", "switch_pane", "Hosts pane / domains", show=False),
        *explained(Binding("a", "app.add_host", "Add host", show=False)),
        # On the hosts pane's host when it has the focus, else the selected row's (as M, P, N).
        *explained(Binding("n", "create", "New VM", show=False, tooltip="Create a VM on the host")),
        *HOST_BINDINGS,
        *ACTION_BINDINGS,
        *DEVICE_BINDINGS,
        *TOOL_BINDINGS,
        *CLONE_BINDINGS,
    ]

    CLI_OPTIONS: ClassVar[dict[str, str]] = {
        **{a.key: f"key {a.binding}" for a in ACTIONS},
        **{f"{a.key} --filter": "key slash, then space or * on the domain table" for a in ACTIONS},
        "migrate start": "key m",
        "hosts add": "key a",
        "create": "key n (on the hosts pane's host, else the selected row's): the create form",
        "clone": "key Y",
    }
    """The CLI commands and options this screen's keys stand for (tests/unit/test_parity.py reads them)."""

    def __init__(self, fleet: Fleet, clock: Callable[[], float]) -> None:
        super().__init__()
        self.fleet = fleet
        self.clock = clock
        # Kept from compose: a CSS query per sample (three of them) cost more than the sample's own work.
        self._pane: HostsPane | None = None
        self._table: DomainTable | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        self._pane = HostsPane(id="hosts")
        self._table = DomainTable(clock=self.clock, id="domains")
        self._table.thresholds = self.fleet.thresholds
        self._table.host_colours = {name: view.colour for name, view in self.fleet.hosts.items() if view.colour}
        yield self._pane
        yield self._table
        yield Input(placeholder="regex on name, state:running, host:NAME (Enter keeps, Esc clears)", id="filter")
        yield Static("", id="marks", markup=False)
        yield FittingFooter(FOOTER_RANKING)

    @property
    def table(self) -> DomainTable:
        return self.query_one(DomainTable)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#marks", Static).display = False
        self.table.focus()
        self.show_hosts()
        for host in self.fleet.hosts:
            self.update_rows(host)

    def show_hosts(self) -> None:
        # Samples can arrive before compose and after the children are gone while the app closes
        # (pollers post until the app unmounts): then there is no widget and nothing to do.
        pane = self._pane
        if pane is not None and pane.is_attached:
            pane.hosts = tuple(self.fleet.hosts)
            pane.show(self.fleet, self.clock())

    def update_rows(self, host: str) -> None:
        rows = self.fleet.rows(host) if host in self.fleet.hosts else []
        aged = self.fleet.aged(host)
        table = self._table
        if table is not None and table.is_attached:
            table.update_host(host, rows, aged=aged)
            table.forget_gone()

    def selected_uuid(self) -> str | None:
        table = self._table
        return table.cursor_uuid if table is not None and table.is_attached else None

    def selected_row_host(self) -> str | None:
        """The host of the selected row: of two rows of one UUID (a split brain), the one chosen."""
        table = self._table
        return table.cursor_host if table is not None and table.is_attached else None

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        # Now, not via box.focus() (which waits its turn behind keys already queued): typed or pasted
        # fast, "/pg" would otherwise send "p" to the table and pause the selected domain.
        self.set_focus(box)

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.border_subtitle = ""
        box.display = False
        self.table.set_filter("")
        self.set_focus(self.table)

    def focus_host(self, name: str) -> None:
        """The hosts pane's cursor on host `name`, and the focus there (`:host NAME`): M, P, N, i, D act on it."""
        pane = self._pane
        if pane is not None:
            pane.select(name)
            self.set_focus(pane)

    def filter_to(self, text: str) -> None:
        """The filter line set to `text` (as if typed after /), kept, and the rows given the focus (`:filter`)."""
        box = self.query_one("#filter", Input)
        box.value = text
        box.display = bool(text)
        self.set_focus(self.table)

    def action_switch_pane(self) -> None:
        pane = self._pane
        if pane is not None:
            self.set_focus(self.table if pane.has_focus else pane)

    def action_keep_filter(self) -> None:
        box = self.query_one("#filter", Input)
        # Keep the filter, hide the line only if it is empty, and go back to the rows.
        box.display = bool(box.value)
        self.set_focus(self.table)

    def on_input_changed(self, event: Input.Changed) -> None:
        problems = self.table.set_filter(event.value)
        # Said where the user looks, while typing; an empty subtitle once it makes sense again.
        event.input.border_subtitle = escape(problems[0]) if problems else ""

    def on_domain_table_selected(self, event: DomainTable.Selected) -> None:
        self.post_message(DomainOpenRequested(event.uuid, event.host))

    def on_domain_table_highlighted(self, _event: DomainTable.Highlighted) -> None:
        self.refresh_bindings()

    def on_domain_table_marks_changed(self, event: DomainTable.MarksChanged) -> None:
        line = self.query_one("#marks", Static)
        line.display = event.count > 0
        what = "1 domain" if event.count == 1 else f"{event.count} domains"
        line.update(f"{what} marked: the action keys act on them all (space unmarks, Esc clears)")
        self.refresh_bindings()

    def marked(self) -> frozenset[str]:
        table = self._table
        return table.marked if table is not None and table.is_attached else frozenset()

    def selected_host(self) -> str | None:
        """The host M, P, N and i open: the hosts pane's (when it has the focus), the selected row's, or
        the only host watched; None when that leaves a choice (no row selected): the user is asked."""
        pane = self._pane
        if pane is not None and pane.has_focus:
            return pane.selected
        uuid = self.selected_uuid()
        found = self.fleet.find(uuid, self.selected_row_host()) if uuid else None
        if found is not None:
            return found[0].name
        live = self._live_hosts()
        return live[0] if len(live) == 1 else None

    def _live_hosts(self) -> list[str]:
        return [name for name, view in self.fleet.hosts.items() if not view.recorded]

    def _on_host(self, what: str, request: Callable[[str], Message]) -> None:
        """Post the request for the host the keys go by, or ask which host first (never a silent pick)."""
        host = self.selected_host()
        if host is not None:
            self.post_message(request(host))
            return

        def picked(answer: str | None) -> None:
            if answer is not None:
                self.post_message(request(answer))

        self.app.push_screen(HostPickerModal(f"{what} of which host?", self._live_hosts()), picked)

    def action_memory(self) -> None:
        # The selected domain's row is where the memory screen's cursor starts, if it is on that host.
        self._on_host("Memory", lambda host: MemoryOpenRequested(host, self._selected_on(host)))

    def _selected_on(self, host: str) -> str | None:
        return self.selected_uuid() if self.selected_row_host() == host else None

    def action_create(self) -> None:
        self._on_host("Create a VM", CreateRequested)

    def action_resources(self, kind: str) -> None:
        self._on_host(kind.capitalize(), lambda host: ResourcesOpenRequested(host, kind))

    def action_lifecycle(self, action: str) -> None:
        marked = self.marked()
        if marked:
            self.post_message(BulkActionRequested(action, tuple(sorted(marked))))
            return
        uuid = self.selected_uuid()
        if uuid is not None:
            self.post_message(ActionRequested(uuid, action, self.selected_row_host()))

    def action_devices(self) -> None:
        uuid = self.selected_uuid()
        if uuid is not None:
            self.post_message(DevicesOpenRequested(uuid))

    def action_sriov(self) -> None:
        self._on_host("SR-IOV", SriovOpenRequested)

    def action_console(self) -> None:
        uuid = self.selected_uuid()
        if uuid is not None:
            self.post_message(ConsoleRequested(uuid))

    def action_xml(self) -> None:
        uuid = self.selected_uuid()
        if uuid is not None:
            self.post_message(XmlRequested(uuid))

    def action_migrate(self) -> None:
        uuid = self.selected_uuid()
        if uuid is not None:
            self.post_message(MigrateRequested(uuid))

    def action_clone(self) -> None:
        uuid = self.selected_uuid()
        if uuid is not None:
            ask_clone(self, self.fleet, uuid, self.selected_row_host())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":
            return not isinstance(self.focused, Input)  # in the filter line, "/" is a character
        if action == "keep_filter":
            return isinstance(self.focused, Input)  # elsewhere Enter opens the selected domain
        if action == "clear_filter":
            # On the rows, Esc clears the marks first (the table's own Esc); with none, the filter.
            table = self._table
            return isinstance(self.focused, Input) or table is None or table.refusal("clear_marks", ()) is not None
        return super().check_action(action, parameters)

    def refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action == "add_host":
            return self.fleet.add_host_refusal()
        if action in ("resources", "memory", "sriov"):
            host = self.selected_host()
            if host is None:
                return None if self._live_hosts() else "a replay has no live host to ask"
            return "a replay has no live host to ask" if self.fleet.hosts[host].recorded else None
        if action == "create":
            host = self.selected_host()
            if host is None:
                return None if self._live_hosts() else "a replay has no host to create on"
            return self.fleet.write_refusal(self.fleet.hosts[host])
        table = self._table
        if action in DOMAIN_ACTIONS and self._pane is not None and self._pane.has_focus:
            return "the hosts pane has the focus (Tab goes back to the domains)"
        if action == "lifecycle" and self.marked():
            return None  # on the marked set: each domain's refusal is said in its result
        if action in DOMAIN_ACTIONS and self.selected_uuid() is None and table is not None:
            return table.nothing_selected  # the chosen domain is gone or filtered out: said, never a neighbour
        return domain_refusal(self.fleet, self.selected_uuid(), action, parameters, self.selected_row_host())
