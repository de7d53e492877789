"""What the TUI knows about the fleet: host states, latest metrics, per-domain history and state.

Lives on Textual's event loop only: message handlers update it, screens and widgets read it. No
thread ever touches it (pollers and jobs send frozen messages instead), so it needs no locks.
The effective state of a domain is decided here and nowhere else (`Fleet.state_of`).
"""

from __future__ import annotations

import itertools
import time
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from vmtui.metrics import DomainMetrics
from vmtui.models import ACTIVE_STATES, DomainInfo, HostInfo
from vmtui.monitor.collector import Tick
from vmtui.ops.lifecycle import BY_KEY
from vmtui.present import shown_state
from vmtui.split_brain import also_on, running_after, running_uuids, split_refusal, twins
from vmtui.thresholds import DEFAULT, Level, Thresholds, cpu_of_vcpus, worst, worst_disk_latency_ms
from vmtui.tui import refusals

HISTORY_POINTS = 300
"""Five minutes at 1 Hz."""

STALE_AFTER_INTERVALS = 2.0
"""A host whose newest sample is older than this many poll intervals is shown (and treated) as stale."""
STALE_AFTER_MIN_S = 3.0
"""...but never sooner than this: one bulk call of a loaded host can itself take a second."""

EVENT_STATES = {
    "started": "running",
    "resumed": "running",
    "suspended": "paused",
    "migrating": "migrating",
    "migration-iteration": "migrating",
    "incoming": "migrating",
    "migrated": "gone",
    "stopped": "shut-off",
    "undefined": "gone",
    "shutdown": "shutting-down",
    "crashed": "crashed",
    "pmsuspended": "pmsuspended",
}
"""The state a lifecycle event implies, shown at once until a sample taken after it arrives."""


@dataclass(frozen=True, slots=True)
class DomainRow:
    """One domain as the table shows it; equality decides whether the line is re-formatted."""

    uuid: str
    host: str
    name: str
    state: str
    accel: str
    vcpus: int
    cpu: float | None
    steal: float | None
    overhead: float | None
    mem_cur_kib: int | None
    mem_max_kib: int | None
    disk_bps: float | None
    net_bps: float | None
    exits: float | None
    stale_since: float | None = None
    """time.time() of the row's last sample while its host is unreachable or silent, else None."""
    target: str | None = None
    """While it migrates: the host it moves to (one row for both halves, read "lab1→lab2")."""
    major_faults: float | None = None
    """The guest's major page faults/s (memory pressure): no column, but it has levels (thresholds)."""
    disk_latency_ms: float | None = None
    """Its slowest disk's time per request: no column, but it has levels."""


class HostRows(list[DomainRow]):
    """One host's rows as `Fleet.rows` hands them out, and what changed since the list before them.

    `base` is the list these were derived from and `changed` the rows that differ from it (the same
    domains: nothing came or went). A reader that holds `base` updates from `changed` alone instead of
    looking at every row: a focused round of a 10 000-domain host changes the few dozen rows it sampled.
    `base` None: built whole, compare everything. Only one step back is kept (no chain of old lists).
    """

    __slots__ = ("base", "changed")

    def __init__(
        self, rows: Iterable[DomainRow] = (), *, base: HostRows | None = None, changed: tuple[DomainRow, ...] = ()
    ) -> None:
        super().__init__(rows)
        self.base = base
        self.changed = changed


def row_figures(row: DomainRow) -> dict[str, float | None]:
    """A row's figures that have levels (`vmtui.thresholds.MEASURES`); CPU as a share of its vCPUs."""
    return {
        "cpu": cpu_of_vcpus(row.cpu, row.vcpus),
        "steal": row.steal,
        "overhead": row.overhead,
        "exits": row.exits,
        "memory": row.major_faults,
        "disk_latency": row.disk_latency_ms,
    }


def row_alerts(row: DomainRow, thresholds: Thresholds) -> tuple[tuple[str, Level], ...]:
    """The row's figures at warn or worse; none for a row whose figures are stale or that has no process."""
    if row.stale_since is not None or row.state == "shut-off":
        return ()
    return thresholds.alerts(row_figures(row))


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One sample of a domain, for the domain screen's graphs."""

    cpu: float
    overhead: float
    io_bps: float
    memory_kib: float


class History:
    """One domain's last `maxlen` points as four columns of doubles in a ring: 32 bytes a point.

    A deque of HistoryPoint objects cost ~170 bytes a point (the object and its four floats) once a
    domain's figures move: 51 KB per domain at 300 points, 500 MB for a host of 10 000 domains whose
    off-screen rows get a point every slow round. Iterating yields HistoryPoints, oldest first.
    """

    __slots__ = ("_next", "_values", "maxlen")

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self._values = array("d")
        self._next = 0
        """Where the next point goes once the ring is full (the oldest point's index)."""

    def append(self, point: HistoryPoint) -> None:
        values = (point.cpu, point.overhead, point.io_bps, point.memory_kib)
        if len(self._values) < 4 * self.maxlen:
            self._values.extend(values)
            return
        at = 4 * self._next
        self._values[at : at + 4] = array("d", values)
        self._next = (self._next + 1) % self.maxlen

    def __len__(self) -> int:
        return len(self._values) // 4

    def __iter__(self) -> Iterator[HistoryPoint]:
        values = self._values
        for i in itertools.chain(range(self._next, len(self)), range(self._next)):
            yield HistoryPoint(*values[4 * i : 4 * i + 4])


@dataclass(slots=True)
class HostView:
    """One host as the UI sees it."""

    name: str
    read_only: bool
    status: str = "connecting"
    """connecting, connected, disconnected, or ended (a recording that has played out)."""
    info: HostInfo | None = None
    reason: str = ""
    down_since: float | None = None
    retry_at: float | None = None
    tick: Tick | None = None
    domains: Mapping[str, DomainInfo] = field(default_factory=lambda: MappingProxyType({}))
    maintenance: bool = False
    """Saved as in maintenance (`vmtui host drain`): no migrate target, no drain target."""
    colour: str | None = None
    """The saved host's colour (hosts.toml `colour`): its rows' HOST cell and its screens' header."""

    @property
    def last_sample_wall(self) -> float | None:
        return self.tick.sample.wall if self.tick else None

    @property
    def recorded(self) -> bool:
        return self.info is not None and self.info.source == "recording"

    _active: tuple[Mapping[str, DomainInfo], int, int] | None = field(default=None, repr=False, compare=False)
    """`domains` (by identity), its active guests and their max memory: read per tick, changed on events."""

    def _active_facts(self) -> tuple[int, int]:
        known = self._active
        if known is None or known[0] is not self.domains:
            active = [d for d in self.domains.values() if d.state in ACTIVE_STATES]
            known = self._active = (self.domains, len(active), sum(d.max_memory_kib for d in active))
        return known[1], known[2]

    def active_count(self) -> int:
        """Guests running (or paused, ...) as their XML facts say."""
        return self._active_facts()[0]

    def overcommit(self) -> float | None:
        """Sum of running guests' max memory over host memory (above 1.0 relies on ballooning/KSM/swap)."""
        if self.info is None or not self.info.memory_kib:
            return None
        return self._active_facts()[1] / self.info.memory_kib


class Fleet:
    """Hosts, their latest ticks, bounded history per domain UUID, events and actions in flight."""

    def __init__(
        self,
        hosts: list[tuple[str, bool]],
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        history_points: int = HISTORY_POINTS,
        thresholds: Thresholds = DEFAULT,
    ) -> None:
        self.hosts: dict[str, HostView] = {name: HostView(name, ro) for name, ro in hosts}
        self.thresholds = thresholds
        """The warn and critical levels (config.toml `[thresholds]`)."""
        self._critical: dict[str, frozenset[str]] = {}
        """Per host, the UUIDs last seen critical: a notification goes once per crossing into critical."""
        self._alert_levels: dict[str, tuple[HostRows, Thresholds, dict[str, Level], list[int]]] = {}
        """Per host, the rows last counted, each UUID's worst level and the count per level (the pane asks on
        every report): updated from the rows that changed."""
        self._critical_rows: dict[
            str, tuple[HostRows, Thresholds, dict[str, tuple[DomainRow, tuple[str, ...]]], set[str]]
        ] = {}
        """Per host, the rows `newly_critical` last looked at, those of them critical (with their critical
        figures' keys) and the UUIDs at warn or worse: updated from the rows that changed."""
        self.history: dict[str, History] = {}
        self.interval = interval
        self.clock = clock
        # Written only by the methods of "operations in flight" below: the one place that says what is busy.
        self._pending: dict[str, str] = {}
        """UUID -> what runs on it now ("pausing…"): one operation at a time per domain."""
        self._requested: dict[str, str] = {}
        """UUID -> what the guest was asked to do and has not done yet ("shutting down…"): shown, never a lock."""
        self._migrating: dict[str, tuple[str, str | None]] = {}
        """UUID -> (source, target or None while unknown) of migrations in flight: one row shows both halves."""
        self._incoming: dict[str, str] = {}
        """UUID -> the host where libvirt announced an incoming migration (names the target of a foreign one)."""
        self._events: dict[str, tuple[str, float]] = {}
        """UUID -> (state an event implied, when): newer than the samples until one catches up."""
        self._points = history_points
        # Per host and UUID, what the last row was built from: a domain whose metrics and facts are the
        # same objects as last tick (the collector reuses them while counters stand still) costs nothing
        # to redraw. Nested by host, not keyed by (host, UUID): no key tuple per domain (~0.5 MB at 10 000).
        self._last_row: dict[str, dict[str, tuple[object, ...]]] = {}
        """Per host, per UUID: one row per copy, even when the same UUID runs on two hosts."""
        self._running_sets: dict[str, tuple[object, object, frozenset[str]]] = {}
        """Per host, the UUIDs running there, and the domains and metrics they were read from."""
        self._host_rows: dict[str, tuple[tuple[object, ...], HostRows, dict[str, DomainRow]]] = {}
        """Per host, what its last rows were built from, the list itself and its rows by UUID: a tick that
        changed none of it (an idle host, or a round that sampled only rows whose counters stood still)
        returns the same list, which the table recognises without looking at a row."""
        self._sampled_since: dict[str, set[str] | None] = {}
        """Per host, the domains focused rounds sampled since its rows were last built (only those can have
        new metrics: the others carry their objects over); None after anything else (build them all)."""

    # ----- hosts ---------------------------------------------------------------------------------

    def add_host(self, name: str, read_only: bool) -> HostView:
        view = self.hosts[name] = HostView(name, read_only)
        return view

    def remove_host(self, name: str) -> None:
        """Forget a host and the history of its domains (unless another host holds them now)."""
        view = self.hosts.pop(name, None)
        self._host_rows.pop(name, None)
        self._sampled_since.pop(name, None)
        self._running_sets.pop(name, None)
        self._critical.pop(name, None)
        self._critical_rows.pop(name, None)
        self._alert_levels.pop(name, None)
        if view is not None:
            self._forget(set(view.domains) | set(view.tick.domains if view.tick else ()))

    def add_host_refusal(self) -> str | None:
        """A dashboard of recordings only is a replay: no live hosts to add."""
        if self.hosts and all(v.recorded for v in self.hosts.values()):
            return "a replay shows recorded hosts only"
        return None

    def host(self, name: str) -> HostView:
        """A watched host; KeyError for any other (a host is added by `add_host`, never by a lookup)."""
        return self.hosts[name]

    # ----- operations in flight: the only writers of what is busy ----------------------------------

    def begin(self, uuid: str, pending: str) -> None:
        """An operation started on `uuid`; `pending` ("pausing…") shows in its row until `end`."""
        self._pending[uuid] = pending

    def end(self, uuid: str) -> None:
        self._pending.pop(uuid, None)

    def pending(self, uuid: str) -> str | None:
        """What runs on `uuid` now ("pausing…"), or None."""
        return self._pending.get(uuid)

    def requested(self, uuid: str, word: str) -> None:
        """The guest was asked (a shutdown): `word` shows in its row until `answered`.

        Not an operation in flight: the other keys stay open (a guest that ignores the request is forced off).
        """
        self._requested[uuid] = word

    def answered(self, uuid: str) -> None:
        """The guest acted on the request, or the wait for it ended."""
        self._requested.pop(uuid, None)

    def busy_refusal(self, uuid: str) -> str | None:
        """The "... still running" refusal while an operation runs on `uuid`, else None."""
        return refusals.busy_refusal(self._pending.get(uuid))

    def shown_state(self, uuid: str, host: str | None = None) -> str:
        """What a domain's row and screen say: the operation in flight, else the effective state."""
        return self._pending.get(uuid) or self._requested.get(uuid) or self.state_of(uuid, host)

    def migration_began(self, uuid: str, source: str, target: str | None, pending: str) -> None:
        """A migration of `uuid` runs from `source` (to `target`, None while unknown): busy until it ends."""
        self._pending[uuid] = pending
        self._migrating[uuid] = (source, target)

    def incoming_on(self, host: str, uuid: str) -> None:
        """libvirt announced the target's half of a migration: it names the target of a foreign one."""
        self._incoming[uuid] = host
        move = self._migrating.get(uuid)
        if move is not None and move[1] is None and move[0] != host:
            self._migrating[uuid] = (move[0], host)

    def incoming_host(self, uuid: str) -> str | None:
        """Where libvirt announced an incoming half of `uuid`, or None."""
        return self._incoming.get(uuid)

    def migration_ended(self, uuid: str) -> None:
        """A migration ended: the domain is one host's again, and idle."""
        self._pending.pop(uuid, None)
        self._migrating.pop(uuid, None)
        self._incoming.pop(uuid, None)

    def sample_age(self, view: HostView) -> float | None:
        """Seconds since the host's newest sample, once it is older than two poll intervals; else None."""
        wall = view.last_sample_wall
        if wall is None or view.status == "ended" or view.recorded:
            return None  # a recording's samples are old by nature: their age says nothing
        age = self.clock() - wall
        return age if age > max(STALE_AFTER_INTERVALS * self.interval, STALE_AFTER_MIN_S) else None

    def stale_since(self, view: HostView) -> float | None:
        """When the host's rows stopped being fresh: disconnected, or silent for two intervals."""
        if view.status == "disconnected" or self.sample_age(view) is not None:
            return view.last_sample_wall
        return None

    def write_refusal(self, view: HostView) -> str | None:
        """Why nothing may be changed on this host now, or None."""
        return refusals.write_refusal(
            view.name,
            recorded=view.recorded,
            read_only=view.read_only or (view.info is not None and view.info.read_only),
            status=view.status,
            silent_s=self.sample_age(view),
        )

    # ----- updates from the pollers ---------------------------------------------------------------

    def connected(self, name: str, info: HostInfo) -> None:
        view = self.hosts[name]
        view.info, view.status = info, "connected"

    def disconnected(self, name: str, reason: str, since: float | None, retry_at: float | None) -> bool:
        """The host is lost (again); True when it was not already, so the change is said once, not per retry."""
        view = self.hosts[name]
        was = view.status
        view.status, view.reason = "disconnected", reason
        view.down_since, view.retry_at = since, retry_at
        return was != "disconnected"

    def source_ended(self, name: str) -> None:
        """A recording played out: its rows stay as they were last."""
        self.hosts[name].status = "ended"

    def _forget(self, uuids: set[str]) -> None:
        """Drop the history and caches of these domains, except those a host holds now (migrated ones)."""
        if not uuids:
            return
        held = {u for v in self.hosts.values() for u in v.domains}
        self._host_rows.clear()
        gone = uuids - held
        for uuid in gone:
            self.history.pop(uuid, None)
            self._events.pop(uuid, None)
        for host in list(self._last_row):
            if host not in self.hosts:
                del self._last_row[host]
                continue
            built = self._last_row[host]
            for uuid in gone & built.keys():
                del built[uuid]

    def sampled(self, name: str, tick: Tick, domains: Mapping[str, DomainInfo]) -> None:
        view = self.host(name)
        old_tick, old_domains = view.tick, view.domains
        view.tick, view.domains = tick, domains
        view.status = "connected"
        view.down_since = view.retry_at = None
        view.reason = ""
        wall = tick.sample.wall
        aged = tick.aged
        for uuid, (_state, at) in list(self._events.items()):
            if uuid in domains and aged.get(uuid, wall) >= at:
                del self._events[uuid]  # this domain's sample was taken after the event: it says the truth now
        metrics = tick.domains
        moved = self._moved(name, old_tick, old_domains, tick)
        self._note_sampled(name, moved)
        # A focused round sampled only some domains (the rest are aged: no new point): visit just those.
        # A busy domain was in the sample but kept its older metrics (aged too): no new point either.
        fresh = (
            metrics.items()
            if not aged
            else [(d.uuid, metrics[d.uuid]) for d in tick.sample.domains if d.uuid in metrics and d.uuid not in aged]
        )
        for uuid, m in fresh:
            if m.elapsed_s <= 0:
                continue  # the first sample of a domain has no rates yet
            hist = self.history.get(uuid)
            if hist is None:
                hist = self.history[uuid] = History(self._points)
            # Built for the sampled domains only (a focused round's few): no per-domain cache of points kept.
            io = (m.disk_read_bps or 0) + (m.disk_write_bps or 0) + (m.net_rx_bps or 0) + (m.net_tx_bps or 0)
            mem = m.balloon_current_kib or (m.rss_kib or 0)
            hist.append(HistoryPoint(m.cpu_pct or 0.0, m.overhead_pct or 0.0, io, float(mem)))
        self._carry_running(name, old_tick, old_domains, tick, moved)
        # Only this host's vanished domains lose their history: other hosts' samples arrive separately.
        if old_domains is not domains or old_tick is None or old_tick.domains.keys() != metrics.keys():
            before = set(old_domains) | set(old_tick.domains if old_tick else ())
            self._forget(before - set(domains) - set(metrics))

    def domain_event(self, uuid: str, event: str, wall: float) -> bool:
        """Note what a lifecycle event implies; False when the event changes no state."""
        state = EVENT_STATES.get(event)
        if state is None:
            return False
        self._events[uuid] = (state, wall)
        return True

    # ----- reading ----------------------------------------------------------------------------------

    def find(
        self, uuid: str, host: str | None = None
    ) -> tuple[HostView, DomainInfo | None, DomainMetrics | None] | None:
        """The host holding `uuid` (`host`'s copy when given: a UUID may run on two hosts, see
        `split_brain`), its XML facts and latest metrics."""
        views = self.hosts.values() if host is None else [v for v in self.hosts.values() if v.name == host]
        for view in views:
            info = view.domains.get(uuid)
            metrics = view.tick.domains.get(uuid) if view.tick else None
            if info is not None or metrics is not None:
                return view, info, metrics
        return None

    def name_of(self, uuid: str) -> str:
        found = self.find(uuid)
        if found is None:
            return uuid
        _view, info, m = found
        return info.name if info else (m.name if m else uuid)

    def state_of(self, uuid: str, host: str | None = None) -> str:
        """The effective state: an event newer than the last sample, else the sample's, else the XML's."""
        found = self.find(uuid, host)
        event = self._events.get(uuid)
        if found is None:
            return "gone"
        _view, info, m = found
        if event is not None:
            state = event[0]
            # A transient domain that stops is gone, not shut off: nothing of it remains on the host.
            if state == "shut-off" and info is not None and not info.persistent:
                return "gone"
            return state
        return m.state if m is not None else (info.state if info else "?")

    def action_refusal(self, uuid: str | None, action: str, host: str | None = None) -> str | None:
        """Why a lifecycle action cannot run on `uuid` (`host`'s copy) now (host, operation in flight,
        state), or None."""
        spec = BY_KEY.get(action)
        found = self.find(uuid, host) if uuid else None
        if spec is None or uuid is None or found is None:
            return refusals.NO_DOMAIN
        view, info = found[0], found[1]
        return refusals.action_refusal(
            spec,
            write=self.write_refusal(view),
            pending=self._pending.get(uuid),
            state=self.state_of(uuid, view.name),
            persistent=info.persistent if info else True,
            template=info.template if info else False,
        )

    def tool_refusal(self, uuid: str | None, *, running: bool = False, writes: bool = True) -> str | None:
        """Why a console, an XML edit or a snapshot action cannot run on `uuid` now, or None.

        `running`: it needs a running domain (a console). `writes`: it changes the host or needs a
        read-write connection; reading XML does neither, and works on every live host.
        """
        found = self.find(uuid) if uuid else None
        if uuid is None or found is None:
            return refusals.NO_DOMAIN
        view = found[0]
        return refusals.tool_refusal(
            recorded=view.recorded,
            write=self.write_refusal(view) if writes else None,
            pending=self._pending.get(uuid),
            twins=self.split_brain().get(uuid) if writes else None,
            state=self.state_of(uuid),
            running=running,
            writes=writes,
        )

    def operation_refusal(self, host: str, uuid: str | None) -> str | None:
        """Why a change a screen asks for (on `host`, of `uuid` when it names one) cannot run now, or None."""
        view = self.hosts.get(host)
        if view is None:
            return f"{host} is no longer watched"
        return refusals.operation_refusal(
            write=self.write_refusal(view), pending=self._pending.get(uuid) if uuid is not None else None
        )

    def migrate_refusal(self, uuid: str | None, targets: list[str]) -> str | None:
        """Why `uuid` cannot be migrated now (host, job in flight, twin, state, `targets` empty), or None."""
        found = self.find(uuid) if uuid else None
        if uuid is None or found is None:
            return refusals.NO_DOMAIN
        return refusals.migrate_refusal(
            write=self.write_refusal(found[0]),
            pending=self._pending.get(uuid),
            twins=self.split_brain().get(uuid),
            state=self.state_of(uuid),
            has_target=bool(targets),
        )

    def aged(self, name: str) -> Mapping[str, float]:
        """Domains of this host not sampled in its last round (off screen), with their sample's time.time()."""
        view = self.hosts.get(name)
        return view.tick.aged if view is not None and view.tick is not None else MappingProxyType({})

    def split_brain(self) -> Mapping[str, tuple[str, ...]]:
        """UUIDs running on two or more watched hosts at once, with those hosts (RELIABILITY #31; the rule
        is `split_brain.twins`). Another tool made it (a start after a temporary migration): both copies
        write the same disks. Per host, the running set is recomputed only when its domains or samples
        changed."""
        return twins([(view.name, self._running(view)) for view in self.hosts.values()])

    def _carry_running(
        self,
        name: str,
        old_tick: Tick | None,
        old_domains: Mapping[str, DomainInfo],
        tick: Tick,
        moved: Collection[str] | None,
    ) -> None:
        """The host's running set from the last round's and the domains whose metrics moved (`_moved`).

        The others carry their metrics objects over unchanged, so only those can have started or stopped:
        ~the rows on screen after a focused round, the domains whose counters moved after a whole one; not
        the 10 000 of a large host (split_brain() runs per tick). Anything else (new facts, a domain gone
        or new) recomputes it in `_running`.
        """
        view = self.hosts[name]
        known = self._running_sets.get(name)
        if moved is None or known is None or old_tick is None or known[0] is not old_domains:
            return
        if known[1] is not old_tick.domains:
            return
        self._running_sets[name] = (
            view.domains,
            tick.domains,
            running_after(known[2], tick.domains, view.domains, moved),
        )

    def _moved(
        self, name: str, old_tick: Tick | None, old_domains: Mapping[str, DomainInfo], tick: Tick
    ) -> Collection[str] | None:
        """The domains whose metrics may differ from the round before's, or None when more than metrics
        changed (new facts, a domain come or gone: then everything is looked at again).

        A focused round (some domains aged) carries every unsampled domain's metrics object over: those
        it sampled. A whole round hands out the same object again for a domain whose counters stood still
        (the collector's reuse): those whose object is new (one identity check each, no row built).
        """
        if old_tick is None or self.hosts[name].domains is not old_domains:
            return None
        if tick.domains.keys() != old_tick.domains.keys():
            return None
        if tick.aged:
            return [d.uuid for d in tick.sample.domains]
        old = old_tick.domains
        return [uuid for uuid, m in tick.domains.items() if old[uuid] is not m]

    def _running(self, view: HostView) -> frozenset[str]:
        metrics = view.tick.domains if view.tick else {}
        known = self._running_sets.get(view.name)
        if known is not None and known[0] is view.domains and known[1] is metrics:
            return known[2]
        uuids = running_uuids(metrics, view.domains)
        self._running_sets[view.name] = (view.domains, metrics, uuids)
        return uuids

    def split_refusal(self, uuid: str) -> str | None:
        """Why nothing but a lifecycle action on one chosen copy may touch `uuid`: it runs on two hosts."""
        return split_refusal(self.split_brain().get(uuid))

    def _note_sampled(self, name: str, moved: Collection[str] | None) -> None:
        """Remember which domains can have new metrics since the host's rows were last built (`_moved`);
        None makes `rows` build every row again."""
        since = self._sampled_since.get(name)
        if since is None or moved is None:
            self._sampled_since[name] = None
            return
        since.update(moved)

    def rows(self, name: str) -> HostRows:
        """The table rows of one host, marked stale while the host is down or silent.

        The same list while nothing changed; after a focused round, a new one whose `changed` says which
        rows it replaced (those the round sampled whose figures moved), built without visiting the rest.
        """
        view = self.host(name)
        stale = self.stale_since(view)
        metrics = view.tick.domains if view.tick else {}
        split = self.split_brain()
        # Compared with ==, which is identity first, in C: the pollers reuse unchanged objects.
        key = (
            view.domains,
            metrics,
            stale,
            dict(self._pending),
            dict(self._requested),
            dict(self._migrating),
            dict(self._events),
            split,
        )
        known = self._host_rows.get(name)
        sampled = self._sampled_since.get(name)
        self._sampled_since[name] = set()  # the rows returned are those of the host as it is now
        if known is not None and known[0] == key:
            return known[1]
        if known is not None and sampled is not None and known[0][0] is view.domains and known[0][2:] == key[2:]:
            # Only metrics moved, and only those of the domains rounds moved since the last build (`_moved`).
            old_rows, by_uuid = known[1], known[2]
            changed = []
            for uuid in sampled:
                old = by_uuid.get(uuid)
                row = self._row(name, uuid, view, metrics, stale, split)
                if old is None or row is None:
                    break  # not a row before, or not one now: only a whole build says what the list is
                if row is not old and row != old:  # a new object with the same figures draws the same
                    changed.append(row)
            else:
                if not changed:
                    self._host_rows[name] = (key, old_rows, by_uuid)
                    return old_rows
                for row in changed:
                    by_uuid[row.uuid] = row
                old_rows.base = None  # one step back only: a reader further behind compares everything
                # Most rows changed (a whole round of a busy fleet): readers walk them all anyway, and the
                # old list with its rows need not outlive this call.
                most = 2 * len(changed) > len(by_uuid)
                rows = (
                    HostRows(by_uuid.values())
                    if most
                    else HostRows(by_uuid.values(), base=old_rows, changed=tuple(changed))
                )
                self._host_rows[name] = (key, rows, by_uuid)
                return rows
        by_uuid = {}
        for uuid in set(view.domains) | set(metrics):
            row = self._row(name, uuid, view, metrics, stale, split)
            if row is not None:
                by_uuid[uuid] = row
        rows = HostRows(by_uuid.values())
        self._host_rows[name] = (key, rows, by_uuid)
        return rows

    def _row(
        self,
        name: str,
        uuid: str,
        view: HostView,
        metrics: Mapping[str, DomainMetrics],
        stale: float | None,
        split: Mapping[str, tuple[str, ...]],
    ) -> DomainRow | None:
        """One domain's row (the same object while its facts, metrics and state are), or None for the
        target's half of a migration (the source's row shows it)."""
        move = self._migrating.get(uuid)
        if move is not None and move[0] != name:
            return None
        target = move[1] if move is not None else None
        info = view.domains.get(uuid)
        m = metrics.get(uuid)
        state = self._pending.get(uuid) or self._requested.get(uuid)
        if state is None:
            if move is None and uuid not in self._events:
                state = m.state if m is not None else (info.state if info else "?")  # state_of, inlined
            else:
                state = self.state_of(uuid, name)
        state = also_on(state, split.get(uuid), name)
        state = shown_state(state, template=info is not None and info.template)
        built = self._last_row.get(name)
        if built is None:
            built = self._last_row[name] = {}
        cached = built.get(uuid)
        # Identity, not equality, for the metrics and facts: comparing them field by field costs more.
        if (
            cached is not None
            and cached[0] is m
            and cached[1] is info
            and cached[2:4] == (stale, state)
            and isinstance(cached[4], DomainRow)
            and cached[4].target == target
        ):
            return cached[4]
        row = DomainRow(
            uuid=uuid,
            host=name,
            name=info.name if info else (m.name if m else uuid),
            state=state,
            accel=str(info.accelerator) if info else "?",
            vcpus=info.vcpus if info else (m.vcpu_count if m else 0),
            cpu=m.cpu_pct if m else None,
            steal=m.steal_pct if m else None,
            overhead=m.overhead_pct if m else None,
            mem_cur_kib=_first(m.balloon_current_kib if m else None, info.memory_kib if info else None),
            mem_max_kib=_first(m.balloon_max_kib if m else None, info.max_memory_kib if info else None),
            disk_bps=_add(m.disk_read_bps, m.disk_write_bps) if m else None,
            net_bps=_add(m.net_rx_bps, m.net_tx_bps) if m else None,
            exits=m.exits_per_s if m else None,
            stale_since=stale,
            target=target,
            major_faults=m.major_faults_per_s if m else None,
            disk_latency_ms=worst_disk_latency_ms(m) if m else None,
        )
        built[uuid] = (m, info, stale, state, row)
        return row

    # ----- thresholds ------------------------------------------------------------------------------

    def alert_counts(self, name: str) -> tuple[int, int]:
        """(warn, critical): how many of the host's domains are at each level at worst."""
        rows = self.rows(name)
        known = self._alert_levels.get(name)
        if known is not None and known[0] is rows and known[1] is self.thresholds:
            return known[3][1], known[3][2]  # the very rows of last time (the pane asks on every report)
        if known is not None and rows.base is known[0] and known[1] is self.thresholds:
            levels, counts = known[2], known[3]
            for row in rows.changed:  # a focused round: only the rows it changed can have changed level
                counts[levels[row.uuid]] -= 1
                level = levels[row.uuid] = worst(lv for _k, lv in row_alerts(row, self.thresholds))
                counts[level] += 1
        else:
            levels = {r.uuid: worst(lv for _k, lv in row_alerts(r, self.thresholds)) for r in rows}
            counts = [0, 0, 0]
            for level in levels.values():
                counts[level] += 1
        self._alert_levels[name] = (rows, self.thresholds, levels, counts)
        return counts[Level.WARN], counts[Level.CRITICAL]

    def newly_critical(self, name: str) -> list[tuple[DomainRow, tuple[str, ...]]]:
        """The host's rows that became critical since the last call, with their critical figures' keys.

        Once per crossing, with hysteresis: a row told is known as critical until a sample finds none of
        its figures even at warn; only then does its next crossing into critical tell again. A figure
        that wavers about its critical level (steal going 19, 22, 18, 25 %) is one notification, not
        one per tick above the line. A stale host's rows keep what they were: no sample said otherwise.
        Asked per sample: it looks at the rows that changed since the last call (`HostRows.changed`).
        """
        if self.stale_since(self.host(name)) is not None:
            return []
        rows = self.rows(name)
        known = self._critical_rows.get(name)
        if known is not None and known[0] is rows and known[1] is self.thresholds:
            return []  # the same rows tell the same: nothing crossed since
        looked_at: Iterable[DomainRow] = rows
        if known is not None and rows.base is known[0] and known[1] is self.thresholds:
            now, alerting, looked_at = known[2], known[3], rows.changed
        else:
            now, alerting = {}, set()
        for row in looked_at:
            alerts = row_alerts(row, self.thresholds)
            if alerts:
                alerting.add(row.uuid)
            else:
                alerting.discard(row.uuid)
            keys = tuple(k for k, lv in alerts if lv is Level.CRITICAL)
            if keys:
                now[row.uuid] = (row, keys)
            else:
                now.pop(row.uuid, None)
        self._critical_rows[name] = (rows, self.thresholds, now, alerting)
        was = self._critical.get(name, frozenset())
        self._critical[name] = frozenset(now) | (was & alerting)
        return [now[u] for u in sorted(now, key=lambda u: now[u][0].name) if u not in was]


def _add(a: float | None, b: float | None) -> float | None:
    if a is None and b is None:
        return None
    return (a or 0.0) + (b or 0.0)


def _first(a: int | None, b: int | None) -> int | None:
    return a if a else b
