"""Which hosts a command talks to, and opening them (in parallel: one slow host must not add up)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from vmtui.config import resolve_targets
from vmtui.drivers import open_host
from vmtui.drivers.base import Hypervisor as Connection
from vmtui.errors import VmtuiError
from vmtui.models import HostEntry

log = logging.getLogger("vmtui.cli")
T = TypeVar("T")

__all__ = [
    "resolve_targets", "open_entry", "open_all", "on_each_host", "connections", "label", "find_domain", "domain_host",
    "one_host",
]  # fmt: skip


def open_entry(entry: HostEntry) -> Connection:
    """Open a saved or ad-hoc host (an empty URI means libvirt's default), as the pollers do.

    Not `vmtui.monitor.poller.open_host` itself: the monitor (collector, metrics) is not needed to list.
    """
    return open_host(entry.uri or None, read_only=entry.read_only)


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    entry: HostEntry
    value: T | None = None
    error: VmtuiError | None = None


def on_each_host(targets: Sequence[HostEntry], work: Callable[[Connection], T]) -> list[Outcome[T]]:
    """Open every target in parallel, run `work` on it, close it; errors are collected, not raised."""

    def one(entry: HostEntry) -> Outcome[T]:
        try:
            with open_entry(entry) as conn:
                return Outcome(entry, value=work(conn))
        except VmtuiError as exc:
            return Outcome(entry, error=exc)
        except Exception as exc:  # logged with traceback; the user sees one line
            log.exception("host %s failed", entry.name)
            return Outcome(entry, error=VmtuiError(f"{entry.name}: internal error: {exc}"))

    if len(targets) == 1:
        return [one(targets[0])]
    from concurrent.futures import ThreadPoolExecutor  # here: one host (the common case) needs no threads

    with ThreadPoolExecutor(max_workers=min(16, len(targets))) as pool:
        return list(pool.map(one, targets))


HostError = tuple[HostEntry, VmtuiError]


def open_all(targets: Sequence[HostEntry]) -> tuple[list[tuple[HostEntry, Connection]], list[HostError]]:
    """Open every target in parallel; returns what opened and what failed."""
    opened: list[tuple[HostEntry, Connection]] = []
    errors: list[HostError] = []
    from concurrent.futures import ThreadPoolExecutor  # here, as in on_each_host

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(targets)))) as pool:
        futures = [(t, pool.submit(open_entry, t)) for t in targets]
    for entry, fut in futures:
        exc = fut.exception()
        if exc is None:
            opened.append((entry, fut.result()))
        elif isinstance(exc, VmtuiError):
            errors.append((entry, exc))
        else:
            log.error("opening %s failed", entry.name, exc_info=exc)
            errors.append((entry, VmtuiError(f"{entry.name}: internal error: {exc}")))
    return opened, errors


@contextmanager
def connections(
    targets: Sequence[HostEntry], *, tolerate: bool = False
) -> Iterator[tuple[list[tuple[HostEntry, Connection]], list[HostError]]]:
    """Open all targets (in parallel) and close them afterwards.

    Failures are raised (the first one) unless `tolerate`, and then only when nothing opened.
    """
    opened, errors = open_all(targets)
    try:
        if errors and (not tolerate or not opened):
            raise errors[0][1]
        yield opened, errors
    finally:
        for _, conn in opened:
            conn.close()


def label(entry: HostEntry) -> str:
    return entry.name if entry.uri else "default"


def one_host(targets: Sequence[HostEntry], what: str) -> HostEntry:
    """The one selected host of a command that acts on one (`what`: "SR-IOV", "the balloon policy");
    refuses (exit 2) when -c/-H or the saved hosts select more or fewer, naming them."""
    from vmtui.errors import UsageError

    if len(targets) != 1:
        names = f" ({', '.join(label(t) for t in targets)})" if targets else ""
        raise UsageError(
            f"{what} acts on one host; {len(targets)} are selected{names}", hint="pick one with --host or -c"
        )
    return targets[0]


def find_domain(targets: list[HostEntry], ident: str) -> HostEntry:
    """The one target that has domain `ident`; refuses when it is on none or on several."""
    from vmtui.errors import NotFoundError, UsageError

    if len(targets) == 1:
        return targets[0]
    outcomes = on_each_host(targets, lambda conn: conn.domain(ident))
    found = [o.entry for o in outcomes if o.value is not None]
    if not found:
        unreachable = [o.error for o in outcomes if o.error is not None and not isinstance(o.error, NotFoundError)]
        if unreachable:
            raise unreachable[0]
        raise NotFoundError(f"no domain {ident!r} on {', '.join(label(t) for t in targets)}")
    if len(found) > 1:
        raise UsageError(
            f"domain {ident!r} exists on {', '.join(e.name for e in found)}", hint="pick one with --host or -c"
        )
    return found[0]


@contextmanager
def domain_host(
    ident: str,
    connect: Sequence[str] | None,
    hosts: Sequence[str] | None,
    *,
    read_only: bool = True,
    replay: Path | None = None,
) -> Iterator[tuple[HostEntry, Connection]]:
    """The host that has domain `ident` (looked up like virsh across the selected hosts), opened."""
    entry = find_domain(resolve_targets(connect, hosts, read_only=read_only, replay=replay), ident)
    with open_entry(entry) as conn:
        yield entry, conn
