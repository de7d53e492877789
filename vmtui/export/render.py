"""The exporter's page, rendered by hand at poll time: what a scrape serves without rendering anything.

prometheus-client renders every sample of every scrape from scratch: the label set of each series is
sorted, validated and escaped again, each value formatted again (about 11 us per series, 0.8 s of CPU for
the 71 000 series of 1000 QEMU guests). Here each host's lines are rendered when its poll arrives, on the
exporter's driver thread, in the text format 0.0.4 exactly as prometheus-client writes it
(its `floatToGoString` for values, labels sorted by name, label values escaped as its `generate_latest`
does); a test compares the two byte for byte after sorting the lines.

- A series' label set (`name{labels} `) is built once and kept while the series is in its host's polls.
- A value is formatted once per poll, and not at all when it did not change since the last one.
- A scrape joins the hosts' rendered parts into one page, once per change of the fleet; the gzip of that
  page is made once too, and every scrape until the next poll reuses both. Only the few series that move
  with the clock (each host's sample age) and prometheus-client's own collectors (process, GC, platform)
  are rendered per scrape, appended to the page (and to a copy of its gzip stream: no recompression).
"""

from __future__ import annotations

import math
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from prometheus_client import utils as prometheus_utils

from vmtui.export.families import COUNTERS, FAMILIES, CounterGuard, Direct, HostView, Walk, is_fresh
from vmtui.models import StatValue

GZIP_LEVEL = 1
"""gzip level of the page: level 1 takes a ninth of level 9's CPU for a page about 30 % larger."""
GZIP_WBITS = 31
"""zlib's window bits for a gzip stream (header and trailer), as `Content-Encoding: gzip` needs."""
value_text = cast(Callable[[float], str], prometheus_utils.floatToGoString)
"""A value as prometheus-client writes it (Go's float format: `1.34217728e+08`, `+Inf`, `NaN`)."""
AGE = "vmtui_host_sample_age_seconds"
"""The family rendered per scrape (it moves with the clock); it ends the page."""


def family_header(name: str) -> str:
    """`# HELP` and `# TYPE` as prometheus-client writes them (info families are gauges in text 0.0.4)."""
    kind, _labels, doc = FAMILIES[name]
    kind = "gauge" if kind == "info" else kind
    help_text = doc.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"


def escape_value(value: str) -> str:
    """A label value, escaped as prometheus-client's text format escapes it."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def label_set(name: str, pairs: Sequence[tuple[str, str]]) -> str:
    """`name{a="..",b=".."} `: labels sorted by name, as prometheus-client orders them."""
    inner = ",".join(f'{key}="{escape_value(value)}"' for key, value in sorted(pairs))
    return f"{name}{{{inner}}} " if inner else f"{name} "


class _Family:
    """One family's series of one host: their label sets and last values, kept from poll to poll.

    Changed in place (a poll allocates a string per moved value, no new entry per series): tens of
    thousands of entries rebuilt every poll kept Python's cyclic collector busy for nothing.
    """

    __slots__ = ("bodies", "counter", "labels", "last", "name", "poll", "stamped")

    def __init__(self, name: str) -> None:
        self.name = name
        self.labels = FAMILIES[name][1]
        self.counter = name in COUNTERS
        self.last: dict[tuple[str, ...], list[Any]] = {}
        """Label values -> [label set, last value, the line without its end, the poll that last had it]."""
        self.bodies: list[str] = []
        """This poll's lines; emptied in place by `begin` (a domain's `_DirectSeries` holds it)."""
        self.poll = 0
        self.stamped = 0
        """Entries of `last` in this poll (a domain's direct series are kept apart, in `_DirectSeries`)."""

    def begin(self) -> None:
        self.bodies.clear()
        self.poll += 1
        self.stamped = 0

    def end(self, stamp: str) -> str:
        """This poll's lines; series not in it are forgotten (their domain went away).

        Counters end in their sample's time (`stamp`, the same for every series of the poll), the rest in
        a newline alone: one join either way, no per-line concatenation.
        """
        if len(self.last) > self.stamped:
            poll = self.poll
            self.last = {k: v for k, v in self.last.items() if v[3] == poll}
        if not self.bodies:
            return ""
        end = stamp if self.counter else "\n"
        return end.join(self.bodies) + end


class _DirectSeries:
    """One domain's direct series (`families.Direct`): each one's label set, last value and line, and the
    family's list its line goes to. Kept while the domain keeps its shape and is in its host's polls."""

    __slots__ = ("entries", "render")

    def __init__(self, plan: Direct, d: tuple[str, str, str], families: dict[str, _Family]) -> None:
        self.entries: list[tuple[list[Any], list[str]]] = []
        """Per series: ([label set, last value, line], its family's `bodies`)."""
        for name, labels in zip(plan.families, plan.labels, strict=True):
            family = families[name]
            head = label_set(name, tuple(zip(family.labels, (*d, *labels), strict=True)))
            self.entries.append(([head, None, ""], family.bodies))
        self.render = 0


class HostRenderer:
    """One host's series rendered by hand, poll by poll (one thread at a time: `FleetPage` locks)."""

    def __init__(self) -> None:
        self._families = {name: _Family(name) for name in FAMILIES}
        self._guard = CounterGuard()
        self._walk = Walk(self._add, self._info, self._guard, self._direct)
        self._direct_series: dict[tuple[tuple[str, str, str], Direct], _DirectSeries] = {}
        self._renders = 0

    def _direct(self, plan: Direct, d: tuple[str, str, str], raw: Mapping[str, StatValue], _ts: float) -> None:
        """A domain's direct series: no label tuple, lookup or call per series, only the values' own work."""
        known = self._direct_series.get((d, plan))
        if known is None:
            known = self._direct_series[d, plan] = _DirectSeries(plan, d, self._families)
        known.render = self._renders
        get = raw.get
        for value, scale, (entry, bodies) in zip([get(k) for k in plan.keys], plan.scales, known.entries, strict=True):
            # Exact types: libvirt's booleans (`vcpu.N.guest_mode.cur`) are bools, which are ints but no counters.
            if type(value) is int or type(value) is float:
                number = float(value) * scale
                if entry[1] != number:
                    entry[1], entry[2] = number, entry[0] + value_text(number)
                bodies.append(entry[2])

    def _add(self, name: str, labels: tuple[str, ...], value: float, _ts: float | None) -> None:
        family = self._families[name]
        known = family.last.get(labels)
        if known is None:
            head = label_set(name, tuple(zip(family.labels, labels, strict=True)))
            known = family.last[labels] = [head, value, head + value_text(value), family.poll]
        else:
            if known[1] != value:
                known[1], known[2] = value, known[0] + value_text(value)
            known[3] = family.poll
        family.stamped += 1
        family.bodies.append(known[2])

    def _info(self, name: str, labels: tuple[str, ...], values: dict[str, str]) -> None:
        family = self._families[name]
        key = (*labels, *values.values())
        known = family.last.get(key)
        if known is None:
            ids = FAMILIES[name][1][: len(labels)]
            head = label_set(name, (*zip(ids, labels, strict=True), *values.items()))
            known = family.last[key] = [head, 1.0, head + value_text(1.0), family.poll]
        known[3] = family.poll
        family.stamped += 1
        family.bodies.append(known[2])

    def _rendered(self, names: Sequence[str], fill: Callable[[], None], stamp: str = "\n") -> dict[str, bytes]:
        families = [self._families[n] for n in names]
        for family in families:
            family.begin()
        fill()
        return {f.name: text.encode() for f in families if (text := f.end(stamp))}

    def facts(self, view: HostView) -> dict[str, bytes]:
        """The host's own series (up, why not, facts, last sample time): rendered on every event."""
        return self._rendered(FACT_FAMILIES, lambda: self._walk.host_facts(view))

    def sample(self, view: HostView) -> dict[str, bytes]:
        """The host's sample and its domains: rendered when a poll arrives."""
        if view.sampled is None:
            return {}
        # The counters' time as prometheus-client writes it: milliseconds, truncated.
        stamp = f" {int(view.sampled.tick.sample.wall * 1000):d}\n"
        self._guard.begin()
        self._renders += 1
        try:
            return self._rendered(SAMPLE_FAMILIES, lambda: self._walk.host_sample(view), stamp)
        finally:
            self._guard.end()
            # Domains gone (or of a new shape) since the last poll take their series with them.
            renders = self._renders
            if any(known.render != renders for known in self._direct_series.values()):
                self._direct_series = {k: v for k, v in self._direct_series.items() if v.render == renders}


FACT_FAMILIES = (
    "vmtui_host_up",
    "vmtui_host_error_info",
    "vmtui_host_info",
    "vmtui_host_cpus",
    "vmtui_host_hugepages",
    "vmtui_host_hugepage_size_bytes",
    "vmtui_host_last_sample_timestamp_seconds",
)
SAMPLE_FAMILIES = tuple(name for name in FAMILIES if name not in FACT_FAMILIES and name != AGE)
PAGE_FAMILIES = tuple(name for name in FAMILIES if name != AGE)
"""The families of the page in its order (FAMILIES' but the age, which ends it)."""
HEADERS = {name: family_header(name).encode() for name in FAMILIES}


@dataclass(slots=True)
class HostPage:
    """What one host contributes to the page (immutable once handed to the page)."""

    view: HostView
    facts: dict[str, bytes] = field(default_factory=dict)
    sample: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Body:
    """The page of one state of the fleet, and its gzip stream left open for the per-scrape tail."""

    key: tuple[int, frozenset[str]]
    text: bytes
    gzip_head: bytes
    gzip: zlib._Compress  # noqa: SLF001 - zlib's compressor type has no public name


@dataclass(frozen=True, slots=True)
class Page:
    """What one scrape serves: the fleet's page (shared by scrapes), then the part rendered for this one."""

    body: Body
    tail: bytes

    def plain(self) -> list[bytes]:
        return [self.body.text, self.tail]

    def gzipped(self) -> bytes:
        stream = self.body.gzip.copy()  # the page's compression state: only the tail is compressed now
        return self.body.gzip_head + stream.compress(self.tail) + stream.flush()

    def __len__(self) -> int:
        return len(self.body.text) + len(self.tail)


IDLE_PERIODS = 4
"""Not scraped for this many periods (or poll intervals, whichever is longer): polls are rendered by the
next scrape only."""


class ScrapeClock:
    """When the next scrape is due, from when the last ones came (Prometheus scrapes at a fixed period).

    With a poll every 5 s and a scrape every 15 s, two polls of three are never served: rendering them
    would triple the exporter's cost. A host's poll is rendered when it arrives if it is the last one the
    next scrape will see (the poll after it would come less than LEAD seconds before that scrape, or
    later); the others wait, and are simply superseded. Until two scrapes came, every poll is rendered.
    The period is the last gap between two scrapes: it follows a changed scrape interval at once (two
    Prometheus servers look like one scraping twice as often: more renders, never a missed poll).
    """

    LEAD = 0.5
    """Seconds a poll's rendering may take before the scrape it is for (the fleet's takes ~0.1 s)."""

    def __init__(self) -> None:
        self._times: deque[float] = deque(maxlen=2)

    def scraped(self, at: float) -> None:
        self._times.append(at)

    def render_now(self, at: float, interval: float | None) -> bool:
        """Whether a poll that arrived `at` (the next one `interval` s later) is for the next scrape."""
        times = self._times
        if interval is None or len(times) < 2:
            return True
        period = times[1] - times[0]
        if at - times[1] > IDLE_PERIODS * max(period, interval):
            return False  # no longer scraped: the next scrape, if any, renders what it serves
        if period <= interval:
            return True  # scraped at least as often as polled: every poll is served
        due = times[-1] + period
        if at > due:  # late (or no longer scraped): the next one is a whole number of periods on
            due += math.ceil((at - due) / period) * period
        return at + interval > due - self.LEAD


class FleetPage:
    """Every host's rendered parts, joined into the page on the first scrape after a change.

    One writer (the driver thread: `put`), any number of scrapes (`page`). Renderers run under `_render`
    (the driver's, or a scrape's that finds a poll not rendered yet: a scrape earlier than foreseen still
    serves every host's last poll); the hosts' parts are swapped and copied under `_lock`. Two scrapes at
    once (two Prometheus servers) join and compress a changed page once: the second waits for the first.
    """

    def __init__(
        self, hosts: Sequence[str], *, interval: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lock = threading.Lock()
        self._render = threading.Lock()
        self._join = threading.Lock()
        self._hosts: dict[str, HostPage] = {}
        """In the order the hosts were given: the page lists them so."""
        self._renderers: dict[str, HostRenderer] = {}
        self._waiting: dict[str, HostView] = {}
        """Hosts whose last poll is not rendered yet (see ScrapeClock), with it."""
        self._generation = 0
        self._body: Body | None = None
        self._interval = interval
        self._clock = clock
        self._scrapes = ScrapeClock()
        for name in hosts:  # every host is on the page from the start: down until its poller connects
            self.put(HostView(name, False, None, None), sampled=False)

    def put(self, view: HostView, *, sampled: bool) -> None:
        """A host's new state: its facts rendered now, its sample (when `sampled`) now or for the next scrape."""
        name = view.name
        with self._render:
            renderer = self._renderers.get(name)
            if renderer is None:  # once per host: its series' label sets and last values live in it
                renderer = self._renderers[name] = HostRenderer()
            facts = renderer.facts(view)
            with self._lock:
                old = self._hosts.get(name)
                sample = old.sample if old is not None else {}
            waits = sampled and not self._scrapes.render_now(self._clock(), self._interval)
            if sampled and not waits:
                sample = renderer.sample(view)
            with self._lock:
                self._hosts[name] = HostPage(view, facts, sample)
                if waits:
                    self._waiting[name] = view
                else:
                    self._waiting.pop(name, None)
                self._generation += 1

    def views(self) -> list[HostView]:
        with self._lock:
            return [h.view for h in self._hosts.values()]

    def page(self, now: float, tail: bytes = b"") -> Page:
        """The page at `now`, with `tail` (the other collectors' text) after the fleet's own series."""
        self._scrapes.scraped(self._clock())
        with self._lock:
            late = bool(self._waiting)
        if late:
            self._render_waiting()
        with self._lock:
            hosts = list(self._hosts.values())
            generation = self._generation
        fresh = frozenset(h.view.name for h in hosts if is_fresh(h.view, now))
        age = [HEADERS[AGE].decode()]

        def add(name: str, labels: tuple[str, ...], value: float, _ts: float | None) -> None:
            age.append(label_set(name, tuple(zip(FAMILIES[name][1], labels, strict=True))) + value_text(value))
            age.append("\n")

        walk = Walk(add, _no_info, CounterGuard())
        for host in hosts:
            walk.host_age(host.view, now)
        with self._join:
            body = self._body
            if body is None or body.key != (generation, fresh):
                body = self._body = _joined((generation, fresh), hosts)
        return Page(body, "".join(age).encode() + tail)

    def _render_waiting(self) -> None:
        """Render the polls that waited for a later scrape: this one came first."""
        with self._render:
            with self._lock:
                waiting, self._waiting = self._waiting, {}
            for name, view in waiting.items():
                sample = self._renderers[name].sample(view)
                with self._lock:
                    self._hosts[name] = replace(self._hosts[name], sample=sample)
                    self._generation += 1


def _no_info(_name: str, _labels: tuple[str, ...], _values: dict[str, str]) -> None:
    """The age walk has no info samples."""


def _joined(key: tuple[int, frozenset[str]], hosts: Sequence[HostPage]) -> Body:
    fresh = key[1]
    parts: list[bytes] = []
    for name in PAGE_FAMILIES:
        parts.append(HEADERS[name])
        for host in hosts:
            part = host.facts.get(name) or (host.sample.get(name) if host.view.name in fresh else None)
            if part:
                parts.append(part)
    text = b"".join(parts)
    stream = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
    return Body(key, text, stream.compress(text), stream)
