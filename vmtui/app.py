"""The Textual app: one poller per host, their reports into the fleet state, requests into jobs.

All libvirt work happens on poller threads and job workers (see `vmtui.monitor.poller` and
`vmtui.tui.jobs`); this module only reacts to messages on Textual's event loop. Screens post requests up
(`messages.ActionRequested`, ...) and read the fleet state handed to them; none imports this module.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.notifications import SeverityLevel
from textual.system_commands import SystemCommandsProvider

from vmtui import config
from vmtui.app_memory import MemoryTools
from vmtui.app_screens import ScreenOperations
from vmtui.app_tools import After, DomainTools
from vmtui.errors import NotFoundError, UsageError, VmtuiError
from vmtui.models import HostEntry
from vmtui.monitor.events import DomainChanged, HostConnected, HostDisconnected, HostSampled, SourceEnded
from vmtui.monitor.poller import Connector, HostPoller, open_host
from vmtui.ops import lifecycle
from vmtui.ops.base import Progress
from vmtui.present import one_line
from vmtui.screens.add_host import AddHostModal
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.devices import DevicesScreen
from vmtui.screens.domain import DomainScreen
from vmtui.screens.fetching import FetchingScreen
from vmtui.screens.help import HelpModal
from vmtui.screens.host import HostScreen
from vmtui.screens.memory import KsmHistory, MemoryScreen
from vmtui.screens.migrate import MigrateChoice, MigrateModal, MigrationScreen
from vmtui.tui.fleet import Fleet
from vmtui.tui.jobs import JobRunner
from vmtui.tui.messages import (
    ActionRequested,
    DomainOpenRequested,
    HostRemoveRequested,
    JobFinished,
    JobProgressed,
    MigrateRequested,
    MigrationAbortRequested,
    MonitorReported,
)
from vmtui.tui.migrations import Migrations
from vmtui.tui.palette import DomainCommands
from vmtui.widgets.domain_table import DomainTable

log = logging.getLogger("vmtui.app")

FREEZE_AFTER_TICKS = 5
"""Start-up is over (hosts connected, their first full rounds drawn): see VmtuiApp._tick."""


class VmtuiApp(DomainTools, ScreenOperations, MemoryTools):
    """The fleet dashboard, with the domain tools (console, XML, snapshots), the screens of devices,
    SR-IOV, storage and networks, and the memory screen, each in a mixin of its own."""

    CSS_PATH = "app.tcss"
    TITLE = "vmtui"
    SUB_TITLE = "KVM/QEMU fleet"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {SystemCommandsProvider, DomainCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        # Ctrl-C quits at once, as in every terminal program (Textual's default only says how to quit).
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(
        self,
        entries: Sequence[HostEntry] = (),
        *,
        interval: float = 1.0,
        connector: Connector = open_host,
        backoff: tuple[float, float] = (1.0, 30.0),
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Args:
        entries: hosts to watch: libvirt URIs, or the hosts of a recording (`replay.replay_entries`).
        interval: seconds between polls (and between a recording's samples).
        connector: opens a host; jobs use it too, each with its own connection.
        backoff: first and maximum reconnect delay in seconds.
        clock: time.time stand-in, so tests can freeze what the hosts pane shows.
        """
        super().__init__()
        self.entries = {e.name: e for e in entries}
        self.interval = interval
        self.connector = connector
        self.clock = clock
        self._backoff = backoff
        self.fleet = Fleet([(e.name, e.read_only) for e in entries], interval=interval, clock=clock)
        self.pollers: dict[str, HostPoller] = {}
        self._focus: frozenset[str] | None = None
        """The table's rows on screen (DomainTable.FocusChanged); None until it says: poll everything."""
        self.jobs = JobRunner(self)
        self._after: dict[int, After] = {}
        """Job ID -> what to do on the loop when it ends (the tools' follow-ups)."""
        self.migrations = Migrations(self.jobs, self.fleet, self.entries, connector)
        self._picker: tuple[int, MigrateModal] | None = None
        """The precheck job feeding the open target picker."""
        self.sources_ended: dict[str, int] = {}
        """Hosts of a recording that played out, with their sample counts."""
        self._keys_for: tuple[str, str | None, str | None] | None = None
        self._ticks = 0
        self.host_screen = HostScreen(self.fleet, clock)
        self.ksm_history: dict[str, KsmHistory] = {}
        """Per host, the KSM readings of the memory screen's worker (the pollers do not read KSM)."""

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
        for entry in self.entries.values():
            self._watch(entry)
        self.set_interval(self.interval, self._tick)
        self.host_screen.show_hosts()

    def _watch(self, entry: HostEntry) -> None:
        first, cap = self._backoff

        def report(event: object) -> None:
            self.post_message(MonitorReported(event))  # type: ignore[arg-type]

        poller = HostPoller(entry, report, connector=self.connector, backoff_first=first, backoff_max=cap)
        self.pollers[entry.name] = poller
        poller.set_focus(self._focus)
        poller.start()

    def on_unmount(self) -> None:
        # Daemon threads: a poller or job stuck in a libvirt call on a dead host never holds the exit.
        for poller in self.pollers.values():
            poller.cancel()
        for job in self.jobs.jobs.values():
            job.cancel.set()

    def _tick(self) -> None:
        self._apply_focus()  # cheap: compares frozensets, and only a domain screen makes a new one
        for poller in self.pollers.values():
            poller.schedule_update()
        self._ticks += 1
        if self._ticks == FREEZE_AFTER_TICKS and not self.is_headless:
            # What exists now (Textual's widgets and styles, the fleet's rows) lives as long as the app.
            # Frozen, the cyclic GC stops re-scanning it: each slow round allocates thousands of short-
            # lived objects, and the full collections they trigger were ~0.15 % of a core at 1000
            # domains (bench/README.md). Reference counting still frees everything as before.
            gc.freeze()
        # Countdowns ("retrying in N s") and sample ages ("last sample 7 s ago") move without samples.
        if any(v.status != "connected" or self.fleet.sample_age(v) is not None for v in self.fleet.hosts.values()):
            self.host_screen.show_hosts()
            for name in self.fleet.hosts:
                self.host_screen.update_rows(name)

    def say(self, message: str, *, title: str = "", severity: SeverityLevel = "information") -> None:
        """A notification, one line, shown literally (names and libvirt's words are never markup)."""
        self.notify(one_line(message), title=one_line(title, 60), severity=severity, markup=False)

    # ----- reports from the pollers ---------------------------------------------------------------

    def on_monitor_reported(self, message: MonitorReported) -> None:
        # Dropped after the app began to quit (the screens are gone) or from a host no longer watched
        # (a removed host's poller may still have a sample in the queue: it must not bring it back).
        if not self.is_running or message.host not in self.fleet.hosts:
            return
        event = message.event
        view = self.fleet.host(event.host)
        match event:
            case HostConnected():
                view.info = event.info
                view.status = "connected"
                if event.reconnected:
                    self.say(f"{event.host}: reconnected", title="host back")
                if event.info.source != "recording":
                    # A vmtui that died may have left a migration running here: find it, watch it.
                    self.migrations.start_scan(event.host)
            case HostSampled():
                self.fleet.sampled(event.host, event.tick, event.domains)
                self.host_screen.update_rows(event.host)
                screen = self.screen
                if isinstance(screen, (DomainScreen, DevicesScreen)) and screen.uuid in view.domains:
                    screen.refresh_data()
                elif isinstance(screen, MemoryScreen) and screen.host == event.host:
                    screen.refresh_data()
                self._refresh_keys()
            case HostDisconnected():
                was = view.status
                view.status, view.reason = "disconnected", event.reason
                view.down_since, view.retry_at = event.since, event.retry_at
                if was != "disconnected":
                    # One notification per state change, never one per retry.
                    self.say(
                        f"{event.host}: {event.reason}; retrying with backoff", title="host lost", severity="warning"
                    )
                    self.host_screen.update_rows(event.host)
                    if isinstance(self.screen, DomainScreen):
                        self.screen.refresh_data()
            case DomainChanged():
                log.info("%s: domain %s %s (%d)", event.host, event.uuid, event.event, event.detail)
                if event.event == "incoming":
                    self.fleet.incoming_on(event.host, event.uuid)
                    for name in self.fleet.hosts:
                        self.host_screen.update_rows(name)
                if event.event == "migration-iteration" and not self.jobs.busy(event.uuid):
                    # A migration another tool started: watch it, so it shows (and refuses actions) until it ends.
                    self.migrations.start_watch(event.host, event.uuid)
                if self.fleet.domain_event(event.uuid, event.event, event.wall):
                    self.host_screen.update_rows(event.host)
                    if isinstance(self.screen, DomainScreen) and self.screen.uuid == event.uuid:
                        self.screen.refresh_data()
                    self._refresh_keys()
            case SourceEnded():
                view.status = "ended"
                self.sources_ended[event.host] = event.samples
                if set(self.sources_ended) == set(self.fleet.hosts):
                    self.sub_title = f"replay finished ({max(self.sources_ended.values())} samples)"
        self.host_screen.show_hosts()

    def _refresh_keys(self) -> None:
        """Re-evaluate which action keys apply, only when the selected domain's state changed.

        `refresh_bindings` rebuilds the Footer; doing it every tick cost more than the whole table.
        """
        uuid = self.selected_uuid()
        state = self.fleet.shown_state(uuid) if uuid else None
        key = (type(self.screen).__name__, uuid, state)
        if key != self._keys_for:
            self._keys_for = key
            self.screen.refresh_bindings()

    # ----- hosts: add and remove, as `vmtui hosts add` / `hosts rm` ---------------------------------

    def can_add_hosts(self) -> bool:
        return self.fleet.add_host_refusal() is None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "add_host":
            return self.can_add_hosts()
        return True

    def action_add_host(self) -> None:
        self.push_screen(AddHostModal(self._save_host), self._host_added)

    def _save_host(self, entry: HostEntry) -> None:
        """Validate and save (raises VmtuiError, which the dialog shows); a local file write, no libvirt."""
        if entry.name in self.fleet.hosts:
            raise UsageError(f"{entry.name!r} is already on the dashboard")
        config.HostStore().add(entry)

    def _host_added(self, entry: HostEntry | None) -> None:
        if entry is None:
            return
        self.entries[entry.name] = entry
        self.fleet.add_host(entry.name, entry.read_only)
        self._watch(entry)
        self.host_screen.show_hosts()
        self.say(f"saved {entry.name} ({entry.uri}); connecting", title="host added")

    def on_host_remove_requested(self, message: HostRemoveRequested) -> None:
        name = message.name
        if name not in self.fleet.hosts or not self.can_add_hosts():
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self._remove_host(name)

        detail = "Its guests are not touched: vmtui stops watching it and forgets it in hosts.toml."
        self.push_screen(ConfirmModal(f"Remove host {name}?", detail=detail), answered)

    def _remove_host(self, name: str) -> None:
        try:
            config.HostStore().remove(name)
        except NotFoundError:
            pass  # opened with -c for this session only: nothing saved to forget
        except VmtuiError as exc:
            self.say(f"remove {name}: {exc}", severity="error")
            return
        poller = self.pollers.pop(name, None)
        if poller is not None:
            poller.cancel()  # a daemon thread: it ends after its current call, without holding the UI
        self.entries.pop(name, None)
        self.fleet.remove_host(name)
        self.host_screen.update_rows(name)
        if isinstance(self.screen, DomainScreen) and self.fleet.find(self.screen.uuid) is None:
            self.pop_screen()
        self.host_screen.show_hosts()
        self.say(f"{name} removed", title="host removed")

    # ----- domains and actions ----------------------------------------------------------------------

    def selected_uuid(self) -> str | None:
        screen = self.screen
        if isinstance(screen, (HostScreen, DomainScreen)):
            return screen.selected_uuid()
        return self.host_screen.selected_uuid()

    def on_domain_table_focus_changed(self, message: DomainTable.FocusChanged) -> None:
        # The table's rows on screen and sort leaders: each poller samples those every tick, the rest every
        # SLOW_ROUND-th (the frozenset is immutable, so handing one object to every thread is safe).
        self._focus = message.uuids
        self._apply_focus()

    def _apply_focus(self) -> None:
        """The table's focus, plus the domain a domain or devices screen shows (it may be off the table)."""
        if not self.screen_stack:
            return  # the app is closing: a last FocusChanged can arrive after its screens are gone
        focus = self._focus
        screen = self.screen
        if focus is not None and isinstance(screen, (DomainScreen, DevicesScreen)) and screen.uuid not in focus:
            focus = focus | {screen.uuid}
        for poller in self.pollers.values():
            if poller.focus != focus:
                poller.set_focus(focus)

    def on_domain_open_requested(self, message: DomainOpenRequested) -> None:
        if self.fleet.find(message.uuid) is None:
            self.say("that domain is gone", severity="warning")
            return
        if isinstance(self.screen, DomainScreen):
            self.pop_screen()
        self.push_screen(DomainScreen(message.uuid, self.fleet, host=message.host))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpModal):
            self.push_screen(HelpModal())

    def on_action_requested(self, message: ActionRequested) -> None:
        """Check, confirm if destructive, then run the action as a job with its own connection."""
        uuid, action = message.uuid, message.action
        spec = lifecycle.BY_KEY.get(action)
        found = self.fleet.find(uuid, message.host)
        if spec is None or found is None:
            self.say("no such domain or action", severity="warning")
            return
        view = found[0]
        name = self.fleet.name_of(uuid)
        why = self.fleet.action_refusal(uuid, action, view.name)
        if why is not None:
            # Refused here, before any libvirt call.
            self.say(f"{spec.label} {name}: {why}", title="refused", severity="error")
            return
        entry = self.entries.get(view.name)
        if entry is None:
            return
        if not spec.destructive:
            self._start_action(entry, uuid, name, spec)
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self._start_action(entry, uuid, name, spec)

        question = lifecycle.question(spec, name, view.name)
        self.push_screen(ConfirmModal(question, detail="The guest is stopped or restarted."), answered)

    def _start_action(self, entry: HostEntry, uuid: str, name: str, spec: lifecycle.LifecycleAction) -> None:
        # The state may have changed while the question was open: ask the rules again.
        why = self.fleet.action_refusal(uuid, spec.key, entry.name)
        if why is not None:
            self.say(f"{spec.label} {name}: {why}", title="refused", severity="error")
            return

        # The other watched (and saved) hosts are asked whether this UUID already runs there.
        peers = lifecycle.peer_hosts(entry, self.entries.values())

        def operation(progress: Progress, cancel: threading.Event) -> object:
            with self.connector(entry) as conn:
                return lifecycle.run(
                    conn, uuid, spec.key, peers=peers, connector=self.connector, progress=progress, cancel=cancel
                )

        if self.jobs.start(entry.name, uuid, f"{spec.label} {name}", operation) is not None:
            self.fleet.begin(uuid, spec.pending)
            self.host_screen.update_rows(entry.name)
            self._refresh_keys()

    # ----- migration: the target picker, the progress view, jobs found in flight -------------------------

    def on_migrate_requested(self, message: MigrateRequested) -> None:
        uuid = message.uuid
        running = self.migrations.job_for(uuid)
        if running is not None:
            self._show_migration(running.job_id)
            return
        name = self.fleet.name_of(uuid)
        why = self.migrations.refusal(uuid)
        found = self.fleet.find(uuid)
        if why is not None or found is None:
            self.say(f"Migrate {name}: {why}", title="refused", severity="error")
            return
        source = found[0].name
        modal = MigrateModal(name, source, self.migrations.candidates(source))
        job = self.migrations.start_prechecks(uuid)
        if job is not None:
            self._picker = (job.job_id, modal)

        def chosen(choice: MigrateChoice | None) -> None:
            self._picker = None
            if choice is not None:
                self._start_migration(uuid, choice)

        self.push_screen(modal, chosen)

    def _start_migration(self, uuid: str, choice: MigrateChoice) -> None:
        why = self.migrations.refusal(uuid)  # the state may have changed while the picker was open
        if why is not None:
            self.say(f"Migrate {self.fleet.name_of(uuid)}: {why}", title="refused", severity="error")
            return
        job = self.migrations.start_migration(uuid, choice.target, choice.options)
        if job is not None:
            self.host_screen.update_rows(job.host)
            self._refresh_keys()
            self._show_migration(job.job_id)

    def _show_migration(self, job_id: int) -> None:
        job = self.jobs.jobs.get(job_id)
        if job is not None and not isinstance(self.screen, MigrationScreen):
            self.push_screen(MigrationScreen(job_id, job.label, job.last))

    def on_migration_abort_requested(self, message: MigrationAbortRequested) -> None:
        self.jobs.cancel(message.job_id)

    def _migration_finished(self, message: JobFinished) -> bool:
        """A job of `self.migrations` ended; True when it was one (then nothing else is said about it)."""
        mig = self.migrations.finished(message.job_id)
        if mig is None:
            return False
        if mig.kind == "scan":
            for job in self.migrations.inflight(message.result):
                if job.stats.operation == "migration-out" and self.migrations.start_watch(
                    mig.host, job.uuid, job.target
                ):
                    by = "a vmtui that exited" if job.orphaned else "another tool"
                    self.say(f"{job.domain}: a migration started by {by} is running; watching it "
                             "(m shows it, a there aborts it)", title=mig.host)  # fmt: skip
            return True
        if mig.kind == "precheck":
            if not message.ok:
                self.say(f"{message.label}: {message.message}", title=mig.host, severity="error")
            return True
        self.migrations.ended(mig)
        screen = self.screen
        if isinstance(screen, MigrationScreen) and screen.job_id == message.job_id:
            screen.show_end(message.ok, message.message, message.result)
        if self.is_running:
            outcome = getattr(message.result, "message", None) or message.message
            unknown = getattr(message.result, "outcome", None) == "unknown"
            self.say(outcome, title=message.label,
                     severity="information" if message.ok else "warning" if unknown else "error")  # fmt: skip
            for host in (mig.host, mig.target):
                if host in self.pollers:
                    self.pollers[host].request_refresh(None)
                if host in self.fleet.hosts:
                    self.host_screen.update_rows(host)
            self._refresh_keys()
        return True

    def on_job_progressed(self, message: JobProgressed) -> None:
        self.jobs.progressed(message.job_id, message.step)
        if self._picker is not None and self._picker[0] == message.job_id:
            data = message.step.data
            report = data.get("report")
            if data.get("type") == "host-report" and report is not None:
                self._picker[1].show_report(str(data["host"]), report)
            return
        screen = self.screen
        if isinstance(screen, MigrationScreen) and screen.job_id == message.job_id:
            screen.show_step(message.step)

    def on_job_finished(self, message: JobFinished) -> None:
        self.jobs.finished(message.job_id)
        if self._migration_finished(message):
            return
        if message.uuid is not None:
            self.fleet.end(message.uuid)
        if not self.is_running or message.host not in self.fleet.hosts:
            self._after.pop(message.job_id, None)
            return
        after = self.finish_job(message)
        if after is None:
            summary = getattr(message.result, "summary", None)
            text = str(summary()) if callable(summary) else "done"
            if message.ok and getattr(message.result, "ok", True) is False:
                # A device change can succeed in one half and fail in the other: that is an error to see.
                self.say(f"{message.label}: {text}", title=message.host, severity="error")
            elif message.ok:
                self.say(f"{message.label}: {text}", title=message.host)
            else:
                self.say(f"{message.label}: {message.message}", title=message.host, severity="error")
        if isinstance(self.screen, FetchingScreen):
            self.screen.refetch()
        self.refresh_domain(message.host)
        poller = self.pollers.get(message.host)
        if poller is not None and (after is None or after.changes):
            poller.request_refresh(message.uuid)

    def refresh_domain(self, host: str) -> None:
        self.host_screen.update_rows(host)
        self._refresh_keys()


def launch(entries: Sequence[HostEntry]) -> None:
    """Entry point of `vmtui` without a subcommand: run the app until the user quits."""
    VmtuiApp(entries).run()
