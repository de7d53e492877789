"""One domain's devices: class (paravirtual, emulated, passthrough), the virtio advice, and the actions.

The device list comes from `vmtui.ops.devices.report`, fetched by the app on a thread of its own (the
live and the persistent definitions: what changes at the next boot shows too). Changes are posted to
the app as `OperationRequested` with the same ops functions the CLI calls; nothing here touches a host.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.widgets.data_table import ColumnKey

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.xml.devices import check_mac, check_ref_name
from vmtui.errors import UsageError
from vmtui.models import Device
from vmtui.ops import devices, resize, virtio
from vmtui.ops.base import Progress
from vmtui.ops.devices import DeviceAdvice, DevicesReport, disk_capacity
from vmtui.present import printable
from vmtui.richtext import device_class_text
from vmtui.screens.fetching import Reads
from vmtui.screens.form import SCOPE_CHECKS, TICKED, FormField, FormModal, Values
from vmtui.screens.provision import ResizeForm
from vmtui.tui.fleet import Fleet
from vmtui.tui.messages import DataFetched, DeviceOperation, FetchRequested, OperationRequested, SriovOpenRequested
from vmtui.widgets.fitting_footer import FittingFooter
from vmtui.widgets.keys import REFRESH, keys_hint
from vmtui.widgets.refusals import Refusals, explained, moved

COLUMNS = ("kind", "name", "class", "bus/type", "model", "to virtio", "next boot", "guest driver", "note")


def _check_disk(values: Values) -> None:
    disk_capacity(values["size"])
    check_ref_name("pool", values["pool"] or "default")
    if values["name"]:
        check_ref_name("volume", values["name"])


def _check_nic(values: Values) -> None:
    if values["bridge"]:
        if values["network"] not in ("", "default"):
            raise UsageError("a NIC is on a network or on a bridge: empty one of them")
        check_ref_name("bridge", values["bridge"])
    elif values["network"] and values["network"] != "user":
        check_ref_name("network", values["network"])
    if values["mac"]:
        check_mac(values["mac"])


def _device_id(device: Device) -> str:
    """How a change names a device: a NIC by its MAC, a disk by its target."""
    return device.mac if device.kind == "nic" and device.mac else device.name


class DevicesScreen(Refusals, Screen[None]):
    """Reads the fleet and fetched reports; posts requests to the app."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        *explained(
            Binding("t", "convert", "To virtio"),
            Binding("T", "convert_all", "All to virtio"),
            Binding("a", "add_disk", "Add disk"),
            Binding("n", "add_nic", "Add NIC"),
            Binding("g", "resize", "Grow disk"),
        ),
        Binding("i", "sriov", "SR-IOV"),
        Binding(REFRESH, "refetch", "Refresh"),
        # Keys this screen used before, and `v`, which opened it: pressed, they say what does it now.
        moved("v", "t switches the selected device to virtio, T every emulated one"),
        moved("V", "T switches every emulated device to virtio"),
        moved("r", "Ctrl+R asks the host again"),
    ]

    CLI_OPTIONS: ClassVar[dict[str, str]] = {
        "devices virtio": "key t",
        "devices virtio --nic": "key t on a NIC's row",
        "devices virtio --disk": "key t on a disk's row",
        "devices virtio --all": "key T",
        "devices add-disk": "key a",
        "devices add-disk --pool": "key a: #form-pool",
        "devices add-disk --name": "key a: #form-name",
        "devices add-disk --live": "key a: #form-live",
        "devices add-disk --config": "key a: #form-config",
        "devices add-nic": "key n",
        "devices add-nic --network": "key n: #form-network",
        "devices add-nic --user": "key n: #form-network (user)",
        "devices add-nic --bridge": "key n: #form-bridge",
        "devices add-nic --mac": "key n: #form-mac",
        "devices add-nic --live": "key n: #form-live",
        "devices add-nic --config": "key n: #form-config",
        "disk resize": "key g on a disk's row",
    }
    """The CLI commands and options this screen's keys and forms stand for (tests/unit/test_parity.py reads them)."""

    def __init__(self, uuid: str, fleet: Fleet) -> None:
        super().__init__()
        self.uuid = uuid
        self.fleet = fleet
        self.report: DevicesReport | None = None
        self.reads = Reads()
        self._seen: tuple[Device, ...] | None = None
        """The poller's devices when the report was asked for: a change there asks again."""
        self._changing: frozenset[str] = frozenset()
        """The devices (MAC or target) the last change asked for names: marked in their rows while it runs."""
        self._switch_column: ColumnKey | None = None

    @property
    def fetch_key(self) -> str:
        return f"devices:{self.uuid}"

    def compose(self) -> ComposeResult:
        yield Header(icon="▣")
        yield Static(id="dev-summary")
        yield DataTable(id="dev-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="dev-detail")
        yield FittingFooter()

    def on_mount(self) -> None:
        keys = self.query_one("#dev-table", DataTable).add_columns(*COLUMNS)
        self._switch_column = keys[COLUMNS.index("to virtio")]
        self.refetch()

    def host(self) -> str | None:
        found = self.fleet.find(self.uuid)
        return found[0].name if found else None

    def refetch(self) -> None:
        host = self.host()
        if host is None:
            self._say(Text("this domain is gone", "bold red"))
            return
        found = self.fleet.find(self.uuid)
        info = found[1] if found else None
        self._seen = info.devices if info else None
        uuid = self.uuid
        self.reads.asked()
        self.post_message(FetchRequested(host, self.fetch_key, lambda conn: devices.report(conn, uuid)))

    def sample_arrived(self, host: str, uuids: Collection[str]) -> None:
        """`vmtui.screens.live.LiveScreen`: data of these domains changed."""
        if self.uuid in uuids:
            self.refresh_data()
            self._show_pending()

    def refresh_data(self) -> None:
        """Called for each sample of the host: ask again only when the running guest's devices changed."""
        found = self.fleet.find(self.uuid)
        info = found[1] if found else None
        if info is not None and self._seen is not None and info.devices != self._seen:
            self.refetch()

    def show_data(self, message: DataFetched) -> None:
        self.reads.answered()
        if not self.query("#dev-table"):
            return  # closing
        if message.error is not None:
            self._say(Text(message.error, "bold red"))
            return
        report = message.value
        assert isinstance(report, DevicesReport)
        self.report = report
        self.title = printable(f"devices of {report.domain} on {message.host}")
        summary = Text(printable(report.domain), "bold")
        summary.append(f"  {report.state}" + ("" if report.persistent else ", transient"))
        emulated = sum(1 for a in report.devices if a.switch in ("live", "next-boot"))
        summary.append(f"  {emulated} device(s) can move to virtio" if emulated else "  nothing left to move to virtio")
        self.query_one("#dev-summary", Static).update(summary)
        table = self.query_one("#dev-table", DataTable)
        row = table.cursor_row
        table.clear()
        for i, a in enumerate(report.devices):
            d = a.device
            table.add_row(
                d.kind,
                Text(printable(d.mac if d.kind == "nic" and d.mac else d.name)),
                device_class_text(d.dev_class),
                Text(printable(d.bus or d.flavor or "-")),
                Text(printable(d.model)),
                a.switch,
                Text(printable(a.next_boot or "-"), "yellow" if a.next_boot else "dim"),
                Text(printable(a.guest_driver or "-")),
                Text(printable(a.note)),
                key=str(i),
            )
        if report.devices:
            table.move_cursor(row=min(row, len(report.devices) - 1))
        self._say(Text(keys_hint(self.BINDINGS), "dim"))
        self._show_pending()
        self.refresh_bindings()

    def _show_pending(self) -> None:
        """While a change runs on the domain, say so under the table and in the rows it changes."""
        pending = self.fleet.pending(self.uuid)
        if pending is None:
            self._changing = frozenset()
            return
        self._say(Text(f"{pending} (its result comes as a notification)", "bold yellow"))
        table = self.query_one("#dev-table", DataTable)
        if self.report is None or self._switch_column is None:
            return
        for i, advice in enumerate(self.report.devices):
            if _device_id(advice.device) in self._changing and str(i) in table.rows:
                table.update_cell(str(i), self._switch_column, Text(pending, "bold yellow"))

    def _say(self, text: Text) -> None:
        for detail in self.query("#dev-detail").results(Static):
            detail.update(text)

    def selected(self) -> DeviceAdvice | None:
        if self.report is None or not self.report.devices:
            return None
        row = self.query_one("#dev-table", DataTable).cursor_row
        return self.report.devices[row] if 0 <= row < len(self.report.devices) else None

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()

    def refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action not in ("convert", "convert_all", "add_disk", "add_nic", "resize"):
            return None
        found = self.fleet.find(self.uuid)
        why = self.fleet.write_refusal(found[0]) if found is not None else "the domain is gone"
        # No `reads` refusal here: the screen re-reads on every sample whose devices changed, so one is
        # often out; a stale row cannot turn a change around (converting a device already virtio is refused
        # by the operation itself).
        why = why or self.fleet.busy_refusal(self.uuid)
        if why is None and self.report is None and action != "add_nic" and action != "add_disk":
            why = "the devices are still being read"
        if why is None and action == "convert":
            chosen = self.selected()
            if chosen is None or chosen.switch not in ("live", "next-boot"):
                why = "the selected device has nothing to move to virtio"
        if why is None and action == "resize":
            chosen = self.selected()
            if chosen is None or chosen.device.kind != "disk":
                why = "the selected device is no disk"
        if why is None and action == "convert_all" and self.report is not None:
            if not any(a.switch in ("live", "next-boot") for a in self.report.devices):
                why = "nothing left to move to virtio"
        return why

    # ----- actions: every change is an OperationRequested for the app to confirm and run -------------

    def _request(
        self, label: str, run: DeviceOperation, question: str | None, detail: str, changes: frozenset[str] = frozenset()
    ) -> None:
        host = self.host()
        if host is None:
            return
        self._changing = changes
        self.post_message(OperationRequested(host, self.uuid, label, run, question, detail))

    def action_convert(self) -> None:
        chosen, report = self.selected(), self.report
        if chosen is None or report is None:
            return
        d, uuid = chosen.device, self.uuid
        if d.kind == "nic":
            mac = d.mac

            def run_nic(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
                return virtio.to_virtio(conn, uuid, nic=mac, progress=progress, cancel=cancel)

            live = "Live: unplugged and plugged again, same MAC (a short outage; the guest must release it). "
            detail = (live if chosen.switch == "live" else "") + "Config: virtio from the next boot."
            question = f"Switch NIC {mac} ({d.model}) of {report.domain} to virtio?"
            self._request(f"virtio NIC {mac} of {report.domain}", run_nic, question, detail, frozenset({_device_id(d)}))
            return
        target = d.name

        def run_disk(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            return virtio.to_virtio(conn, uuid, disk=target, progress=progress, cancel=cancel)

        detail = (
            f"Persistent config, from the next boot: the guest sees /dev/vdX instead of /dev/{target} "
            "(fstab lines naming the device break; UUID= keeps working). It needs virtio-blk (Windows: viostor first)."
        )
        question = f"Move disk {target} ({d.model}) of {report.domain} to virtio-blk?"
        self._request(
            f"virtio disk {target} of {report.domain}", run_disk, question, detail, frozenset({_device_id(d)})
        )

    def action_convert_all(self) -> None:
        report, uuid = self.report, self.uuid
        if report is None:
            return

        def run_all(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            return virtio.to_virtio(conn, uuid, every=True, progress=progress, cancel=cancel)

        names = [_device_id(a.device) for a in report.devices if a.switch in ("live", "next-boot")]
        question = f"Switch {', '.join(names)} of {report.domain} to virtio?"
        detail = "NICs live (a short outage each) and in the config; disks in the config, from the next boot."
        self._request(f"virtio all of {report.domain}", run_all, question, detail, frozenset(names))

    def action_add_disk(self) -> None:
        fields = (
            FormField("size", "Size", "10G"),
            FormField("pool", "Storage pool", value="default"),
            FormField("name", "Volume name (empty: named after the domain)"),
            *SCOPE_CHECKS,
        )
        self.app.push_screen(FormModal("Add a virtio disk (a new qcow2 volume)", fields, _check_disk), self._add_disk)

    def _add_disk(self, values: Values | None) -> None:
        if values is None or self.report is None:
            return
        uuid, size, pool, name = self.uuid, values["size"], values["pool"] or "default", values["name"] or None
        live, config = values["live"] == TICKED, values["config"] == TICKED

        def run(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            return devices.add_disk(
                conn, uuid, size, pool=pool, name=name, live=live, config=config, progress=progress, cancel=cancel
            )

        self._request(f"add {size} disk to {self.report.domain}", run, None, "")

    def action_add_nic(self) -> None:
        fields = (
            FormField("network", "libvirt network ('user' for user-mode networking)", value="default"),
            FormField("bridge", "or a host bridge (empty: the network above)"),
            FormField("mac", "MAC address (empty: libvirt picks one)", "52:54:00:..."),
            *SCOPE_CHECKS,
        )
        self.app.push_screen(FormModal("Add a virtio NIC", fields, _check_nic), self._add_nic)

    def _add_nic(self, values: Values | None) -> None:
        if values is None or self.report is None:
            return
        uuid, network, mac = self.uuid, values["network"] or "default", values["mac"] or None
        bridge = values["bridge"] or None
        user = network == "user" and bridge is None
        live, config = values["live"] == TICKED, values["config"] == TICKED

        def run(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            return devices.add_nic(
                conn, uuid, network=None if user or bridge else network, bridge=bridge, user=user, mac=mac,
                live=live, config=config, progress=progress, cancel=cancel,
            )  # fmt: skip

        self._request(f"add NIC to {self.report.domain}", run, None, "")

    def action_resize(self) -> None:
        chosen, report, host = self.selected(), self.report, self.host()
        if chosen is None or report is None or host is None:
            return
        uuid, target, domain = self.uuid, chosen.device.name, report.domain

        def answered(values: Values | None) -> None:
            if values is None:
                return
            new_size = values["size"]

            def run(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
                plan = resize.plan_resize(conn, uuid, target, new_size, host=host)
                return resize.resize(conn, plan, progress=progress, cancel=cancel)

            self._request(f"grow disk {target} of {domain} ({new_size})", run, None, "", frozenset({target}))

        self.app.push_screen(ResizeForm(host, uuid, domain, target), answered)

    def action_sriov(self) -> None:
        host = self.host()
        if host is not None:
            self.post_message(SriovOpenRequested(host))

    def action_refetch(self) -> None:
        self.refetch()
