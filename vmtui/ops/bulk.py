"""One action over many domains: each domain's result kept, work bounded per host, Ctrl-C says what never started.

The CLI's `vmtui suspend --filter ...` and the TUI's marked rows share this function. The action's own
rules (`vmtui.ops.lifecycle`, `vmtui.ops.autostart`) decide each domain: a refusal is asked before any
change and reported with its reason; libvirt's failure is reported in libvirt's words; neither stops
the others. Each host gets a pool of at most `parallel` threads (never one per domain), each thread one
connection of its own, opened on its first domain: a host with 500 guests costs `parallel` connections.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from vmtui.drivers.base import Hypervisor
from vmtui.errors import OperationError, UsageError, VmtuiError
from vmtui.models import DomainInfo, HostEntry
from vmtui.ops import lifecycle
from vmtui.ops.autostart import refuse_transient, set_autostart
from vmtui.ops.base import Progress, Step, UserCancelledError, never_cancelled, no_progress

log = logging.getLogger("vmtui.ops")

DEFAULT_PARALLEL = 4
"""Domains acted on at once per host: enough to hide a round trip over SSH, few enough not to stampede a host."""
MAX_PARALLEL = 64

DONE = "done"
REFUSED = "refused"
"""The action's rules said no before any change (its state, a migration in flight, a transient domain)."""
FAILED = "failed"
"""The host was asked and refused or failed (libvirt's words), or could not be reached."""
NOT_STARTED = "not-started"
"""Cancelled (Ctrl-C, the TUI's cancel) before its turn came: nothing was asked of the host."""

Connector = Callable[[HostEntry], Hypervisor]


@dataclass(frozen=True, slots=True)
class Target:
    """One domain to act on: its host (opened by the connector), its UUID, its name as last seen."""

    host: HostEntry
    uuid: str
    name: str


@dataclass(frozen=True, slots=True)
class Outcome:
    host: str
    uuid: str
    name: str
    result: str
    """DONE, REFUSED, FAILED or NOT_STARTED."""
    state: str | None = None
    """The domain's state after the action (done), or as it was found (refused); None when not known."""
    reason: str = ""
    """Why it was refused, failed or not started; for a request the guest decides, that it was requested."""
    error: VmtuiError | None = None

    def to_json(self, action: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "action": action,
            "host": self.host,
            "name": self.name,
            "uuid": self.uuid,
            "result": self.result,
            "state": self.state,
        }
        if self.error is not None:
            body["error"] = self.error.error_body()
        elif self.reason:
            body["reason"] = self.reason
        return body


@dataclass(frozen=True, slots=True)
class BulkResult:
    action: str
    outcomes: tuple[Outcome, ...]
    """In the order the targets were given."""
    cancelled: bool = False

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def verdict(self) -> str:
        """all, some or none: how many domains the action was done on."""
        done = self.count(DONE)
        if done == len(self.outcomes):
            return "all"
        return "some" if done else "none"

    def summary(self) -> str:
        """ "Pause: 2 done, 1 refused" (only the results that occurred, in a fixed order)."""
        parts = [f"{n} {word}" for word in (DONE, REFUSED, FAILED, NOT_STARTED) if (n := self.count(word))]
        return f"{self.action}: {', '.join(parts) or 'nothing to do'}"


@dataclass(frozen=True, slots=True)
class BulkAction:
    """What is done to each domain, with the rules asked first."""

    key: str
    """The command's name ("suspend", "autostart")."""
    pending: str
    """What a domain's line says while it runs ("pausing…")."""
    refuse: Callable[[Hypervisor, Target, DomainInfo], None]
    """Raises OperationError when the domain cannot take the action now; nothing has been changed."""
    act: Callable[[Hypervisor, Target, DomainInfo, Progress, threading.Event], tuple[str | None, str]]
    """Does it; returns (state after, a word for the result: "" or "requested; the guest decides")."""
    prepare: Callable[[Sequence[Target]], None] = lambda _targets: None
    """Told every target before the first one starts (what the action asks once for all of them)."""


class PeerAnswers:
    """Whether the targets of a start or resume already run on another host, asked once per host for
    all of its targets (`lifecycle.runs_elsewhere`: one connection per peer) when its first domain's
    turn comes, with that thread's connection (whose URI tells an alias of the host from a peer).

    The answer is as old as the host's first turn, as the single check's is as old as its call; a
    start on a peer through vmtui in between is what `lifecycle.refuse_if_running_elsewhere` cannot
    see either way.
    """

    def __init__(self, peers_of: Callable[[HostEntry], Sequence[HostEntry]], connector: Connector | None) -> None:
        self._peers_of = peers_of
        self._connector = connector
        self._uuids: dict[str, list[str]] = {}
        self._answers: dict[str, dict[str, lifecycle.Elsewhere]] = {}
        self._lock = threading.Lock()

    def prepare(self, targets: Sequence[Target]) -> None:
        for target in targets:
            self._uuids.setdefault(target.host.name, []).append(target.uuid)

    def of(self, conn: Hypervisor, target: Target) -> lifecycle.Elsewhere | None:
        """The peers' answer for `target`; None when its host has no peer to ask."""
        peers = self._peers_of(target.host)
        if not peers:
            return None
        host = target.host.name
        with self._lock:  # the host's other threads wait for the one answer instead of asking again
            answers = self._answers.get(host)
            if answers is None or target.uuid not in answers:
                uuids = self._uuids.get(host) or [target.uuid]
                if target.uuid not in uuids:
                    uuids = [*uuids, target.uuid]
                connector = self._connector or lifecycle.open_peer
                answers = lifecycle.runs_elsewhere(uuids, conn.uri, peers, connector)
                self._answers[host] = answers
            return answers[target.uuid]


def check_parallel(value: int) -> int:
    """`parallel` when it is a number of domains at once this can honour, else UsageError."""
    if not 1 <= value <= MAX_PARALLEL:
        raise UsageError(f"--parallel: {value} is not from 1 to {MAX_PARALLEL}")
    return value


def lifecycle_action(
    key: str, peers_of: Callable[[HostEntry], Sequence[HostEntry]] = lambda _e: (), connector: Connector | None = None
) -> BulkAction:
    """A lifecycle action (start, suspend, ...) of `vmtui.ops.lifecycle`, its table's refusals and words.

    `peers_of(host)`: the hosts asked, before a start or resume, whether the UUID already runs there.
    """
    spec = lifecycle.BY_KEY[key]
    asked = PeerAnswers(peers_of, connector)
    doing = "resuming" if key == "resume" else "starting"

    def refuse(conn: Hypervisor, target: Target, info: DomainInfo) -> None:
        lifecycle.refuse(conn, spec, info)
        if key in lifecycle.MAKES_IT_RUN and (found := asked.of(conn, target)) is not None and found.running:
            lifecycle.refuse_if_running_elsewhere(info, conn.uri, (), lifecycle.open_peer, doing=doing, found=found)

    def act(
        conn: Hypervisor, target: Target, _info: DomainInfo, progress: Progress, cancel: threading.Event
    ) -> tuple[str | None, str]:
        elsewhere = asked.of(conn, target) if key in lifecycle.MAKES_IT_RUN else None
        after = lifecycle.run(conn, target.uuid, key, elsewhere=elsewhere, progress=progress, cancel=cancel)
        return after.state, "requested; the guest decides" if spec.asks_the_guest else ""

    return BulkAction(key, spec.pending, refuse, act, prepare=asked.prepare)


def autostart_action(on: bool) -> BulkAction:
    """Autostart on or off (`vmtui.ops.autostart`): a transient domain is refused."""
    word = "on" if on else "off"

    def refuse(_conn: Hypervisor, _target: Target, info: DomainInfo) -> None:
        refuse_transient(info, word)

    def act(
        conn: Hypervisor, target: Target, info: DomainInfo, progress: Progress, cancel: threading.Event
    ) -> tuple[str | None, str]:
        done = set_autostart(conn, "domain", target.uuid, on, progress=progress, cancel=cancel)
        return info.state, f"autostart {'on' if done.autostart else 'off'}"

    return BulkAction("autostart", f"autostart {word}…", refuse, act)


def run(
    targets: Sequence[Target],
    action: BulkAction,
    connector: Connector,
    *,
    parallel: int = DEFAULT_PARALLEL,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> BulkResult:
    """Do `action` on every target, at most `parallel` at once per host; never raises for one domain.

    Each domain ends as an Outcome (also reported as a `Step` with `data["type"] == "outcome"` as it
    ends, for faces that show rows as they finish). Once `cancel` is set no further domain starts;
    those that did not are NOT_STARTED, and the result says it was cancelled. The hosts' pools run
    side by side: one slow host does not hold the others.
    """
    check_parallel(parallel)
    cancel = cancel or never_cancelled()
    action.prepare(targets)
    by_host: dict[str, list[int]] = {}
    for index, target in enumerate(targets):
        by_host.setdefault(target.host.name, []).append(index)
    outcomes: list[Outcome | None] = [None] * len(targets)
    opened: list[Hypervisor] = []
    opened_lock = threading.Lock()
    pools: list[ThreadPoolExecutor] = []

    def one(index: int, connections: threading.local) -> None:
        target = targets[index]
        outcome = _one(target, action, connector, connections, opened, opened_lock, progress, cancel)
        outcomes[index] = outcome
        progress(Step(f"{target.name} on {target.host.name}: {outcome.result}", data={"type": "outcome"}))

    try:
        futures = []
        for host, indexes in by_host.items():
            pool = ThreadPoolExecutor(max_workers=min(parallel, len(indexes)), thread_name_prefix=f"bulk {host}")
            pools.append(pool)
            connections = threading.local()  # one connection per thread of this host's pool
            futures += [pool.submit(one, i, connections) for i in indexes]
        wait(futures)
        for future in futures:
            future.result()  # `one` catches everything it expects; a bug surfaces here, not as a silent hole
    finally:
        for pool in pools:
            pool.shutdown(wait=True)
        for conn in opened:
            conn.close()
    done = tuple(o for o in outcomes if o is not None)
    return BulkResult(action.key, done, cancelled=cancel.is_set())


def _one(
    target: Target,
    action: BulkAction,
    connector: Connector,
    connections: threading.local,
    opened: list[Hypervisor],
    opened_lock: threading.Lock,
    progress: Progress,
    cancel: threading.Event,
) -> Outcome:
    """One domain, start to end; every way it can end is an Outcome."""
    host, uuid, name = target.host.name, target.uuid, target.name
    if cancel.is_set():
        return Outcome(host, uuid, name, NOT_STARTED, reason="cancelled before it started")
    info: DomainInfo | None = None
    try:
        conn: Hypervisor | None = getattr(connections, "conn", None)
        if conn is None:
            conn = connector(target.host)
            connections.conn = conn
            with opened_lock:
                opened.append(conn)
        conn.require_writable(action.key)
        info = conn.domain(uuid)
        name = info.name
        try:
            action.refuse(conn, target, info)
        except OperationError as exc:
            return Outcome(host, uuid, name, REFUSED, state=info.state, reason=exc.message, error=exc)
        state, word = action.act(conn, target, info, progress, cancel)
        return Outcome(host, uuid, name, DONE, state=state, reason=word)
    except UserCancelledError:
        return Outcome(host, uuid, name, NOT_STARTED, reason="cancelled before it started")
    except VmtuiError as exc:
        return Outcome(host, uuid, name, FAILED, state=info.state if info else None, reason=exc.message, error=exc)
    except Exception as exc:  # one domain's surprise never stops the others; logged with its traceback
        log.exception("bulk %s of %s on %s failed", action.key, name, host)
        err = VmtuiError(f"internal error: {exc.__class__.__name__}: {exc}")
        return Outcome(host, uuid, name, FAILED, reason=err.message, error=err)
