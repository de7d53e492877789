"""Poller threads: one per host, the only place vmtui talks to a host to watch it.

Threading contract (reviewers enforce it):

1. libvirt calls run only on a HostPoller thread, on libvirt's event thread (callbacks that just
   set flags and report), or in an operation's worker thread. Never on Textual's loop.
2. A thread hands data on only through its `report` callback (the TUI's posts a Textual message,
   which is thread-safe; `Monitor` puts it in a queue). Payloads are frozen dataclasses or
   mappings built fresh for that event and never touched again by the thread.
3. Ticks coalesce: whoever drives the poller only sets an Event (`schedule_update`), so a slow or
   hung host stalls its own poller and nothing else; missed ticks merge into one.
4. Each HostPoller owns its connection and Collector (neither is shared between threads).
5. What other threads tell a poller is immutable and swapped whole (`set_focus`'s frozenset), or
   guarded by a lock (`request_refresh`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from vmtui.drivers import open_host as open_source
from vmtui.drivers.base import Hypervisor, Migrator
from vmtui.errors import EndOfRecordingError, VmtuiError
from vmtui.models import DomainInfo, HostEntry
from vmtui.monitor.collector import FACTS_AT_ONCE, Collector
from vmtui.monitor.events import (
    DomainChanged,
    HostConnected,
    HostDisconnected,
    HostSampled,
    MonitorEvent,
    SourceEnded,
)

if TYPE_CHECKING:  # `vmtui list` opens hosts through this module: it must not build the jobs' value types
    from vmtui.models import JobStats

log = logging.getLogger("vmtui.poller")

Report = Callable[[MonitorEvent], object]
"""Where a poller's events go; called from the poller's (or libvirt's event) thread."""
Connector = Callable[[HostEntry], Hypervisor]

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0


def open_host(entry: HostEntry) -> Hypervisor:
    """Open a saved or ad-hoc host (an empty URI means libvirt's default)."""
    return open_source(entry.uri or None, read_only=entry.read_only)


def backoff_delay(attempt: int, *, first: float = BACKOFF_FIRST, cap: float = BACKOFF_MAX) -> float:
    """1, 2, 4, ... capped at `cap` seconds, for the `attempt`-th consecutive failure (1-based)."""
    return float(min(cap, first * 2.0 ** max(0, attempt - 1)))


class HostPoller(threading.Thread):
    """Polls one host whenever asked, reconnecting with exponential backoff when it is lost.

    A daemon thread: a poller stuck in a call to a hung host never holds the process's exit.
    """

    def __init__(
        self,
        entry: HostEntry,
        report: Report,
        *,
        connector: Connector = open_host,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
        derive: bool = True,
    ) -> None:
        """`derive=False`: samples without domain metrics (see `Collector`'s `derive`)."""
        super().__init__(name=f"poller-{entry.name}", daemon=True)
        self.entry = entry
        self._report = report
        self._connector = connector
        self._backoff = (backoff_first, backoff_max)
        self._derive = derive
        self._wake = threading.Event()
        self._cancelled = threading.Event()
        self._refresh_lock = threading.Lock()
        self._refresh_all = False
        self._refresh_uuids: set[str] = set()
        """Domains whose XML facts to re-read before the next sample (filled by the event thread)."""
        self._focus: frozenset[str] | None = None
        """UUIDs wanted every tick (the TUI's visible rows); None: every domain every tick."""
        self._conn: Hypervisor | None = None
        self._domains: tuple[Collector, int, Mapping[str, DomainInfo]] | None = None
        """The collector, its domains_version and the read-only copy of its domain facts sent last."""
        self._collector: Collector | None = None
        self._ever_connected = False
        self.samples = 0

    # ----- called from other threads (UI loop, libvirt event thread) --------------------------

    def schedule_update(self) -> None:
        """Ask for one poll; several requests before the poller wakes merge into one."""
        self._wake.set()

    def set_focus(self, uuids: frozenset[str] | None) -> None:
        """Sample only these domains on most ticks, the others every `SLOW_ROUND`-th; None: all, always.

        The TUI sets the rows on screen (and each sort key's leaders). A frozenset is immutable and
        the assignment atomic, so the poller thread reads it without a lock; the next tick uses it.
        """
        self._focus = uuids

    @property
    def focus(self) -> frozenset[str] | None:
        return self._focus

    def request_refresh(self, uuid: str | None = None) -> None:
        """Re-read one domain's XML facts (or every domain's, with None) and poll now.

        An event names its domain: re-reading only that one keeps a burst of events on a host with
        a thousand domains from costing a thousand XMLDesc calls each.
        """
        with self._refresh_lock:
            if uuid is None:
                self._refresh_all = True
            else:
                self._refresh_uuids.add(uuid)
        self._wake.set()

    def cancel(self) -> None:
        """Stop after the current call; the thread is a daemon, so nobody has to wait for it."""
        self._cancelled.set()
        self._wake.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    # ----- the thread ---------------------------------------------------------------------------

    def run(self) -> None:
        failures = 0
        down_since = 0.0
        try:
            while not self._cancelled.is_set():
                if self._collector is None:
                    reason = self._connect()
                    if reason is None:
                        failures = 0
                        continue
                    failures += 1
                    if failures == 1:
                        down_since = time.time()
                    delay = self._delay(failures)
                    self._emit(HostDisconnected(self.entry.name, reason, down_since, time.time() + delay, failures))
                    self._cancelled.wait(delay)
                    continue
                self._wake.wait()
                self._wake.clear()
                if self._cancelled.is_set():
                    break
                lost = self._poll_once()
                if lost is None:
                    continue
                if isinstance(lost, SourceEnded):
                    self._emit(lost)
                    break
                # Lost while polling: report now (rows go stale), retry after the first delay.
                failures = 1
                down_since = time.time()
                delay = self._delay(failures)
                self._emit(HostDisconnected(self.entry.name, lost, down_since, time.time() + delay, failures))
                self._drop_connection()
                self._cancelled.wait(delay)
        finally:
            self._drop_connection()

    def _emit(self, event: MonitorEvent) -> None:
        if not self._cancelled.is_set():  # a cancelled poller's late events would confuse its watcher
            self._report(event)

    def _delay(self, failures: int) -> float:
        first, cap = self._backoff
        # A little jitter so that many hosts behind one restarted proxy do not reconnect in lockstep.
        return backoff_delay(failures, first=first, cap=cap) * random.uniform(0.9, 1.0)

    def _connect(self) -> str | None:
        """Open, read host facts, register events; None on success, else the reason it failed."""
        try:
            conn = self._connector(self.entry)
        except VmtuiError as exc:
            return exc.message
        except Exception as exc:  # a bug must not kill the poller: log it, retry later
            log.exception("connecting %s failed", self.entry.name)
            return f"internal error: {exc}"
        try:
            collector = Collector(conn, self.entry.name, facts_at_once=FACTS_AT_ONCE, derive=self._derive)
            self._register_events(conn)
            # A dropped connection wakes the poller now; its next call fails and the rows go stale.
            conn.on_closed(lambda _reason: self._wake.set())
        except VmtuiError as exc:
            conn.close()
            return exc.message
        except Exception as exc:
            log.exception("setting up %s failed", self.entry.name)
            conn.close()
            return f"internal error: {exc}"
        self._conn, self._collector = conn, collector
        self._emit(HostConnected(self.entry.name, collector.info, reconnected=self._ever_connected))
        self._ever_connected = True
        self._wake.set()  # first sample right away, not at the next tick
        return None

    def _poll_once(self) -> str | SourceEnded | None:
        """One tick; returns why the connection turned out to be lost, or that the source ended."""
        collector, conn = self._collector, self._conn
        if collector is None or conn is None:
            return "not connected"
        try:
            with self._refresh_lock:
                refresh_all, uuids = self._refresh_all, self._refresh_uuids
                self._refresh_all, self._refresh_uuids = False, set()
            if refresh_all or collector.facts_due:  # due: a large host's first round went out without them
                collector.refresh_domains()
            for uuid in uuids:
                collector.refresh_domain(uuid)
            # After an event, every domain: a started or vanished domain shows at once, off screen or not.
            tick = collector.tick(self._focus, full=refresh_all or bool(uuids))
        except EndOfRecordingError:
            return SourceEnded(self.entry.name, self.samples)
        except VmtuiError as exc:
            if not conn.is_alive():
                return conn.closed_reason or exc.message
            log.warning("poll of %s failed: %s", self.entry.name, exc)
            return None
        except Exception:
            log.exception("poll of %s failed", self.entry.name)
            return None
        self.samples += 1
        sent = self._domains
        if sent is None or sent[0] is not collector or sent[1] != collector.domains_version:
            # A copy only when the facts changed: the same object tells the UI nothing moved.
            sent = self._domains = (collector, collector.domains_version, MappingProxyType(dict(collector.domains)))
        domains = sent[2]
        self._emit(HostSampled(self.entry.name, tick, domains, lossless=collector.finite))
        if collector.facts_due:
            self._wake.set()  # the first round is out: read the facts now, not a tick later
        return None

    def _register_events(self, conn: Hypervisor) -> None:
        """Lifecycle events, and on a live connection libvirt's job events, each as a `DomainChanged`.

        The job events are libvirt's MIGRATION_ITERATION (event "migration-iteration", detail the pass
        number) and JOB_COMPLETED ("job-completed", detail 0), registered here explicitly. A domain
        migrating out shows no lifecycle event until its last pause: the iterations are what lets a
        watcher show it as migrating, migrations other tools started included. A recording (no
        `Migrator`) has no job events. Registered on every new connection: callbacks die with the old one.
        """
        conn.on_lifecycle(self._on_lifecycle)
        if isinstance(conn, Migrator):
            conn.on_job_events(self._on_job_event)  # stopped by closing the connection

    def _on_job_event(self, uuid: str, event: str, number: int, _completed: JobStats | None) -> None:
        self._on_lifecycle(uuid, event, number)

    def _on_lifecycle(self, uuid: str, event: str, detail: int) -> None:
        # libvirt's event thread: report and flag only; the poller thread does the libvirt calls.
        self._emit(DomainChanged(self.entry.name, uuid, event, detail, time.time()))
        self.request_refresh(uuid)

    def _drop_connection(self) -> None:
        conn, self._conn, self._collector = self._conn, None, None
        self._domains = None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing %s failed", self.entry.name, exc_info=True)
