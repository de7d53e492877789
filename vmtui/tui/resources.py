"""The screens of their own for devices, SR-IOV, storage and networks: opening them, fetching their data
off Textual's loop, and running the changes they ask for through the job starter.

A controller composed into `VmtuiApp`.
"""

from __future__ import annotations

from vmtui.models import HostEntry
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.devices import DevicesScreen
from vmtui.screens.fetching import FetchingScreen
from vmtui.screens.networks import NetworksScreen
from vmtui.screens.sriov import SriovScreen
from vmtui.screens.storage import StorageScreen
from vmtui.tui.messages import (
    DataFetched,
    DevicesOpenRequested,
    FetchRequested,
    OperationRequested,
    ResourcesOpenRequested,
    SriovOpenRequested,
)
from vmtui.tui.parts import Controller


class ResourceScreens(Controller):
    """Opens the devices, SR-IOV, storage and networks screens, feeds them, runs their changes."""

    def open_devices(self, message: DevicesOpenRequested) -> None:
        if self.fleet.find(message.uuid) is None:
            self.ui.say("that domain is gone", severity="warning")
            return
        self.ui.show(DevicesScreen(message.uuid, self.fleet))

    def open_sriov(self, message: SriovOpenRequested) -> None:
        if message.host in self.fleet.hosts:
            self.ui.show(SriovScreen(message.host, self.fleet))

    def open_resources(self, message: ResourcesOpenRequested) -> None:
        view, entry = self.fleet.hosts.get(message.host), self.entries.get(message.host)
        if view is None or entry is None or view.recorded:
            self.ui.say(f"{message.host}: a recording has no {message.kind}", severity="warning")
            return
        kind = StorageScreen if message.kind == "storage" else NetworksScreen
        self.ui.show(kind(message.host, writable=not entry.read_only))

    def fetch(self, message: FetchRequested) -> None:
        entry = self.entries.get(message.host)
        if entry is None:
            return
        fetch, connector = message.fetch, self.connector

        def read() -> object:
            with connector(entry) as conn:
                return fetch(conn)

        self.jobs.fetch(message.key, message.host, read)

    def fetched(self, message: DataFetched) -> None:
        for screen in self.ui.stack:
            if isinstance(screen, FetchingScreen) and screen.fetch_key == message.key:
                screen.show_data(message)

    def operation(self, message: OperationRequested) -> None:
        """Refuse (host not writable, the domain busy), ask when the screen gave a question, then run a job."""
        entry = self.entries.get(message.host)
        if message.host not in self.fleet.hosts or entry is None:
            return
        why = self.fleet.operation_refusal(message.host, message.uuid)
        if why is not None:
            self.ui.say(f"{message.label}: {why}", title="refused", severity="error")
            return
        if message.question is None:
            self._start(entry, message)
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self._start(entry, message)

        self.ui.show(ConfirmModal(message.question, detail=message.detail), answered)

    def _start(self, entry: HostEntry, message: OperationRequested) -> None:
        run = message.run
        self.starter.run(
            entry, message.uuid, message.label, run, pending=message.pending, progress_in_row=message.progress_in_row
        )
