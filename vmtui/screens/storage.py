"""`P`: one host's storage pools (capacity, allocation, available, with bars) and the selected pool's
volumes, with the domains that use each one. `n` creates a volume, `delete` deletes one (asks first;
refused, naming the domain, while a domain uses it)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Static

from vmtui.drivers.resources import PoolInfo, VolumeInfo
from vmtui.messages import ChangeRequested
from vmtui.ops import storage
from vmtui.present import MISSING, bar_cells, pct, printable, size, usage_style
from vmtui.screens.access import HostAccess, Loaded, LoadingScreen, say
from vmtui.screens.volume_form import VolumeForm, VolumeFormModal

BAR_WIDTH = 12


def usage_bar(fraction: float | None, width: int = BAR_WIDTH) -> Text:
    """The CLI's bar, cell for cell (`present.bar_cells`, `present.usage_style`)."""
    cells = bar_cells(fraction, width)
    if cells is None or fraction is None:
        return Text("·" * width + f" {MISSING}", "dim")
    return Text("█" * cells, usage_style(fraction)) + Text("░" * (width - cells), "dim") + f" {pct(fraction * 100)}%"


def lit(text: str, style: str = "") -> Text:
    """A string from a host as it is: a Text is never read as markup."""
    return Text(printable(text), style)


def yes_no(flag: bool | None) -> Text:
    return Text(MISSING, "dim") if flag is None else Text("yes", "green") if flag else Text("no", "dim")


class StorageScreen(LoadingScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("n", "new_volume", "New volume"),
        Binding("delete,D", "delete_volume", "Delete volume"),
        Binding("R", "reload", "Refresh"),
    ]

    def __init__(self, host: str, access: HostAccess, *, writable: bool) -> None:
        super().__init__(host, access)
        self.writable = writable
        self.pools: list[PoolInfo] = []
        self.volumes: list[VolumeInfo] = []
        self.volumes_of: str | None = None
        """The pool `volumes` belong to (the cursor may have moved on while they load)."""

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        yield Static(id="pools-title", classes="res-title")
        yield DataTable(id="pools", cursor_type="row", zebra_stripes=True)
        yield Static(id="volumes-title", classes="res-title")
        yield DataTable(id="volumes", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.title = printable(f"storage on {self.host}")
        pools = self.query_one("#pools", DataTable)
        pools.add_columns("pool", "state", "autostart", "type", "vols", "capacity", "allocation", "available")
        pools.add_column("used", width=BAR_WIDTH + 7)
        pools.add_column("path")
        volumes = self.query_one("#volumes", DataTable)
        volumes.add_columns("volume", "format", "capacity", "allocation")
        volumes.add_column("allocated", width=BAR_WIDTH + 7)
        volumes.add_columns("used by", "path")
        self.query_one("#pools-title", Static).update(Text("Storage pools: loading…", "bold"))
        self.query_one("#volumes-title", Static).update("")
        pools.focus()
        self.action_reload()

    # ----- loading ------------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.load("pools", storage.pools)

    def job_finished(self, host: str) -> None:
        if host == self.host:
            self.action_reload()

    def selected_pool(self) -> PoolInfo | None:
        table = self.query_one("#pools", DataTable)
        if not self.pools or table.cursor_row >= len(self.pools):
            return None
        return self.pools[table.cursor_row]

    def selected_volume(self) -> VolumeInfo | None:
        table = self.query_one("#volumes", DataTable)
        pool = self.selected_pool()
        if pool is None or self.volumes_of != pool.name or not self.volumes or table.cursor_row >= len(self.volumes):
            return None
        return self.volumes[table.cursor_row]

    def _load_volumes(self) -> None:
        pool = self.selected_pool()
        title = self.query_one("#volumes-title", Static)
        if pool is None:
            title.update("")
            return
        if not pool.active:
            self.volumes, self.volumes_of = [], pool.name
            self.query_one("#volumes", DataTable).clear()
            title.update(Text.assemble(("Volumes of ", "bold"), lit(pool.name, "bold"), f": pool is {pool.state}"))
            return
        title.update(Text.assemble(("Volumes of ", "bold"), lit(pool.name, "bold"), ": loading…"))
        name = pool.name
        self.load("volumes", lambda conn: (name, storage.volumes(conn, name)))

    def loaded(self, message: Loaded) -> None:
        if message.what == "pools":
            self._show_pools(message)
        elif message.what == "volumes":
            self._show_volumes(message)
        self.refresh_bindings()

    def _show_pools(self, message: Loaded) -> None:
        title = self.query_one("#pools-title", Static)
        if message.error is not None:
            title.update(Text.assemble(("Storage pools: ", "bold"), (printable(message.error), "bold red")))
            return
        keep = self.selected_pool()
        self.pools = list(message.value)
        table = self.query_one("#pools", DataTable)
        table.clear()
        for p in self.pools:
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
        names = [p.name for p in self.pools]
        if keep is not None and keep.name in names:
            table.move_cursor(row=names.index(keep.name))
        count = f"{len(self.pools)} pool{'s' if len(self.pools) != 1 else ''}"
        title.update(Text.assemble(("Storage pools", "bold"), f" ({count}; n new volume, delete deletes one)"))
        self._load_volumes()

    def _show_volumes(self, message: Loaded) -> None:
        title = self.query_one("#volumes-title", Static)
        table = self.query_one("#volumes", DataTable)
        pool = self.selected_pool()
        if message.error is not None:
            table.clear()
            self.volumes = []
            title.update(Text.assemble(("Volumes: ", "bold"), (printable(message.error), "bold red")))
            return
        name, volumes = message.value
        if pool is None or pool.name != name:
            return  # the cursor moved on; its own load is on the way
        keep = self.selected_volume()
        self.volumes, self.volumes_of = list(volumes), name
        table.clear()
        for v in self.volumes:
            table.add_row(
                lit(v.name, "bold"),
                lit(v.format or v.vol_type),
                Text(size(v.capacity), justify="right"),
                Text(size(v.allocation), justify="right"),
                usage_bar(v.allocated_fraction),
                lit(", ".join(v.used_by), "cyan") if v.used_by else Text(MISSING, "dim"),
                lit(v.path),
            )
        names = [v.name for v in self.volumes]
        if keep is not None and keep.name in names:
            table.move_cursor(row=names.index(keep.name))
        title.update(Text.assemble(("Volumes of ", "bold"), lit(name, "bold"), f" ({len(self.volumes)})"))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "pools":
            pool = self.selected_pool()
            if pool is not None and pool.name != self.volumes_of:
                self._load_volumes()
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "pools":
            self.query_one("#volumes", DataTable).focus()

    # ----- changes: asked of the app, which confirms and runs them as jobs ------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "new_volume":
            pool = self.selected_pool()
            return self.writable and pool is not None and pool.active
        if action == "delete_volume":
            return self.writable and self.selected_volume() is not None
        return True

    def action_new_volume(self) -> None:
        pool = self.selected_pool()
        if pool is None or not self.writable:
            return
        self.app.push_screen(VolumeFormModal(pool), self._create)

    def _create(self, form: VolumeForm | None) -> None:
        if form is None:
            return
        pool, name, capacity, fmt = form.pool, form.name, form.capacity, form.fmt
        self.post_message(
            ChangeRequested(
                self.host,
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
        why = storage.refusal_of(vol, self.volumes)
        if why is not None:
            say(self, f"delete volume {vol.name}: {why}", title="refused", severity="error")
            return
        pool, name = vol.pool, vol.name
        self.post_message(
            ChangeRequested(
                self.host,
                f"Delete volume {name} from {pool}",
                lambda conn, progress, cancel: storage.delete_volume(
                    conn, pool, name, progress=progress, cancel=cancel
                ),
                question=storage.delete_question(vol, self.host),
                detail="No domain uses it now. This cannot be undone.",
            )
        )
