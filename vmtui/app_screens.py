"""The app's screens of their own for devices, SR-IOV, storage and networks: opening them, fetching
their data off Textual's loop, and running the changes they ask for as jobs.

A mixin of `VmtuiApp`, kept apart so the app module stays about hosts, samples and lifecycle.
"""

from __future__ import annotations

import threading

from textual.app import App
from textual.notifications import SeverityLevel

from vmtui.models import HostEntry
from vmtui.monitor.poller import Connector
from vmtui.ops.base import Progress
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.devices import DevicesScreen
from vmtui.screens.fetching import FetchingScreen
from vmtui.screens.host import HostScreen
from vmtui.screens.networks import NetworksScreen
from vmtui.screens.sriov import SriovScreen
from vmtui.screens.storage import StorageScreen
from vmtui.tui.fleet import Fleet
from vmtui.tui.jobs import JobRunner
from vmtui.tui.messages import (
    DataFetched,
    DevicesOpenRequested,
    FetchRequested,
    OperationRequested,
    ResourcesOpenRequested,
    SriovOpenRequested,
)


class ScreenOperations(App[None]):
    fleet: Fleet
    entries: dict[str, HostEntry]
    jobs: JobRunner
    connector: Connector
    host_screen: HostScreen

    def say(self, message: str, *, title: str = "", severity: SeverityLevel = "information") -> None:
        raise NotImplementedError  # VmtuiApp's

    def _refresh_keys(self) -> None:
        raise NotImplementedError  # VmtuiApp's

    def on_devices_open_requested(self, message: DevicesOpenRequested) -> None:
        if self.fleet.find(message.uuid) is None:
            self.say("that domain is gone", severity="warning")
            return
        self.push_screen(DevicesScreen(message.uuid, self.fleet))

    def on_sriov_open_requested(self, message: SriovOpenRequested) -> None:
        if message.host in self.fleet.hosts:
            self.push_screen(SriovScreen(message.host, self.fleet))

    def on_resources_open_requested(self, message: ResourcesOpenRequested) -> None:
        view, entry = self.fleet.hosts.get(message.host), self.entries.get(message.host)
        if view is None or entry is None or view.recorded:
            self.say(f"{message.host}: a recording has no {message.kind}", severity="warning")
            return
        kind = StorageScreen if message.kind == "storage" else NetworksScreen
        self.push_screen(kind(message.host, writable=not entry.read_only))

    def on_fetch_requested(self, message: FetchRequested) -> None:
        entry = self.entries.get(message.host)
        if entry is None:
            return
        fetch = message.fetch

        def read() -> object:
            with self.connector(entry) as conn:
                return fetch(conn)

        self.jobs.fetch(message.key, message.host, read)

    def on_data_fetched(self, message: DataFetched) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, FetchingScreen) and screen.fetch_key == message.key:
                screen.show_data(message)

    def on_operation_requested(self, message: OperationRequested) -> None:
        """Refuse (host not writable, the domain busy), ask when the screen gave a question, then run a job."""
        view = self.fleet.hosts.get(message.host)
        entry = self.entries.get(message.host)
        if view is None or entry is None:
            return
        why = self.fleet.operation_refusal(message.host, message.uuid)
        if why is not None:
            self.say(f"{message.label}: {why}", title="refused", severity="error")
            return
        if message.question is None:
            self._start_operation(entry, message)
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self._start_operation(entry, message)

        self.push_screen(ConfirmModal(message.question, detail=message.detail), answered)

    def _start_operation(self, entry: HostEntry, message: OperationRequested) -> None:
        run = message.run

        def operation(progress: Progress, cancel: threading.Event) -> object:
            with self.connector(entry) as conn:
                return run(conn, progress, cancel)

        if self.jobs.start(entry.name, message.uuid, message.label, operation) is None:
            self.say(f"{message.label}: another change of this domain is still running", severity="warning")
            return
        if message.uuid is not None:
            self.fleet.begin(message.uuid, message.pending)
            self.host_screen.update_rows(entry.name)
            self._refresh_keys()
