"""The Textual app: starts one poller per host, routes their messages into the fleet state and widgets.

All libvirt work happens on poller threads and action workers (see `vmtui.poller`); this module only
reacts to messages on Textual's event loop.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial, wraps
from pathlib import Path
from typing import ClassVar, Protocol, TypeVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.system_commands import SystemCommandsProvider

from vmtui import config
from vmtui.drivers.recording import Recording
from vmtui.errors import NotFoundError, UsageError, VmtuiError
from vmtui.fleet import Fleet
from vmtui.messages import (
    ActionFinished,
    DomainEventReceived,
    HostConnected,
    HostDisconnected,
    HostSampled,
    ReplayFinished,
)
from vmtui.models import HostEntry
from vmtui.poller import Connector, HostPoller, ReplayPoller, open_host
from vmtui.screens.actions import ACTIONS, BY_KEY
from vmtui.screens.add_host import AddHostModal
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.domain import DomainScreen
from vmtui.screens.help import HelpModal
from vmtui.screens.host import HostScreen

log = logging.getLogger("vmtui.app")

EVENT_STATES = {
    "started": "running",
    "resumed": "running",
    "suspended": "paused",
    "stopped": "shut-off",
    "shutdown": "shutting-down",
    "crashed": "crashed",
    "pmsuspended": "pmsuspended",
}
"""The state a lifecycle event implies, shown at once until the re-sample it triggers arrives."""


class _FromHost(Protocol):
    host: str


M = TypeVar("M", bound=_FromHost)


def _from_watched_host(handler: Callable[[VmtuiApp, M], None]) -> Callable[[VmtuiApp, M], None]:
    """Drop a poller message handled after the app began to quit, or from a host no longer watched.

    Pollers post until the app unmounts (on_unmount stops them), but Textual removes the screens
    before that: a sample handled in between found no widgets, or no screen at all, and crashed.
    A removed host's poller may still have a sample in the queue: it must not bring the host back.
    """

    @wraps(handler)
    def handle(app: VmtuiApp, message: M) -> None:
        if app.is_running and message.host in app.fleet.hosts:
            handler(app, message)

    return handle


class DomainCommands(Provider):
    """Command palette: lifecycle actions on the selected domain, opening any domain, adding and removing hosts."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.app
        if not isinstance(app, VmtuiApp):
            return []
        out: list[tuple[str, Callable[[], object], str]] = []
        uuid = app.selected_uuid()
        found = app.fleet.find(uuid) if uuid else None
        if uuid and found:
            view, info, _m = found
            name = info.name if info else uuid
            for action in ACTIONS:
                if app.action_allowed(uuid, action.key):
                    out.append(
                        (f"{action.label} {name}", partial(app.request_action, uuid, action.key), f"on {view.name}")
                    )
        for view in app.fleet.hosts.values():
            for d in view.domains.values():
                out.append((f"Open {d.name}", partial(app.open_domain, d.uuid), f"{d.state} on {view.name}"))
        if app.recording is None:
            out.append(("Add host…", app.action_add_host, "save a libvirt URI and watch it (key a)"))
            for name in app.fleet.hosts:
                out.append((f"Remove host {name}", partial(app.request_remove_host, name), "stop watching it"))
        return out

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands()[:20]:
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, help=help_text)


class VmtuiApp(App[None]):
    """The fleet dashboard."""

    # Absolute, so that subclasses defined elsewhere (the benchmark's naive variant) find it too.
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "vmtui"
    SUB_TITLE = "KVM/QEMU fleet"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {SystemCommandsProvider, DomainCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(
        self,
        entries: Sequence[HostEntry] = (),
        *,
        recording: Recording | None = None,
        interval: float = 1.0,
        connector: Connector = open_host,
        backoff: tuple[float, float] = (1.0, 30.0),
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Args:
        entries: hosts to poll live (ignored with `recording`).
        recording: play this recording back instead of polling hosts.
        interval: seconds between polls (and replayed samples).
        connector: opens a host; actions use it too, each with its own connection.
        backoff: first and maximum reconnect delay in seconds.
        clock: time.time stand-in, so tests can freeze what the hosts pane shows.
        """
        super().__init__()
        self.entries = {e.name: e for e in entries}
        self.recording = recording
        self.interval = interval
        self.connector = connector
        self.clock = clock
        self._backoff = backoff
        hosts = list(recording.hosts) if recording else list(self.entries)
        self.fleet = Fleet([(name, self.entries[name].read_only if name in self.entries else False) for name in hosts])
        self.pollers: list[HostPoller | ReplayPoller] = []
        self.replay_done = False
        self._event_states: dict[str, tuple[str, float]] = {}
        self._keys_for: tuple[str, str | None, str | None] | None = None
        self.host_screen = HostScreen()

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
        if self.recording is not None:
            self.sub_title = "replay"
            for view in self.fleet.hosts.values():
                view.status = "replay"
            replay = ReplayPoller(self.recording, self.post_message)
            self.pollers.append(replay)
            replay.start()
        else:
            for entry in self.entries.values():
                self._watch(entry)
        self.set_interval(self.interval, self._tick)
        self._render_hosts()

    def _watch(self, entry: HostEntry) -> None:
        first, cap = self._backoff
        poller = HostPoller(entry, self.post_message, connector=self.connector, backoff_first=first, backoff_max=cap)
        self.pollers.append(poller)
        poller.start()

    def on_unmount(self) -> None:
        for poller in self.pollers:
            poller.cancel()
        for poller in self.pollers:
            # A poller stuck in a libvirt call on a dead host must not hold the exit: it is a daemon thread.
            poller.join(timeout=2)

    def _tick(self) -> None:
        for poller in self.pollers:
            poller.schedule_update()
        if any(v.status == "disconnected" for v in self.fleet.hosts.values()):
            self._render_hosts()  # the "retrying in N s" countdown

    def _render_hosts(self) -> None:
        self.host_screen.show_hosts(self.fleet.hosts.values(), self.clock())

    def render_all(self) -> None:
        """Draw everything the fleet state holds (the dashboard calls it once it is composed)."""
        self._render_hosts()
        for host in self.fleet.hosts:
            self._update_table(host, None)

    # ----- messages from pollers ------------------------------------------------------------------

    @_from_watched_host
    def on_host_connected(self, message: HostConnected) -> None:
        view = self.fleet.host(message.host)
        view.info = message.info
        if view.status != "replay":
            view.status = "connected"
        if message.reconnected:
            self.notify(f"{message.host}: reconnected", title="host back")
        self._render_hosts()

    @_from_watched_host
    def on_host_sampled(self, message: HostSampled) -> None:
        view = self.fleet.host(message.host)
        self.fleet.sampled(message.host, message.tick, message.domains)
        self._update_table(message.host, message.tick.sample.wall)
        self._render_hosts()
        screen = self.screen
        if isinstance(screen, DomainScreen) and screen.uuid in view.domains:
            screen.refresh_data()
        self._refresh_keys()

    def _refresh_keys(self) -> None:
        """Re-evaluate which action keys apply, only when the selected domain's state changed.

        `refresh_bindings` rebuilds the Footer; doing it every tick cost more than the whole table.
        """
        uuid = self.selected_uuid()
        found = self.fleet.find(uuid) if uuid else None
        state = None
        if found is not None:
            _view, info, m = found
            state = m.state if m else (info.state if info else None)
            state = self._event_states.get(uuid, (state, 0.0))[0] if uuid else state
        key = (type(self.screen).__name__, uuid, state)
        if key != self._keys_for:
            self._keys_for = key
            self.screen.refresh_bindings()

    def _update_table(self, host: str, sample_wall: float | None) -> None:
        """Push one host's rows to the table, with event-implied states newer than the sample."""
        rows = []
        for row in self.fleet.rows(host):
            override = self._event_states.get(row.uuid)
            if override is not None:
                state, at = override
                if sample_wall is not None and sample_wall >= at:
                    del self._event_states[row.uuid]  # the sample has caught up with the event
                else:
                    row = replace(row, state=state)
            rows.append(row)
        self.host_screen.update_rows(host, rows)

    @_from_watched_host
    def on_host_disconnected(self, message: HostDisconnected) -> None:
        view = self.fleet.host(message.host)
        was = view.status
        view.status, view.reason = "disconnected", message.reason
        view.down_since, view.retry_at = message.since, message.retry_at
        if was != "disconnected":
            # One notification per state change, never one per retry.
            self.notify(
                f"{message.host}: {message.reason}; retrying with backoff", title="host lost", severity="warning"
            )
            self._update_table(message.host, None)
            if isinstance(self.screen, DomainScreen):
                self.screen.refresh_data()
        self._render_hosts()

    @_from_watched_host
    def on_domain_event_received(self, message: DomainEventReceived) -> None:
        log.info("%s: domain %s %s (%d)", message.host, message.uuid, message.event, message.detail)
        state = EVENT_STATES.get(message.event)
        if state is None:
            return
        # Shown at once; the poller re-samples right after posting the event and confirms it.
        self._event_states[message.uuid] = (state, message.wall)
        self._update_table(message.host, None)
        self._refresh_keys()

    @_from_watched_host
    def on_action_finished(self, message: ActionFinished) -> None:
        label = BY_KEY[message.action].label if message.action in BY_KEY else message.action
        if message.ok:
            self.notify(f"{label} {message.name}: done", title=message.host)
        else:
            self.notify(f"{label} {message.name}: {message.message}", title=message.host, severity="error")
        for poller in self.pollers:
            if isinstance(poller, HostPoller) and poller.entry.name == message.host:
                poller.request_refresh()

    def on_replay_finished(self, message: ReplayFinished) -> None:
        self.replay_done = True
        self.sub_title = f"replay finished ({message.samples} samples)"

    # ----- hosts: add and remove, as `vmtui hosts add` / `hosts rm` ---------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "add_host":
            return self.recording is None  # a replay shows recorded hosts only: no key, no footer entry
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
        self._render_hosts()
        self.notify(f"saved {entry.name} ({entry.uri}); connecting", title="host added")

    def request_remove_host(self, name: str) -> None:
        if name not in self.fleet.hosts or self.recording is not None:
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self._remove_host(name)

        detail = "its guests are not touched: vmtui stops watching it and forgets it in hosts.toml"
        self.push_screen(ConfirmModal(f"Remove host {name}?", detail=detail), answered)

    def _remove_host(self, name: str) -> None:
        try:
            config.HostStore().remove(name)
        except NotFoundError:
            pass  # opened with -c for this session only: nothing saved to forget
        except VmtuiError as exc:
            self.notify(f"remove {name}: {exc}", severity="error")
            return
        for poller in [p for p in self.pollers if isinstance(p, HostPoller) and p.entry.name == name]:
            poller.cancel()  # a daemon thread: it ends after its current call, without holding the UI
            self.pollers.remove(poller)
        self.entries.pop(name, None)
        self.fleet.remove_host(name)
        self.host_screen.update_rows(name, [])
        if isinstance(self.screen, DomainScreen) and self.fleet.find(self.screen.uuid) is None:
            self.pop_screen()
        self._render_hosts()
        self.notify(f"{name} removed", title="host removed")

    # ----- domains and actions ----------------------------------------------------------------------

    def selected_uuid(self) -> str | None:
        screen = self.screen
        if isinstance(screen, (HostScreen, DomainScreen)):
            return screen.selected_uuid()
        return self.host_screen.selected_uuid()

    def open_domain(self, uuid: str) -> None:
        if self.fleet.find(uuid) is None:
            self.notify("that domain is gone", severity="warning")
            return
        if isinstance(self.screen, DomainScreen):
            self.pop_screen()
        self.push_screen(DomainScreen(uuid))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpModal):
            self.push_screen(HelpModal())

    def action_allowed(self, uuid: str | None, action: str) -> bool | None:
        """Whether a lifecycle key applies: hidden (False) when the domain's state does not allow it.

        On read-only hosts and in replays the keys stay active so that pressing one explains why
        it is refused (in `request_action`, before any libvirt call) instead of doing nothing.
        """
        if uuid is None or action not in BY_KEY:
            return False
        found = self.fleet.find(uuid)
        if found is None:
            return False
        view, info, m = found
        if view.read_only or view.status == "replay":
            return True
        state = m.state if m else (info.state if info else "")
        override = self._event_states.get(uuid)
        if override is not None:
            state = override[0]
        return state in BY_KEY[action].allowed_states

    def request_action(self, uuid: str, action: str) -> None:
        """Check, confirm if destructive, then run the action in a worker with its own connection."""
        spec = BY_KEY.get(action)
        found = self.fleet.find(uuid)
        if spec is None or found is None:
            self.notify("no such domain or action", severity="warning")
            return
        view, info, _m = found
        name = info.name if info else uuid
        # Refused here, before any libvirt call: the host was opened read-only.
        if view.status == "replay":
            self.notify(f"{spec.label} {name}: a replay has no live host", severity="warning")
            return
        if view.read_only or (view.info is not None and view.info.read_only):
            self.notify(f"{spec.label} {name}: {view.name} is connected read-only", title="refused", severity="error")
            return
        entry = self.entries.get(view.name)
        if entry is None:
            return
        if spec.destructive:
            question = f"{spec.label} {name} on {view.name}?"

            def answered(ok: bool | None) -> None:
                if ok:
                    self._start_action(entry, uuid, name, action)

            self.push_screen(ConfirmModal(question, detail="the guest is stopped or restarted"), answered)
        else:
            self._start_action(entry, uuid, name, action)

    def _start_action(self, entry: HostEntry, uuid: str, name: str, action: str) -> None:
        # run_worker is @work's equivalent with a group computed per domain: actions on one domain never
        # overlap (exclusive cancels the older one), actions on different domains run in parallel.
        self.run_worker(
            partial(self._action_worker, entry, uuid, name, action),
            name=f"{action} {name}",
            group=f"ops:{uuid}",
            description=f"{action} {name} on {entry.name}",
            exclusive=True,
            thread=True,
            exit_on_error=False,
        )

    def _action_worker(self, entry: HostEntry, uuid: str, name: str, action: str) -> None:
        """Thread worker: its own connection, so it never waits behind (or blocks) the poller."""
        try:
            with self.connector(entry) as conn:
                conn.lifecycle(uuid, action)
        except VmtuiError as exc:
            self.post_message(ActionFinished(entry.name, uuid, name, action, False, exc.message))
            return
        except Exception as exc:
            log.exception("%s %s failed", action, name)
            self.post_message(ActionFinished(entry.name, uuid, name, action, False, f"internal error: {exc}"))
            return
        self.post_message(ActionFinished(entry.name, uuid, name, action, True, "done"))


def launch(*, connect: Sequence[str] | None, host: Sequence[str] | None, read_only: bool, replay: Path | None) -> None:
    """Entry point of `vmtui` without a subcommand: run the app until the user quits."""
    if replay is not None:
        if connect or host:
            raise UsageError("--replay plays a recording; it cannot be combined with -c or --host")
        try:
            recording = Recording(replay)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        app = VmtuiApp(recording=recording)
    else:
        app = VmtuiApp(config.resolve_targets(connect, host, read_only=read_only))
    app.run()
