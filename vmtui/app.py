"""The Textual app: one poller per host, their reports into the fleet state, requests into jobs.

All libvirt work happens on poller threads and job workers (see `vmtui.monitor.poller` and
`vmtui.jobs`); this module only reacts to messages on Textual's event loop. Screens post requests up
(`messages.ActionRequested`, ...) and read the fleet state handed to them; none imports this module.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.notifications import SeverityLevel
from textual.system_commands import SystemCommandsProvider
from textual.worker import get_current_worker

from vmtui import config
from vmtui.app_tools import After, DomainTools
from vmtui.errors import NotFoundError, UsageError, VmtuiError
from vmtui.fleet import Fleet
from vmtui.jobs import JobRunner
from vmtui.messages import (
    ActionRequested,
    BalloonPolicyStepRequested,
    BalloonRequested,
    DataFetched,
    DevicesOpenRequested,
    DomainOpenRequested,
    FetchRequested,
    HostRemoveRequested,
    JobFinished,
    JobProgressed,
    KsmSampled,
    MemoryOpenRequested,
    MonitorReported,
    OperationRequested,
    ResourcesOpenRequested,
    SriovOpenRequested,
)
from vmtui.models import HostEntry
from vmtui.monitor.events import DomainChanged, HostConnected, HostDisconnected, HostSampled, SourceEnded
from vmtui.monitor.poller import Connector, HostPoller, open_host
from vmtui.ops import ksm, lifecycle, memory
from vmtui.ops.balloon_policy import BalloonKnobs
from vmtui.ops.base import Progress
from vmtui.palette import DomainCommands
from vmtui.present import one_line, size_kib
from vmtui.screens.add_host import AddHostModal
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.devices import DevicesScreen
from vmtui.screens.domain import DomainScreen
from vmtui.screens.fetching import FetchingScreen
from vmtui.screens.help import HelpModal
from vmtui.screens.host import HostScreen
from vmtui.screens.memory import KSM_POINTS, KsmHistory, KsmPoint, MemoryScreen
from vmtui.screens.networks import NetworksScreen
from vmtui.screens.sriov import SriovScreen
from vmtui.screens.storage import StorageScreen

log = logging.getLogger("vmtui.app")


class VmtuiApp(DomainTools):
    """The fleet dashboard (with the console, XML and snapshot tools of `DomainTools`)."""

    # Absolute, so that subclasses defined elsewhere (the benchmark's naive variant) find it too.
    CSS_PATH = Path(__file__).with_name("app.tcss")
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
        self.jobs = JobRunner(self)
        self._after: dict[int, After] = {}
        """Job ID -> what to do on the loop when it ends (the tools' follow-ups)."""
        self.sources_ended: dict[str, int] = {}
        """Hosts of a recording that played out, with their sample counts."""
        self._keys_for: tuple[str, str | None, str | None] | None = None
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
        poller.start()

    def on_unmount(self) -> None:
        # Daemon threads: a poller or job stuck in a libvirt call on a dead host never holds the exit.
        for poller in self.pollers.values():
            poller.cancel()
        for job in self.jobs.jobs.values():
            job.cancel.set()

    def _tick(self) -> None:
        for poller in self.pollers.values():
            poller.schedule_update()
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

    @property
    def replay_done(self) -> bool:
        """Every watched host was a recording, and all of them have played out."""
        return bool(self.fleet.hosts) and set(self.sources_ended) == set(self.fleet.hosts)

    def _refresh_keys(self) -> None:
        """Re-evaluate which action keys apply, only when the selected domain's state changed.

        `refresh_bindings` rebuilds the Footer; doing it every tick cost more than the whole table.
        """
        uuid = self.selected_uuid()
        state = (self.fleet.pending.get(uuid) or self.fleet.state_of(uuid)) if uuid else None
        key = (type(self.screen).__name__, uuid, state)
        if key != self._keys_for:
            self._keys_for = key
            self.screen.refresh_bindings()

    # ----- hosts: add and remove, as `vmtui hosts add` / `hosts rm` ---------------------------------

    def can_add_hosts(self) -> bool:
        """A dashboard of recordings only is a replay: no live hosts to add."""
        return not self.fleet.hosts or not all(v.recorded for v in self.fleet.hosts.values())

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

    def on_domain_open_requested(self, message: DomainOpenRequested) -> None:
        if self.fleet.find(message.uuid) is None:
            self.say("that domain is gone", severity="warning")
            return
        if isinstance(self.screen, DomainScreen):
            self.pop_screen()
        self.push_screen(DomainScreen(message.uuid, self.fleet))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpModal):
            self.push_screen(HelpModal())

    def on_action_requested(self, message: ActionRequested) -> None:
        """Check, confirm if destructive, then run the action as a job with its own connection."""
        uuid, action = message.uuid, message.action
        spec = lifecycle.BY_KEY.get(action)
        found = self.fleet.find(uuid)
        if spec is None or found is None:
            self.say("no such domain or action", severity="warning")
            return
        view = found[0]
        name = self.fleet.name_of(uuid)
        why = self.fleet.action_refusal(uuid, action)
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
        why = self.fleet.action_refusal(uuid, spec.key)
        if why is not None:
            self.say(f"{spec.label} {name}: {why}", title="refused", severity="error")
            return

        def operation(progress: Progress, cancel: threading.Event) -> object:
            with self.connector(entry) as conn:
                return lifecycle.run(conn, uuid, spec.key, progress=progress, cancel=cancel)

        if self.jobs.start(entry.name, uuid, f"{spec.label} {name}", operation) is not None:
            self.fleet.pending[uuid] = spec.pending
            self.host_screen.update_rows(entry.name)
            self._refresh_keys()

    def on_job_progressed(self, message: JobProgressed) -> None:
        self.jobs.progressed(message.job_id, message.step)

    def on_job_finished(self, message: JobFinished) -> None:
        self.jobs.finished(message.job_id)
        if message.uuid is not None:
            self.fleet.pending.pop(message.uuid, None)
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

    # ----- devices, SR-IOV, storage, networks, guest facts: changes as jobs, data fetched off the loop ----

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
        why = self.fleet.write_refusal(view)
        if why is None and message.uuid is not None and message.uuid in self.fleet.pending:
            why = f"{self.fleet.pending[message.uuid]} still running"
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
            self.fleet.pending[message.uuid] = message.pending
            self.host_screen.update_rows(entry.name)
            self._refresh_keys()

    # ----- memory: balloons, the policy, KSM (see screens/memory.py) ----------------------------------

    def on_memory_open_requested(self, message: MemoryOpenRequested) -> None:
        host = message.host
        entry = self.entries.get(host)
        if entry is None or host not in self.fleet.hosts:
            return
        if self.fleet.hosts[host].recorded:
            self.say("a replay has no live host: memory needs a libvirt connection", severity="warning")
            return
        history = self.ksm_history.setdefault(host, deque(maxlen=KSM_POINTS))
        self.push_screen(MemoryScreen(host, self.fleet, history, ask=self.push_screen))
        # KSM is read by a worker while the screen is open, never on this loop (it may take an SSH trip).
        self.run_worker(
            partial(self._watch_ksm, entry),
            name=f"ksm {host}",
            group=f"ksm:{host}",
            exclusive=True,
            thread=True,
            exit_on_error=False,
        )

    def _memory_screen_open(self, host: str) -> bool:
        return any(isinstance(s, MemoryScreen) and s.host == host for s in self.screen_stack)

    def _watch_ksm(self, entry: HostEntry) -> None:
        """Worker thread: read KSM every 2 s while the host's memory screen is open."""
        worker = get_current_worker()
        prev = None
        try:
            with self.connector(entry) as conn:
                host = memory.memory_host(conn)
                while not worker.is_cancelled and self.is_running:
                    status = ksm.read_status(host, entry.name, interval=0)
                    self.post_message(KsmSampled(entry.name, status, ksm.ksmd_cpu_between(prev, status)))
                    prev = status
                    time.sleep(KSM_EVERY)
                    if not self._memory_screen_open(entry.name):
                        return
        except VmtuiError as exc:
            if self.is_running:  # a host that cannot be read: said once; the screen shows what it has
                self.call_from_thread(self.say, f"KSM on {entry.name}: {exc}", severity="warning")

    def on_ksm_sampled(self, message: KsmSampled) -> None:
        history = self.ksm_history.setdefault(message.host, deque(maxlen=KSM_POINTS))
        history.append(KsmPoint(message.status, message.cpu_pct))
        screen = self.screen
        if isinstance(screen, MemoryScreen) and screen.host == message.host:
            screen.show_ksm()

    def on_balloon_requested(self, message: BalloonRequested) -> None:
        uuid, kib = message.uuid, message.size_kib
        found = self.fleet.find(uuid)
        if found is None:
            self.say("that domain is gone", severity="warning")
            return
        view = found[0]
        name = self.fleet.name_of(uuid)
        why = self.fleet.write_refusal(view) or (
            f"{self.fleet.pending[uuid]} still running" if uuid in self.fleet.pending else None
        )
        entry = self.entries.get(view.name)
        if why is not None or entry is None:
            self.say(f"balloon {name}: {why or 'unknown host'}", title="refused", severity="error")
            return

        def operation(progress: Progress, cancel: threading.Event) -> object:
            with self.connector(entry) as conn:
                return memory.set_balloon(memory.memory_host(conn), uuid, kib, progress=progress, cancel=cancel)

        if self.jobs.start(entry.name, uuid, f"Balloon {name} to {size_kib(kib)}", operation) is not None:
            self.fleet.pending[uuid] = "ballooning…"
            self.host_screen.update_rows(entry.name)

    def on_balloon_policy_step_requested(self, message: BalloonPolicyStepRequested) -> None:
        view = self.fleet.hosts.get(message.host)
        entry = self.entries.get(message.host)
        why = self.fleet.write_refusal(view) if view is not None else "not watched"
        if why is not None or entry is None:
            self.say(f"balloon policy on {message.host}: {why}", title="refused", severity="error")
            return

        def answered(ok: bool | None) -> None:
            if not ok:
                return

            def operation(progress: Progress, cancel: threading.Event) -> object:
                with self.connector(entry) as conn:
                    return memory.apply_policy(
                        memory.memory_host(conn), BalloonKnobs(), interval=0, count=1, progress=progress, cancel=cancel
                    )

            self.jobs.start(entry.name, None, f"Balloon policy step on {entry.name}", operation)

        detail = "Each guest in the plan moves at most 100 MiB; guests without a driver are left alone."
        self.push_screen(
            ConfirmModal(f"Apply one step of the balloon plan on {message.host}?", detail=detail), answered
        )


KSM_EVERY = 2.0
"""Seconds between KSM readings while a memory screen is open."""


def launch(entries: Sequence[HostEntry]) -> None:
    """Entry point of `vmtui` without a subcommand: run the app until the user quits."""
    VmtuiApp(entries).run()
