"""The main dashboard: hosts pane on top, every host's domains below, a filter line on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, Input

from vmtui.fleet import Fleet
from vmtui.messages import ActionRequested, DomainOpenRequested, MigrateRequested
from vmtui.ops.lifecycle import ACTIONS
from vmtui.widgets.domain_table import DomainTable
from vmtui.widgets.hosts_pane import HostsPane

ACTION_BINDINGS = [Binding(a.binding, f"lifecycle('{a.key}')", a.label) for a in ACTIONS] + [
    Binding("m", "migrate", "Migrate")
]
"""Bindings for screens that act on one domain; `check_action` hides those that cannot run now."""


def can_migrate(fleet: Fleet, uuid: str | None) -> bool:
    """Offer `m` on a domain of a live, writable host (the app says why, if it then refuses)."""
    found = fleet.find(uuid) if uuid else None
    return found is not None and fleet.write_refusal(found[0]) is None


class HostScreen(Screen[None]):
    """Fleet dashboard: the screen the app starts on. Reads the fleet; posts requests to the app."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # A priority binding runs as the app reads the key, before the keys behind it are routed: the
        # filter gets the focus in time for text typed or pasted in the same burst as "/".
        Binding("slash", "filter", "Filter", priority=True),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("a", "app.add_host", "Add host"),
        *ACTION_BINDINGS,
    ]

    def __init__(self, fleet: Fleet, clock: Callable[[], float]) -> None:
        super().__init__()
        self.fleet = fleet
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        yield HostsPane(id="hosts")
        yield DomainTable(id="domains")
        yield Input(placeholder="regex on name, state:running, host:NAME (Enter keeps, Esc clears)", id="filter")
        yield Footer()

    @property
    def table(self) -> DomainTable:
        return self.query_one(DomainTable)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.table.focus()
        self.show_hosts()
        for host in self.fleet.hosts:
            self.update_rows(host)

    def show_hosts(self) -> None:
        # Samples can arrive before compose and after the children are gone while the app closes
        # (pollers post until the app unmounts): then there is no widget and nothing to do.
        for pane in self.query(HostsPane):
            pane.show(self.fleet, self.clock())

    def update_rows(self, host: str) -> None:
        rows = self.fleet.rows(host) if host in self.fleet.hosts else []
        for table in self.query(DomainTable):
            table.update_host(host, rows)

    def selected_uuid(self) -> str | None:
        tables = self.query(DomainTable)
        return tables.first().cursor_uuid if tables else None

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        # Now, not via box.focus() (which waits its turn behind keys already queued): typed or pasted
        # fast, "/pg" would otherwise send "p" to the table and pause the selected domain.
        self.set_focus(box)

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.table.set_filter("")
        self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # Keep the filter, hide the line only if it is empty, and go back to the rows.
        event.input.display = bool(event.value)
        self.table.focus()

    def on_domain_table_selected(self, event: DomainTable.Selected) -> None:
        self.post_message(DomainOpenRequested(event.uuid))

    def on_domain_table_highlighted(self, _event: DomainTable.Highlighted) -> None:
        self.refresh_bindings()

    def action_lifecycle(self, action: str) -> None:
        uuid = self.selected_uuid()
        if uuid is not None:
            self.post_message(ActionRequested(uuid, action))

    def action_migrate(self) -> None:
        uuid = self.selected_uuid()
        if uuid is not None:
            self.post_message(MigrateRequested(uuid))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "migrate":
            return can_migrate(self.fleet, self.selected_uuid())
        if action == "filter":
            return not isinstance(self.focused, Input)  # in the filter line, "/" is a character
        if action == "lifecycle" and parameters:
            # Only what can run is shown (and bound): not on read-only hosts, replays, stale hosts,
            # domains with an operation in flight, or states that do not allow it.
            return self.fleet.action_refusal(self.selected_uuid(), str(parameters[0])) is None
        return True
