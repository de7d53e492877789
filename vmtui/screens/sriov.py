"""One host's SR-IOV: physical functions, their VFs (address, MAC/VLAN, the VM holding each), VF pools.

The inventory (node devices, networks, every domain's definitions) is fetched by the app on a thread
of its own; the pollers do not collect it. VF count, pool, attach and detach are posted to the app
as `OperationRequested` with the ops functions `vmtui sriov` calls.
"""

from __future__ import annotations

import threading
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.xml.devices import check_mac, check_new_name, check_vlan
from vmtui.errors import UsageError
from vmtui.ops import sriov, vf
from vmtui.ops.base import Progress
from vmtui.ops.sriov import PfView, SriovReport, VfView
from vmtui.present import printable
from vmtui.screens.fetching import Reads
from vmtui.screens.form import SCOPE_CHECKS, TICKED, FormField, FormModal, Values
from vmtui.tui.fleet import Fleet
from vmtui.tui.messages import DataFetched, DeviceOperation, FetchRequested, OperationRequested
from vmtui.widgets.fitting_footer import FittingFooter
from vmtui.widgets.keys import REFRESH, keys_hint
from vmtui.widgets.refusals import Refusals, explained, moved

COLUMNS = ("function", "netdev", "driver", "MAC", "VLAN", "VFs / used by", "pools")


def _int(text: str, what: str) -> int:
    if not text.strip().isdigit():
        raise UsageError(f"{what}: a whole number, not {text!r}")
    return int(text)


class SriovScreen(Refusals, Screen[None]):
    """Reads fetched reports and the fleet (domain names to UUIDs); posts requests to the app."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        *explained(
            Binding("C", "vf_count", "VF count"),
            Binding("n", "pool", "New pool"),
            Binding("a", "attach", "Give VF to VM"),
            Binding("d", "detach", "Take VF back"),
        ),
        Binding(REFRESH, "refetch", "Refresh"),
        moved("c", "C sets the VF count"),
        moved("p", "n makes a VF pool"),
        moved("r", "Ctrl+R asks the host again"),
    ]

    CLI_OPTIONS: ClassVar[dict[str, str]] = {
        "sriov vfs": "key C",
        "sriov pool": "key n",
        "sriov pool --name": "key n: #form-name",
        "sriov attach": "key a",
        "sriov attach --vf": "key a on the VF's row",
        "sriov attach --mac": "key a: #form-mac",
        "sriov attach --vlan": "key a: #form-vlan",
        "sriov attach --live": "key a: #form-live",
        "sriov attach --config": "key a: #form-config",
        "sriov detach": "key d",
        "sriov detach --vf": "key d on the VF's row",
    }
    """The CLI commands and options this screen's keys and forms stand for (tests/unit/test_parity.py reads them)."""

    def __init__(self, host: str, fleet: Fleet) -> None:
        super().__init__()
        self.host = host
        self.fleet = fleet
        self.report: SriovReport | None = None
        self.reads = Reads()
        self._rows: list[tuple[PfView, VfView | None]] = []

    @property
    def fetch_key(self) -> str:
        return f"sriov:{self.host}"

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        yield Static(id="sriov-summary")
        yield DataTable(id="sriov-table", cursor_type="row")
        yield Static(id="sriov-detail")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.title = printable(f"SR-IOV on {self.host}")
        self.query_one("#sriov-table", DataTable).add_columns(*COLUMNS)
        self.refetch()

    def refetch(self) -> None:
        self.reads.asked()
        self.post_message(FetchRequested(self.host, self.fetch_key, sriov.inventory))

    def show_data(self, message: DataFetched) -> None:
        self.reads.answered()
        if not self.query("#sriov-table"):
            return
        if message.error is not None:
            self.query_one("#sriov-detail", Static).update(Text(message.error, "bold red"))
            return
        report = message.value
        assert isinstance(report, SriovReport)
        self.report = report
        pfs = len(report.pfs)
        vfs = sum(pf.current_vfs for pf in report.pfs)
        summary = Text(printable(self.host), "bold")
        summary.append(f"  {pfs} physical function(s), {vfs} VF(s)" if pfs else "  no SR-IOV physical functions")
        self.query_one("#sriov-summary", Static).update(summary)
        table = self.query_one("#sriov-table", DataTable)
        row = table.cursor_row
        table.clear()
        self._rows = []
        for pf in report.pfs:
            total = pf.total_vfs if pf.total_vfs is not None else "?"
            table.add_row(
                Text(f"PF {pf.address}", "bold"),
                Text(printable(pf.netdev or "-"), "bold"),
                Text(printable(pf.driver or "-")),
                Text(printable(pf.mac or "-")),
                "",
                f"{pf.current_vfs} of {total} VFs",
                Text(printable(", ".join(p.name for p in pf.pools) or "-"), "cyan"),
                key=f"pf:{pf.address}",
            )
            self._rows.append((pf, None))
            for v in pf.vfs:
                holder = v.used_by[0] if v.used_by else None
                used = Text("free", "green")
                if holder is not None:
                    used = Text(printable(holder.domain), "bold" if holder.live else "")
                    used.append(" (running)" if holder.live else " (config)", "dim")
                table.add_row(
                    f"  VF {v.address}",
                    Text(printable(v.netdev or "-")),
                    Text(printable(v.driver or "-")),
                    Text(printable(v.mac or "-")),
                    str(v.vlan) if v.vlan is not None else "-",
                    used,
                    "",
                    key=f"vf:{v.address}",
                )
                self._rows.append((pf, v))
        if self._rows:
            table.move_cursor(row=min(row, len(self._rows) - 1))
        self.query_one("#sriov-detail", Static).update(Text(keys_hint(self.BINDINGS), "dim"))
        self.refresh_bindings()

    def selected(self) -> tuple[PfView, VfView | None] | None:
        if not self._rows:
            return None
        row = self.query_one("#sriov-table", DataTable).cursor_row
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()

    def refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action not in ("vf_count", "pool", "attach", "detach"):
            return None
        view = self.fleet.hosts.get(self.host)
        why = self.fleet.write_refusal(view) if view is not None else f"{self.host} is no longer watched"
        chosen = self.selected()
        if why is None and chosen is None:
            why = "no physical function selected"
        if why is None and chosen is not None and action in ("attach", "detach"):
            vf_row = chosen[1]
            if vf_row is None:
                why = "select a VF row (under its PF)"
            elif action == "attach" and vf_row.used_by:
                why = f"{printable(vf_row.used_by[0].domain)} holds it"
            elif action == "detach" and not vf_row.used_by:
                why = "no domain holds it"
        return why or self.reads.refusal()  # last: what is shown may be stale only when it would act

    def _request(
        self,
        label: str,
        run: DeviceOperation,
        *,
        uuid: str | None = None,
        question: str | None = None,
        detail: str = "",
    ) -> None:
        self.post_message(OperationRequested(self.host, uuid, label, run, question, detail, pending="changing VFs…"))

    # ----- VF count and pools ------------------------------------------------------------------------

    def action_vf_count(self) -> None:
        chosen = self.selected()
        if chosen is None:
            return
        pf = chosen[0]
        total = pf.total_vfs

        def check(values: Values) -> None:
            count = _int(values["count"], "VF count")
            if total is not None and count > total:
                raise UsageError(f"at most {total} VFs")

        field = FormField("count", f"VF count (0..{total if total is not None else '?'})", value=str(pf.current_vfs))
        name = pf.netdev or str(pf.address)
        self.app.push_screen(FormModal(f"VF count of {name}", (field,), check), lambda v: self._vf_count(pf, v))

    def _vf_count(self, pf: PfView, values: Values | None) -> None:
        if values is None:
            return
        count, address = int(values["count"]), str(pf.address)

        def run(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            return sriov.set_vf_count(conn, address, count, progress=progress, cancel=cancel)

        name = pf.netdev or address
        question = None
        if pf.current_vfs and count != pf.current_vfs:
            question = f"Set {name} to {count} VFs?"
        detail = f"Its {pf.current_vfs} VFs are removed first (the kernel changes a count from 0)."
        self._request(f"{name}: {count} VFs", run, question=question, detail=detail)

    def action_pool(self) -> None:
        chosen = self.selected()
        if chosen is None:
            return
        pf = chosen[0]
        field = FormField("name", "Network name", value=f"sriov-{pf.netdev or pf.address.nodedev}")
        self.app.push_screen(
            FormModal(
                f"VF pool over {pf.netdev or pf.address}", (field,), lambda v: check_new_name("network", v["name"])
            ),
            lambda v: self._pool(pf, v),
        )

    def _pool(self, pf: PfView, values: Values | None) -> None:
        if values is None:
            return
        address, name = str(pf.address), values["name"]

        def run(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            return sriov.create_pool(conn, address, name=name, progress=progress, cancel=cancel)

        self._request(f"VF pool {name}", run)

    # ----- a VF for a VM, and back ---------------------------------------------------------------------

    def _domain_uuid(self, name: str) -> str | None:
        view = self.fleet.hosts.get(self.host)
        return next((d.uuid for d in view.domains.values() if d.name == name), None) if view else None

    def action_attach(self) -> None:
        chosen = self.selected()
        if chosen is None or chosen[1] is None:
            return
        vf_view = chosen[1]

        def check(values: Values) -> None:
            if self._domain_uuid(values["domain"]) is None:
                raise UsageError(f"no domain {values['domain']!r} on {self.host}")
            if values["mac"]:
                check_mac(values["mac"])
            if values["vlan"]:
                check_vlan(_int(values["vlan"], "VLAN"))

        fields = (
            FormField("domain", "Domain (name)"),
            FormField("mac", "MAC address (empty: libvirt picks one)"),
            FormField("vlan", "VLAN tag (empty: none)"),
            *SCOPE_CHECKS,
        )
        self.app.push_screen(
            FormModal(f"Give VF {vf_view.address} to a VM", fields, check), lambda v: self._attach_vf(vf_view, v)
        )

    def _attach_vf(self, vf_view: VfView, values: Values | None) -> None:
        if values is None:
            return
        uuid = self._domain_uuid(values["domain"])
        if uuid is None:
            return
        address, mac = str(vf_view.address), values["mac"] or None
        vlan = int(values["vlan"]) if values["vlan"] else None
        live, config = values["live"] == TICKED, values["config"] == TICKED

        def run(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            return vf.attach_vf(
                conn, uuid, vf=address, mac=mac, vlan=vlan, live=live, config=config, progress=progress, cancel=cancel
            )

        self._request(f"VF {address} to {values['domain']}", run, uuid=uuid)

    def action_detach(self) -> None:
        chosen = self.selected()
        if chosen is None or chosen[1] is None or not chosen[1].used_by:
            return
        holder, address = chosen[1].used_by[0], str(chosen[1].address)
        uuid = holder.uuid

        def run(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            return vf.detach_vf(conn, uuid, vf=address, progress=progress, cancel=cancel)

        question = f"Take VF {address} from {holder.domain}?"
        detail = "The guest loses this NIC now (if it runs) and at the next boot."
        self._request(f"VF {address} from {holder.domain}", run, uuid=uuid, question=question, detail=detail)

    def action_refetch(self) -> None:
        self.refetch()
