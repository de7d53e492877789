"""What every controller of the TUI is composed with: the fleet state, the hosts, the job runner and
starter, the connector, the pollers and the `Ui`. `VmtuiApp` builds one `Parts` and hands it to each."""

from __future__ import annotations

from dataclasses import dataclass

from vmtui.models import HostEntry
from vmtui.monitor.poller import Connector, HostPoller
from vmtui.tui.actions import JobStarter
from vmtui.tui.fleet import Fleet
from vmtui.tui.jobs import JobRunner
from vmtui.tui.ui import Ui


@dataclass(frozen=True, slots=True)
class Parts:
    fleet: Fleet
    entries: dict[str, HostEntry]
    """The hosts watched, by name (adding and removing a host edits this one dict)."""
    jobs: JobRunner
    starter: JobStarter
    connector: Connector
    """Opens a host; every job and read opens a connection of its own."""
    ui: Ui
    pollers: dict[str, HostPoller]
    """One per host, started and stopped by `HostWatch`; jobs that changed a domain ask its poller."""


class Controller:
    """A controller's handles on the parts (the same objects for all of them)."""

    def __init__(self, parts: Parts) -> None:
        self.fleet = parts.fleet
        self.entries = parts.entries
        self.jobs = parts.jobs
        self.starter = parts.starter
        self.connector = parts.connector
        self.ui = parts.ui
        self.pollers = parts.pollers
