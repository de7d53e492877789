"""The hosts: one poller each, their reports into the fleet state, adding and removing hosts.

A controller composed into `VmtuiApp`. All libvirt work happens on the pollers' threads; their reports
arrive as `MonitorReported` on Textual's loop, go into `Fleet`, and the dashboard's rows and the
screen on top that shows live data (`vmtui.screens.live.LiveScreen`) are told.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

from vmtui import config
from vmtui.errors import NotFoundError, UsageError, VmtuiError
from vmtui.models import HostEntry
from vmtui.monitor.events import DomainChanged, HostConnected, HostDisconnected, HostSampled, SourceEnded
from vmtui.monitor.poller import HostPoller
from vmtui.present import count, host_label
from vmtui.screens.add_host import AddHostModal
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.devices import DevicesScreen
from vmtui.screens.domain import DomainScreen
from vmtui.thresholds import MEASURES
from vmtui.tui.fleet import row_figures
from vmtui.tui.messages import HostRemoveRequested, MonitorReported
from vmtui.tui.migrations import Migrations
from vmtui.tui.parts import Controller, Parts

log = logging.getLogger("vmtui.app")

FREEZE_AFTER_TICKS = 5
"""Start-up is over (hosts connected, their first full rounds drawn): see HostWatch.tick."""


class HostWatch(Controller):
    """Starts and stops the pollers (it fills `Parts.pollers`), feeds their reports to the fleet, adds and
    removes hosts."""

    def __init__(
        self,
        parts: Parts,
        migrations: Migrations,
        *,
        backoff: tuple[float, float],
        report: Callable[[MonitorReported], object],
    ) -> None:
        """Args:
        backoff: first and maximum reconnect delay in seconds.
        report: posts a poller's report to the app's loop (thread-safe).
        """
        super().__init__(parts)
        self.migrations = migrations
        self._backoff = backoff
        self._report = report
        self._focus: frozenset[str] | None = None
        """The table's rows on screen (DomainTable.FocusChanged); None until it says: poll everything."""
        self.sources_ended: dict[str, int] = {}
        """Hosts of a recording that played out, with their sample counts."""
        self._ticks = 0

    # ----- the pollers ----------------------------------------------------------------------------

    def start(self) -> None:
        for entry in self.entries.values():
            self._watch(entry)

    def _watch(self, entry: HostEntry) -> None:
        first, cap = self._backoff

        def report(event: object) -> None:
            self._report(MonitorReported(event))  # type: ignore[arg-type]

        poller = HostPoller(entry, report, connector=self.connector, backoff_first=first, backoff_max=cap)
        self.pollers[entry.name] = poller
        poller.set_focus(self._focus)
        poller.start()

    def stop(self) -> None:
        # Daemon threads: a poller stuck in a libvirt call on a dead host never holds the exit.
        for poller in self.pollers.values():
            poller.cancel()

    def tick(self, *, headless: bool) -> None:
        self.apply_focus()  # cheap: compares frozensets, and only a domain screen makes a new one
        for poller in self.pollers.values():
            poller.schedule_update()
        self._ticks += 1
        if self._ticks == FREEZE_AFTER_TICKS and not headless:
            # What exists now (Textual's widgets and styles, the fleet's rows) lives as long as the app.
            # Frozen, the cyclic GC stops re-scanning it: each slow round allocates thousands of short-
            # lived objects, and the full collections they trigger were ~0.15 % of a core at 1000
            # domains (bench/README.md). Reference counting still frees everything as before.
            gc.freeze()
        # Countdowns ("retrying in N s") and sample ages ("last sample 7 s ago") move without samples.
        if any(v.status != "connected" or self.fleet.sample_age(v) is not None for v in self.fleet.hosts.values()):
            self.ui.host_screen.show_hosts()
            for name in self.fleet.hosts:
                self.ui.host_screen.update_rows(name)

    def focus_changed(self, uuids: frozenset[str] | None) -> None:
        # The table's rows on screen and sort leaders: each poller samples those every tick, the rest every
        # SLOW_ROUND-th (the frozenset is immutable, so handing one object to every thread is safe).
        self._focus = uuids
        self.apply_focus()

    def apply_focus(self) -> None:
        """The table's focus, plus the domain a domain or devices screen shows (it may be off the table)."""
        screen = self.ui.top
        if screen is None:
            return  # the app is closing: a last FocusChanged can arrive after its screens are gone
        focus = self._focus
        if focus is not None and isinstance(screen, (DomainScreen, DevicesScreen)) and screen.uuid not in focus:
            focus = focus | {screen.uuid}
        for poller in self.pollers.values():
            if poller.focus != focus:
                poller.set_focus(focus)

    # ----- reports from the pollers ---------------------------------------------------------------

    def reported(self, message: MonitorReported) -> None:
        # Dropped after the app began to quit (the screens are gone) or from a host no longer watched
        # (a removed host's poller may still have a sample in the queue: it must not bring it back).
        if not self.ui.running or message.host not in self.fleet.hosts:
            return
        event = message.event
        view = self.fleet.host(event.host)
        match event:
            case HostConnected():
                self.fleet.connected(event.host, event.info)
                if event.reconnected:
                    self.ui.say(f"{event.host}: reconnected", title="host back")
                if event.info.source != "recording":
                    # A vmtui that died may have left a migration running here: find it, watch it.
                    self.migrations.start_scan(event.host)
            case HostSampled():
                self.fleet.sampled(event.host, event.tick, event.domains)
                self._tell_critical(event.host)
                self.ui.host_screen.update_rows(event.host)
                self.ui.sample_arrived(event.host, view.domains)
                self.ui.refresh_keys()
            case HostDisconnected():
                if self.fleet.disconnected(event.host, event.reason, event.since, event.retry_at):
                    # One notification per state change, never one per retry.
                    self.ui.say(
                        f"{event.host}: {event.reason}; retrying with backoff", title="host lost", severity="warning"
                    )
                    self.ui.host_screen.update_rows(event.host)
                    self.ui.sample_arrived(event.host, view.domains)
            case DomainChanged():
                log.info("%s: domain %s %s (%d)", event.host, event.uuid, event.event, event.detail)
                if event.event == "incoming":
                    self.fleet.incoming_on(event.host, event.uuid)
                    for name in self.fleet.hosts:
                        self.ui.host_screen.update_rows(name)
                if event.event == "migration-iteration" and not self.jobs.busy(event.uuid):
                    # A migration another tool started: watch it, so it shows (and refuses actions) until it ends.
                    self.migrations.start_watch(event.host, event.uuid)
                if self.fleet.domain_event(event.uuid, event.event, event.wall):
                    self.ui.host_screen.update_rows(event.host)
                    self.ui.sample_arrived(event.host, (event.uuid,))
                    self.ui.refresh_keys()
            case SourceEnded():
                self.fleet.source_ended(event.host)
                self.sources_ended[event.host] = event.samples
                if set(self.sources_ended) == set(self.fleet.hosts):
                    self.ui.subtitle(f"replay finished ({max(self.sources_ended.values())} samples)")
        self.ui.host_screen.show_hosts()

    def _tell_critical(self, host: str) -> None:
        """One notification per domain that crossed into critical (again only after it left it)."""
        for row, keys in self.fleet.newly_critical(host):
            figures = row_figures(row)
            said = "; ".join(
                f"{MEASURES[k].title} {count(figures[k])}{MEASURES[k].unit} "
                f"(critical from {count(self.fleet.thresholds.limits[k].critical)})"
                for k in keys
            )
            self.ui.say(f"{row.name} on {host_label(host)}: {said}", title="critical", severity="error")

    # ----- hosts: add and remove, as `vmtui hosts add` / `hosts rm` ---------------------------------

    def can_add(self) -> bool:
        return self.fleet.add_host_refusal() is None

    def add(self) -> None:
        self.ui.show(AddHostModal(self._save_host), self._host_added)

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
        self.ui.host_screen.show_hosts()
        self.ui.say(f"saved {entry.name} ({entry.uri}); connecting", title="host added")

    def remove_requested(self, message: HostRemoveRequested) -> None:
        name = message.name
        if name not in self.fleet.hosts or not self.can_add():
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self._remove_host(name)

        detail = "Its guests are not touched: vmtui stops watching it and forgets it in hosts.toml."
        self.ui.show(ConfirmModal(f"Remove host {name}?", detail=detail), answered)

    def _remove_host(self, name: str) -> None:
        try:
            config.HostStore().remove(name)
        except NotFoundError:
            pass  # opened with -c for this session only: nothing saved to forget
        except VmtuiError as exc:
            self.ui.say(f"remove {name}: {exc}", severity="error")
            return
        poller = self.pollers.pop(name, None)
        if poller is not None:
            poller.cancel()  # a daemon thread: it ends after its current call, without holding the UI
        self.entries.pop(name, None)
        self.fleet.remove_host(name)
        self.ui.host_screen.update_rows(name)
        top = self.ui.top
        if isinstance(top, DomainScreen) and self.fleet.find(top.uuid) is None:
            self.ui.close_top()
        self.ui.host_screen.show_hosts()
        self.ui.say(f"{name} removed", title="host removed")
