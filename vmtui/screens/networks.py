"""`N`: one host's virtual networks (active, autostart, forward mode, bridge, addresses, DHCP) and the
selected network's DHCP leases with MAC, IP and the domain whose NIC has that MAC. `A` turns the
network's autostart on or off. Fetched by the app on a thread of its own (`ops.networks.networks`)."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from vmtui.drivers.resources import NetworkInfo
from vmtui.ops import networks
from vmtui.ops.autostart import set_autostart
from vmtui.present import MISSING, printable
from vmtui.richtext import lease_cells, lit, network_cells
from vmtui.screens.fetching import Reads
from vmtui.tui.messages import DataFetched, FetchRequested, OperationRequested
from vmtui.widgets.fitting_footer import FittingFooter
from vmtui.widgets.keys import REFRESH
from vmtui.widgets.refusals import Refusals, explained, moved


class NetworksScreen(Refusals, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        *explained(Binding("A", "autostart", "Autostart")),
        Binding(REFRESH, "refetch", "Refresh"),
        moved("R", "Ctrl+R asks the host again"),
    ]

    CLI_OPTIONS: ClassVar[dict[str, str]] = {"net-autostart": "key A"}
    """The CLI commands and options this screen's keys and forms stand for (tests/unit/test_parity.py reads them)."""

    def __init__(self, host: str, *, writable: bool) -> None:
        super().__init__()
        self.host = host
        self.writable = writable
        self.networks: list[NetworkInfo] = []
        self.reads = Reads()

    @property
    def fetch_key(self) -> str:
        return f"networks:{self.host}"

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        yield Static(Text("Networks: loading…", "bold"), id="networks-title", classes="res-title")
        yield DataTable(id="networks", cursor_type="row", zebra_stripes=True)
        yield Static(id="leases-title", classes="res-title")
        yield DataTable(id="leases", cursor_type="row", zebra_stripes=True)
        yield FittingFooter()

    def on_mount(self) -> None:
        self.title = printable(f"networks on {self.host}")
        table = self.query_one("#networks", DataTable)
        table.add_columns("network", "active", "autostart", "forward", "bridge", "address", "dhcp", "leases")
        self.query_one("#leases", DataTable).add_columns("mac", "ip", "hostname", "domain", "expires")
        table.focus()
        self.refetch()

    def refetch(self) -> None:
        self.reads.asked()
        self.post_message(FetchRequested(self.host, self.fetch_key, networks.networks))

    def action_refetch(self) -> None:
        self.refetch()

    def selected(self) -> NetworkInfo | None:
        row = self.query_one("#networks", DataTable).cursor_row
        return self.networks[row] if self.networks and row < len(self.networks) else None

    def show_data(self, message: DataFetched) -> None:
        self.reads.answered()
        if not self.query("#networks"):
            return  # closing
        title = self.query_one("#networks-title", Static)
        if message.error is not None:
            title.update(Text.assemble(("Networks: ", "bold"), (printable(message.error), "bold red")))
            return
        keep = self.selected()
        self.networks = list(message.value)
        table = self.query_one("#networks", DataTable)
        table.clear()
        for n in self.networks:
            table.add_row(*network_cells(n), Text(str(len(n.leases)) if n.active else MISSING, justify="right"))
        names = [n.name for n in self.networks]
        if keep is not None and keep.name in names:
            table.move_cursor(row=names.index(keep.name))
        count = f"{len(names)} network{'s' if len(names) != 1 else ''}"
        hint = "; A autostart on/off" if self.writable else "; read-only"
        title.update(Text.assemble(("Virtual networks", "bold"), f" ({count}{hint})"))
        self._show_leases()
        self.refresh_bindings()

    def _show_leases(self) -> None:
        net = self.selected()
        table = self.query_one("#leases", DataTable)
        table.clear()
        title = self.query_one("#leases-title", Static)
        if net is None:
            title.update("")
            return
        head = Text.assemble(("DHCP leases of ", "bold"), lit(net.name, "bold"))
        if not net.active:
            title.update(head + Text(": not active", "dim"))
            return
        if not net.dhcp and not net.leases:
            title.update(head + Text(": none (no DHCP on this network)", "dim"))
            return
        title.update(head + f" ({len(net.leases)})")
        now = time.time()
        for le in net.leases:
            table.add_row(*lease_cells(le, now))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "networks":
            self._show_leases()
            self.refresh_bindings()

    def refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action != "autostart":
            return None
        net = self.selected()
        if not self.writable:
            return f"{self.host} is connected read-only"
        if net is None:
            return "no network selected"
        if not net.persistent:
            return f"{printable(net.name)} is transient: nothing starts it at boot"
        return self.reads.refusal()  # last: what is shown may be stale only when it would act

    def action_autostart(self) -> None:
        net = self.selected()
        if net is None or not self.writable:
            return
        name, on = net.name, not net.autostart
        self.post_message(
            OperationRequested(
                self.host,
                None,
                f"Autostart {'on' if on else 'off'} for network {name}",
                lambda conn, progress, cancel: set_autostart(
                    conn, "network", name, on, progress=progress, cancel=cancel
                ),
            )
        )
