"""Poller threads: the only place the TUI talks to libvirt for monitoring.

Threading contract (reviewers enforce it):

1. libvirt calls run only on a HostPoller thread, on libvirt's event thread (callbacks that just
   set flags and post messages), or in a `thread=True` action worker. Never on Textual's loop.
2. A thread reaches the UI only through `app.post_message(...)`, which is thread-safe. Payloads are
   frozen dataclasses or mappings built fresh for that message and never touched again by the
   thread. A thread never touches widgets or the UI's history deques.
3. Ticks coalesce: the app's `set_interval` only sets an Event (`schedule_update`), so a slow or
   hung host stalls its own poller and nothing else; missed ticks merge into one.
4. Each HostPoller owns its Connection and Collector (neither is shared between threads).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from types import MappingProxyType
from typing import TYPE_CHECKING

from textual.message import Message

from vmtui.collector import Collector, Tick
from vmtui.drivers.recording import Recording
from vmtui.errors import VmtuiError
from vmtui.messages import (
    DomainEventReceived,
    HostConnected,
    HostDisconnected,
    HostSampled,
    ReplayFinished,
)
from vmtui.metrics import host_metrics, sample_metrics
from vmtui.models import HostEntry, HostSample

if TYPE_CHECKING:
    from vmtui.drivers.libvirt_driver import Connection

log = logging.getLogger("vmtui.poller")

Post = Callable[[Message], object]
"""`App.post_message`: the one door from a thread into the UI."""
Connector = Callable[[HostEntry], "Connection"]

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0


def open_host(entry: HostEntry) -> Connection:
    """Open a saved or ad-hoc host (an empty URI means libvirt's default)."""
    from vmtui.drivers import connect

    return connect(entry.uri or None, read_only=entry.read_only)


def backoff_delay(attempt: int, *, first: float = BACKOFF_FIRST, cap: float = BACKOFF_MAX) -> float:
    """1, 2, 4, ... capped at `cap` seconds, for the `attempt`-th consecutive failure (1-based)."""
    return float(min(cap, first * 2.0 ** max(0, attempt - 1)))


class HostPoller(threading.Thread):
    """Polls one host whenever the app asks, reconnecting with exponential backoff when it is lost."""

    def __init__(
        self,
        entry: HostEntry,
        post: Post,
        *,
        connector: Connector = open_host,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        super().__init__(name=f"poller-{entry.name}", daemon=True)
        self.entry = entry
        self._post = post
        self._connector = connector
        self._backoff = (backoff_first, backoff_max)
        self._wake = threading.Event()
        self._cancelled = threading.Event()
        self._refresh_lock = threading.Lock()
        self._refresh_all = False
        self._refresh_uuids: set[str] = set()
        """Domains whose XML facts to re-read before the next sample (filled by the event thread)."""
        self._conn: Connection | None = None
        self._collector: Collector | None = None
        self._ever_connected = False

    # ----- called from other threads (UI loop, libvirt event thread) --------------------------

    def schedule_update(self) -> None:
        """Ask for one poll; several requests before the poller wakes merge into one."""
        self._wake.set()

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
        """Stop after the current call; pair with `join()`."""
        self._cancelled.set()
        self._wake.set()

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
                    self._post(HostDisconnected(self.entry.name, reason, down_since, time.time() + delay, failures))
                    self._cancelled.wait(delay)
                    continue
                self._wake.wait()
                self._wake.clear()
                if self._cancelled.is_set():
                    break
                lost = self._poll_once()
                if lost is not None:
                    # Lost while polling: tell the UI now (rows go stale), retry after the first delay.
                    failures = 1
                    down_since = time.time()
                    delay = self._delay(failures)
                    self._post(HostDisconnected(self.entry.name, lost, down_since, time.time() + delay, failures))
                    self._drop_connection()
                    self._cancelled.wait(delay)
        finally:
            self._drop_connection()

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
            collector = Collector(conn, self.entry.name)
            # Registered on every new connection: callbacks die with the old one.
            conn.on_lifecycle(self._on_lifecycle)
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
        self._post(HostConnected(self.entry.name, collector.info, reconnected=self._ever_connected))
        self._ever_connected = True
        self._wake.set()  # first sample right away, not at the next tick
        return None

    def _poll_once(self) -> str | None:
        """One tick; returns the reason when the connection turned out to be lost."""
        collector, conn = self._collector, self._conn
        if collector is None or conn is None:
            return "not connected"
        try:
            with self._refresh_lock:
                refresh_all, uuids = self._refresh_all, self._refresh_uuids
                self._refresh_all, self._refresh_uuids = False, set()
            if refresh_all:
                collector.refresh_domains()
            for uuid in uuids:
                collector.refresh_domain(uuid)
            tick = collector.tick()
        except VmtuiError as exc:
            if not conn.is_alive():
                return conn.closed_reason or exc.message
            log.warning("poll of %s failed: %s", self.entry.name, exc)
            return None
        except Exception:
            log.exception("poll of %s failed", self.entry.name)
            return None
        self._post(HostSampled(self.entry.name, tick, MappingProxyType(dict(collector.domains))))
        return None

    def _on_lifecycle(self, uuid: str, event: str, detail: int) -> None:
        # libvirt's event thread: post and flag only; the poller thread does the libvirt calls.
        self._post(DomainEventReceived(self.entry.name, uuid, event, detail, time.time()))
        self.request_refresh(uuid)

    def _drop_connection(self) -> None:
        conn, self._conn, self._collector = self._conn, None, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing %s failed", self.entry.name, exc_info=True)


class ReplayPoller(threading.Thread):
    """Plays a recording back: one recorded sample per host per tick, in order, then stops."""

    def __init__(self, recording: Recording, post: Post) -> None:
        super().__init__(name="replay", daemon=True)
        self.recording = recording
        self._post = post
        self._wake = threading.Event()
        self._cancelled = threading.Event()

    def schedule_update(self) -> None:
        self._wake.set()

    def request_refresh(self, uuid: str | None = None) -> None:
        """Recordings have no live domains to re-read."""

    def cancel(self) -> None:
        self._cancelled.set()
        self._wake.set()

    def run(self) -> None:
        hosts = list(self.recording.hosts)
        for name in hosts:
            self._post(HostConnected(name, self.recording.hosts[name], reconnected=False))
        domains = {n: MappingProxyType({d.uuid: d for d in self.recording.domains[n]}) for n in hosts}
        previous: dict[str, HostSample | None] = dict.fromkeys(hosts)
        steps = max((len(s) for s in self.recording.samples.values()), default=0)
        for step in range(steps):
            self._wake.wait()
            self._wake.clear()
            if self._cancelled.is_set():
                return
            for name in hosts:
                samples = self.recording.samples.get(name, [])
                if step >= len(samples):
                    continue
                cur, prev = samples[step], previous[name]
                tick = Tick(
                    sample=cur,
                    host=host_metrics(prev, cur),
                    domains=MappingProxyType(sample_metrics(prev, cur, host_cpus=self.recording.hosts[name].cpus)),
                )
                previous[name] = cur
                self._post(HostSampled(name, tick, domains[name], replaceable=False))
        self._post(ReplayFinished(steps))
