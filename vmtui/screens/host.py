"""The main dashboard: hosts pane on top, every host's domains below, a filter line on demand."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, Input

from vmtui.screens.actions import ACTION_BINDINGS
from vmtui.widgets.domain_table import DomainRow, DomainTable
from vmtui.widgets.hosts_pane import HostsPane

if TYPE_CHECKING:
    from collections.abc import Iterable

    from vmtui.app import VmtuiApp
    from vmtui.fleet import HostView


class HostScreen(Screen[None]):
    """Fleet dashboard: the screen the app starts on."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # A priority binding runs as the app reads the key, before the keys behind it are routed: the
        # filter gets the focus in time for text typed or pasted in the same burst as "/".
        Binding("slash", "filter", "Filter", priority=True),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("a", "app.add_host", "Add host"),
        *ACTION_BINDINGS,
    ]

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        yield HostsPane(id="hosts")
        yield DomainTable(id="domains")
        yield Input(placeholder="regex on name, state:running, host:NAME (Enter keeps, Esc clears)", id="filter")
        yield Footer()

    @property
    def vmtui(self) -> VmtuiApp:
        from vmtui.app import VmtuiApp

        assert isinstance(self.app, VmtuiApp)
        return self.app

    @property
    def table(self) -> DomainTable:
        return self.query_one(DomainTable)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.table.focus()
        self.vmtui.render_all()

    def show_hosts(self, hosts: Iterable[HostView], now: float) -> None:
        # Samples can arrive before compose and after the children are gone while the app closes
        # (pollers post until the app unmounts): then there is no widget and nothing to do.
        for pane in self.query(HostsPane):
            pane.show(hosts, now)

    def update_rows(self, host: str, rows: Iterable[DomainRow]) -> None:
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
        self.vmtui.open_domain(event.uuid)

    def on_domain_table_highlighted(self, _event: DomainTable.Highlighted) -> None:
        self.refresh_bindings()

    def action_lifecycle(self, action: str) -> None:
        uuid = self.selected_uuid()
        if uuid is None:
            self.notify("no domain selected", severity="warning")
            return
        self.vmtui.request_action(uuid, action)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":
            return not isinstance(self.focused, Input)  # in the filter line, "/" is a character
        if action == "lifecycle" and parameters:
            return self.vmtui.action_allowed(self.selected_uuid(), str(parameters[0]))
        return True
