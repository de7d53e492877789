"""The Textual app: it mounts, composes the TUI's parts and routes each message to the part it is for.

The parts live in `vmtui.tui`: `Fleet` (the state), `JobStarter` (every action's job), and the
controllers `HostWatch` (pollers and their reports, adding and removing hosts), `DomainActions`
(the domain screen, lifecycle keys), `DomainTools` (console, XML, snapshots), `ResourceScreens`
(devices, SR-IOV, storage, networks), `MemoryTools` (balloons, KSM) and `MigrateFlow`. All libvirt
work happens on poller threads and job threads; this module only reacts to messages on Textual's event
loop. Screens post requests up (`messages.ActionRequested`, ...) and read the fleet state handed to
them; none imports this module.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.notifications import SeverityLevel
from textual.system_commands import SystemCommandsProvider

from vmtui import config
from vmtui.models import HostEntry
from vmtui.monitor.poller import Connector, HostPoller, open_host
from vmtui.present import one_line
from vmtui.screens.help import HelpModal
from vmtui.screens.host import HostScreen
from vmtui.screens.memory import KsmHistory
from vmtui.screens.notifications import NotificationsScreen
from vmtui.settings.load import Settings
from vmtui.tui.actions import JobStarter
from vmtui.tui.bulk import BulkActions
from vmtui.tui.command_line import CommandLine
from vmtui.tui.create import Creations
from vmtui.tui.domains import DomainActions
from vmtui.tui.drain import Drains
from vmtui.tui.fleet import Fleet
from vmtui.tui.hosts import HostWatch
from vmtui.tui.jobs import JobRunner
from vmtui.tui.memory import MemoryTools
from vmtui.tui.messages import (
    ActionRequested,
    BalloonPolicyStepRequested,
    BalloonRequested,
    BulkActionRequested,
    ConsoleRequested,
    CreateAbortRequested,
    CreateRequested,
    DataFetched,
    DevicesOpenRequested,
    DomainOpenRequested,
    DrainAbortRequested,
    EditRequested,
    FetchRequested,
    HostDrainRequested,
    HostRemoveRequested,
    JobFinished,
    JobProgressed,
    KsmFailed,
    KsmSampled,
    MemoryOpenRequested,
    MigrateRequested,
    MigrationAbortRequested,
    MonitorReported,
    OperationRequested,
    ResourcesOpenRequested,
    SnapshotActionRequested,
    SriovOpenRequested,
    XmlRequested,
)
from vmtui.tui.migrate_flow import MigrateFlow
from vmtui.tui.migrations import Migrations
from vmtui.tui.notes import NotificationLog
from vmtui.tui.palette import DomainCommands
from vmtui.tui.parts import Parts
from vmtui.tui.plugins import Plugins
from vmtui.tui.resources import ResourceScreens
from vmtui.tui.tools import DomainTools
from vmtui.tui.ui import Ui
from vmtui.tui.usersettings import apply_keys, check_settings, restore_keys
from vmtui.widgets.domain_table import DomainTable

TITLE_LIMIT = 60
"""Characters of a notification's title (a host name, "refused"): the toast's first line."""

log = logging.getLogger("vmtui.app")


class VmtuiApp(App[None]):
    """The fleet dashboard: its parts composed, its messages routed to them."""

    CSS_PATH = "app.tcss"
    TITLE = "vmtui"
    SUB_TITLE = "KVM/QEMU fleet"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {SystemCommandsProvider, DomainCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        # Ctrl-C quits at once, as in every terminal program (Textual's default only says how to quit).
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+n", "notifications", "Notifications", show=False),
        # On every screen (a modal's keys stop at the modal): the `:` command line.
        Binding("colon", "command_line", "Command", show=False),
    ]

    def __init__(
        self,
        entries: Sequence[HostEntry] = (),
        *,
        interval: float = 1.0,
        connector: Connector = open_host,
        backoff: tuple[float, float] = (1.0, 30.0),
        clock: Callable[[], float] = time.time,
        settings: Settings | None = None,
    ) -> None:
        """Args:
        entries: hosts to watch: libvirt URIs, or the hosts of a recording (`replay.replay_entries`).
        interval: seconds between polls (and between a recording's samples).
        connector: opens a host; jobs use it too, each with its own connection.
        backoff: first and maximum reconnect delay in seconds.
        clock: time.time stand-in, so tests can freeze what the hosts pane shows.
        settings: the user's config file (config.toml: aliases, keys, plugins and the thresholds that colour
            figures), already checked (`vmtui.tui.usersettings.check_settings`).
        """
        super().__init__()
        settings = settings or Settings()
        # The user's keys go on the screens' classes before any screen is made (instances copy them).
        plan = check_settings(settings, type(self))
        apply_keys(plan)
        self.key_changes = plan.changes
        """The user's keys, for `?`: a command's name -> (the shipped key, the user's)."""
        self.command_line = CommandLine(self, settings.aliases)
        self.notes = NotificationLog()
        """Every notification, whole (`notify` adds it; `ctrl+n` shows them)."""
        self.entries = {e.name: e for e in entries}
        """The hosts watched, by name: shared with every part (adding and removing a host edits it)."""
        self.interval = interval
        self.fleet = Fleet(
            [(e.name, e.read_only) for e in entries], interval=interval, clock=clock, thresholds=settings.thresholds
        )
        for entry in entries:
            self.fleet.hosts[entry.name].maintenance = entry.maintenance
            self.fleet.hosts[entry.name].colour = entry.colour
        self.host_screen = HostScreen(self.fleet, clock)
        self.ui = ui = Ui(self, self.fleet, self.host_screen)
        """What the parts may do to the app (say, show screens, redraw)."""
        self.jobs = JobRunner(self)
        pollers: dict[str, HostPoller] = {}
        self.starter = JobStarter(self.jobs, self.fleet, connector, ui, pollers)
        parts = Parts(self.fleet, self.entries, self.jobs, self.starter, connector, ui, pollers)
        self.migrations = Migrations(parts)
        self.hosts = HostWatch(parts, self.migrations, backoff=backoff, report=self.post_message)
        self.domains = DomainActions(parts)
        self.bulk = BulkActions(parts)
        self.tools = DomainTools(parts)
        self.resources = ResourceScreens(parts)
        self.memory = MemoryTools(parts)
        self.migrate_flow = MigrateFlow(parts, self.migrations)
        self.drains = Drains(parts, self.migrations)
        self.creations = Creations(parts)
        self.user_plugins = Plugins(parts, settings.plugins)

    # ----- life cycle ---------------------------------------------------------------------------

    def _fatal_error(self) -> None:
        """An unhandled error: Textual would print a full traceback with locals when it exits.

        vmtui's rule is one line for the user and the traceback in the log file. This overrides
        Textual's private hook because it has no public one; `_handle_exception` (which calls it)
        still records the error, so `run_test` re-raises it in tests.
        """
        error = sys.exc_info()[1]
        log.error("unhandled error in the TUI", exc_info=error)
        self.panic(f"vmtui: internal error: {error!r} (traceback in {config.paths().log_file})")

    def get_default_screen(self) -> HostScreen:
        return self.host_screen

    def on_mount(self) -> None:
        self.hosts.start()
        self.set_interval(self.interval, self._tick)
        self.host_screen.show_hosts()

    def on_unmount(self) -> None:
        # Daemon threads: a poller or job stuck in a libvirt call on a dead host never holds the exit.
        self.hosts.stop()
        self.memory.stop()
        restore_keys()
        for job in self.jobs.jobs.values():
            job.cancel.set()

    def _tick(self) -> None:
        self.hosts.tick(headless=self.is_headless)

    # ----- what the tests and the palette read ------------------------------------------------------

    @property
    def pollers(self) -> dict[str, HostPoller]:
        return self.hosts.pollers

    @property
    def ksm_history(self) -> dict[str, KsmHistory]:
        return self.memory.ksm_history

    def selected_uuid(self) -> str | None:
        return self.ui.selected_uuid()

    def can_add_hosts(self) -> bool:
        return self.hosts.can_add()

    # ----- keys of the app ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "add_host":
            return self.can_add_hosts()
        return True

    def action_add_host(self) -> None:
        self.hosts.add()

    def action_plugin(self, name: str) -> None:
        self.user_plugins.run(name)

    def action_command_line(self) -> None:
        self.command_line.open()

    def action_notifications(self) -> None:
        if not isinstance(self.screen, NotificationsScreen):
            self.push_screen(NotificationsScreen(self.notes))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification goes to the log whole; a literal one (hosts' words) is shown on one line,
        cut at a word boundary, its title at `TITLE_LIMIT` characters."""
        self.notes.add(severity, title, message)
        if not markup:
            message, title = one_line(message, whole_words=True), one_line(title, TITLE_LIMIT, whole_words=True)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpModal):
            self.push_screen(HelpModal(self.screen, changed=self.key_changes))

    # ----- routes: each message to its part -------------------------------------------------------------

    def on_monitor_reported(self, message: MonitorReported) -> None:
        self.hosts.reported(message)

    def on_domain_table_focus_changed(self, message: DomainTable.FocusChanged) -> None:
        self.hosts.focus_changed(message.uuids)

    def on_host_remove_requested(self, message: HostRemoveRequested) -> None:
        self.hosts.remove_requested(message)

    def on_domain_open_requested(self, message: DomainOpenRequested) -> None:
        self.domains.open(message)

    def on_action_requested(self, message: ActionRequested) -> None:
        self.domains.action(message)

    def on_bulk_action_requested(self, message: BulkActionRequested) -> None:
        self.bulk.act(message)

    def on_console_requested(self, message: ConsoleRequested) -> None:
        self.tools.console(message)

    def on_xml_requested(self, message: XmlRequested) -> None:
        self.tools.xml(message)

    def on_edit_requested(self, message: EditRequested) -> None:
        self.tools.edit(message)

    def on_snapshot_action_requested(self, message: SnapshotActionRequested) -> None:
        self.tools.snapshot(message)

    def on_devices_open_requested(self, message: DevicesOpenRequested) -> None:
        self.resources.open_devices(message)

    def on_sriov_open_requested(self, message: SriovOpenRequested) -> None:
        self.resources.open_sriov(message)

    def on_resources_open_requested(self, message: ResourcesOpenRequested) -> None:
        self.resources.open_resources(message)

    def on_fetch_requested(self, message: FetchRequested) -> None:
        self.resources.fetch(message)

    def on_data_fetched(self, message: DataFetched) -> None:
        self.resources.fetched(message)

    def on_operation_requested(self, message: OperationRequested) -> None:
        self.resources.operation(message)

    def on_memory_open_requested(self, message: MemoryOpenRequested) -> None:
        self.memory.open(message)

    def on_ksm_sampled(self, message: KsmSampled) -> None:
        self.memory.ksm_sampled(message)

    def on_ksm_failed(self, message: KsmFailed) -> None:
        self.memory.ksm_failed(message)

    def on_balloon_requested(self, message: BalloonRequested) -> None:
        self.memory.balloon(message)

    def on_balloon_policy_step_requested(self, message: BalloonPolicyStepRequested) -> None:
        self.memory.policy_step(message)

    def on_migrate_requested(self, message: MigrateRequested) -> None:
        self.migrate_flow.requested(message)

    def on_migration_abort_requested(self, message: MigrationAbortRequested) -> None:
        self.migrate_flow.abort(message)

    def on_host_drain_requested(self, message: HostDrainRequested) -> None:
        self.drains.requested(message)

    def on_drain_abort_requested(self, message: DrainAbortRequested) -> None:
        self.drains.abort(message)

    def on_create_requested(self, message: CreateRequested) -> None:
        self.creations.requested(message)

    def on_create_abort_requested(self, message: CreateAbortRequested) -> None:
        self.creations.abort(message)

    def on_job_progressed(self, message: JobProgressed) -> None:
        self.starter.progressed(self.jobs.progressed(message.job_id, message.step), message.step)
        self.migrate_flow.progressed(message)
        self.drains.progressed(message)
        self.creations.progressed(message)

    def on_job_finished(self, message: JobFinished) -> None:
        self.jobs.finished(message.job_id)
        if not self.migrate_flow.finished(message):
            self.starter.finished(message)


def launch(entries: Sequence[HostEntry], settings: Settings | None = None) -> None:
    """Entry point of `vmtui` without a subcommand: run the app until the user quits."""
    VmtuiApp(entries, settings=settings).run()
