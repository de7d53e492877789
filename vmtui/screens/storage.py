"""`P`: one host's storage pools (capacity, allocation, available, with bars) and the selected pool's
volumes, with the domains that use each one. `n` creates a volume, `delete` deletes one (asks first;
refused, naming the domain, while a domain uses it).

Pools and volumes are fetched by the app on a thread of its own (`ops.storage.overview`); changes are
posted as `OperationRequested` with the ops functions `vmtui vol-create` and `vol-delete` call.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from vmtui.drivers.resources import PoolInfo, VolumeInfo
from vmtui.drivers.xml.resources import FILE_POOL_TYPES
from vmtui.errors import UsageError
from vmtui.ops import storage
from vmtui.ops.storage import StorageOverview
from vmtui.present import MISSING, printable, size
from vmtui.richtext import USAGE_BAR_WIDTH, lit, usage_bar, yes_no
from vmtui.screens.fetching import Reads, say
from vmtui.screens.form import FormField, FormModal, Values
from vmtui.tui.messages import DataFetched, FetchRequested, OperationRequested
from vmtui.widgets.fitting_footer import FittingFooter
from vmtui.widgets.keys import REFRESH
from vmtui.widgets.refusals import Refusals, explained, moved


class StorageScreen(Refusals, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        *explained(Binding("n", "new_volume", "New volume"), Binding("delete,D", "delete_volume", "Delete volume")),
        Binding(REFRESH, "refetch", "Refresh"),
        moved("R", "Ctrl+R asks the host again"),
    ]

    CLI_OPTIONS: ClassVar[dict[str, str]] = {
        "vol-create": "key n",
        "vol-create --format": "key n: #form-format",
        "vol-delete": "key D",
    }
    """The CLI commands and options this screen's keys and forms stand for (tests/unit/test_parity.py reads them)."""

    def __init__(self, host: str, *, writable: bool) -> None:
        super().__init__()
        self.host = host
        self.writable = writable
        self.view: StorageOverview | None = None
        self.want: str | None = None
        self.reads = Reads()
        """The pool whose volumes the user wants (the pools' cursor); None: the host's first."""

    @property
    def fetch_key(self) -> str:
        return f"storage:{self.host}"

    @property
    def pools(self) -> tuple[PoolInfo, ...]:
        return self.view.pools if self.view else ()

    @property
    def volumes(self) -> tuple[VolumeInfo, ...]:
        """The volumes on screen, when they are those of the pool under the cursor."""
        return self.view.volumes if self.view and self.view.pool == self.want else ()

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        yield Static(Text("Storage pools: loading…", "bold"), id="pools-title", classes="res-title")
        yield DataTable(id="pools", cursor_type="row", zebra_stripes=True)
        yield Static(id="volumes-title", classes="res-title")
        yield DataTable(id="volumes", cursor_type="row", zebra_stripes=True)
        yield FittingFooter()

    def on_mount(self) -> None:
        self.title = printable(f"storage on {self.host}")
        pools = self.query_one("#pools", DataTable)
        pools.add_columns("pool", "state", "autostart", "type", "vols", "capacity", "allocation", "available")
        pools.add_column("used", width=USAGE_BAR_WIDTH + 7)
        pools.add_column("path")
        volumes = self.query_one("#volumes", DataTable)
        volumes.add_columns("volume", "format", "capacity", "allocation")
        volumes.add_column("allocated", width=USAGE_BAR_WIDTH + 7)
        volumes.add_columns("used by", "path")
        pools.focus()
        self.refetch()

    def refetch(self) -> None:
        want = self.want
        self.reads.asked()
        self.post_message(FetchRequested(self.host, self.fetch_key, lambda conn: storage.overview(conn, want)))

    def action_refetch(self) -> None:
        self.refetch()

    def show_data(self, message: DataFetched) -> None:
        self.reads.answered()
        if not self.query("#pools"):
            return  # closing
        title = self.query_one("#pools-title", Static)
        if message.error is not None:
            title.update(Text.assemble(("Storage pools: ", "bold"), (printable(message.error), "bold red")))
            return
        view = message.value
        assert isinstance(view, StorageOverview)
        if self.want is None:
            self.want = view.pool
        self.view = view
        self._show_pools(view)
        if view.pool == self.want:
            self._show_volumes(view)
        self.refresh_bindings()

    def _show_pools(self, view: StorageOverview) -> None:
        table = self.query_one("#pools", DataTable)
        table.clear()
        for p in view.pools:
            active = p.active
            table.add_row(
                lit(p.name, "bold"),
                Text(p.state, "green" if active else "dim"),
                yes_no(p.autostart),
                lit(p.pool_type),
                Text(MISSING if p.volumes is None else str(p.volumes), justify="right"),
                Text(size(p.capacity) if active else MISSING, justify="right"),
                Text(size(p.allocation) if active else MISSING, justify="right"),
                Text(size(p.available) if active else MISSING, justify="right"),
                usage_bar(p.used_fraction if active else None),
                lit(p.path),
            )
        names = [p.name for p in view.pools]
        if self.want in names:
            table.move_cursor(row=names.index(self.want))
        count = f"{len(names)} pool{'s' if len(names) != 1 else ''}"
        hint = "; n new volume, delete deletes one" if self.writable else "; read-only"
        self.query_one("#pools-title", Static).update(Text.assemble(("Storage pools", "bold"), f" ({count}{hint})"))

    def _show_volumes(self, view: StorageOverview) -> None:
        table = self.query_one("#volumes", DataTable)
        keep = table.cursor_row
        table.clear()
        title = self.query_one("#volumes-title", Static)
        pool = next((p for p in view.pools if p.name == view.pool), None)
        if pool is None:
            title.update("")
            return
        head = Text.assemble(("Volumes of ", "bold"), lit(pool.name, "bold"))
        if not pool.active:
            title.update(head + Text(f": the pool is {pool.state}", "dim"))
            return
        for v in view.volumes:
            table.add_row(
                lit(v.name, "bold"),
                lit(v.format or v.vol_type),
                Text(size(v.capacity), justify="right"),
                Text(size(v.allocation), justify="right"),
                usage_bar(v.allocated_fraction),
                lit(", ".join(v.used_by), "cyan") if v.used_by else Text(MISSING, "dim"),
                lit(v.path),
            )
        if view.volumes:
            table.move_cursor(row=min(keep, len(view.volumes) - 1))
        title.update(head + f" ({len(view.volumes)})")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "pools" and self.pools:
            row = event.data_table.cursor_row
            name = self.pools[row].name if row < len(self.pools) else None
            if name is not None and name != self.want:
                self.want = name
                self.query_one("#volumes", DataTable).clear()
                self.query_one("#volumes-title", Static).update(
                    Text.assemble(("Volumes of ", "bold"), lit(name, "bold"), ": loading…")
                )
                self.refetch()
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "pools":
            self.query_one("#volumes", DataTable).focus()

    def selected_pool(self) -> PoolInfo | None:
        return next((p for p in self.pools if p.name == self.want), None)

    def selected_volume(self) -> VolumeInfo | None:
        row = self.query_one("#volumes", DataTable).cursor_row
        vols = self.volumes
        return vols[row] if vols and row < len(vols) else None

    # ----- changes: asked of the app, which confirms and runs them as jobs ------------------------

    def refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action not in ("new_volume", "delete_volume"):
            return None
        if not self.writable:
            return f"{self.host} is connected read-only"
        if action == "new_volume":
            pool = self.selected_pool()
            if pool is None:
                return "no pool selected"
            why = None if pool.active else f"pool {printable(pool.name)} is inactive"
        else:
            why = None if self.selected_volume() is not None else "no volume selected"
        return why or self.reads.refusal()  # last: what is shown may be stale only when it would act

    def action_new_volume(self) -> None:
        pool = self.selected_pool()
        if pool is None or not self.writable:
            return
        formats = storage.FORMATS if pool.pool_type in FILE_POOL_TYPES else ("raw",)

        def check(values: Values) -> None:
            storage.validate_volume_name(values["name"])
            storage.volume_capacity(values["size"])
            if values["format"] not in formats:
                raise UsageError(f"format {values['format']!r} is not one of {', '.join(formats)}")

        fields = [
            FormField("name", "Name", "web1.qcow2"),
            FormField("size", f"Size, with a unit ({size(pool.available)} available)", "10GiB"),
            FormField("format", f"Format: {' or '.join(formats)}", value=formats[0]),
        ]
        title = f"New volume in pool {printable(pool.name)}"
        self.app.push_screen(FormModal(title, fields, check), lambda values: self._create(pool.name, values))

    def _create(self, pool: str, values: Values | None) -> None:
        if values is None:
            return
        name, capacity, fmt = values["name"], storage.volume_capacity(values["size"]), values["format"]
        self.post_message(
            OperationRequested(
                self.host,
                None,
                f"Create volume {name} in {pool}",
                lambda conn, progress, cancel: storage.create_volume(
                    conn, pool, name, capacity, fmt=fmt, progress=progress, cancel=cancel
                ),
            )
        )

    def action_delete_volume(self) -> None:
        vol = self.selected_volume()
        if vol is None or not self.writable:
            return
        # Refused at once from what this screen shows; the job asks the host again before deleting.
        why = storage.refusal_of(vol, list(self.volumes))
        if why is not None:
            say(self, f"delete volume {vol.name}: {why}", title="refused", severity="error")
            return
        pool, name = vol.pool, vol.name
        self.post_message(
            OperationRequested(
                self.host,
                None,
                f"Delete volume {name} from {pool}",
                lambda conn, progress, cancel: storage.delete_volume(
                    conn, pool, name, progress=progress, cancel=cancel
                ),
                question=f"Delete volume {name} from pool {pool}?",
                detail=f"{vol.path} on {self.host}: its data is lost. No domain uses it now.",
            )
        )
