"""Opening a libvirt connection and keeping it honest: errors, timeouts, keepalive, close and events.

Everything libvirt-specific stops in `vmtui/drivers/`: handles become UUID strings, libvirtError
becomes a VmtuiError subclass, XML becomes frozen models. All calls block; callers run them on a
poller thread, a worker thread, or the CLI's main thread, never on Textual's event loop.

`ConnectionCore` holds the open handle and its life; the subject mixins (`host`, `domains`, `jobs`,
`memory`, `nodedev`) add the calls, and `vmtui.drivers.libvirt.driver.Connection` puts them together.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import libvirt

from vmtui.drivers.uri import is_ssh, with_no_tty
from vmtui.errors import ConnectError, DeniedError, NotFoundError, OperationError, UsageError, VmtuiError

log = logging.getLogger("vmtui.drivers.libvirt")

LIFECYCLE_EVENTS = {
    libvirt.VIR_DOMAIN_EVENT_DEFINED: "defined",
    libvirt.VIR_DOMAIN_EVENT_UNDEFINED: "undefined",
    libvirt.VIR_DOMAIN_EVENT_STARTED: "started",
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: "suspended",
    libvirt.VIR_DOMAIN_EVENT_RESUMED: "resumed",
    libvirt.VIR_DOMAIN_EVENT_STOPPED: "stopped",
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: "shutdown",
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: "pmsuspended",
    libvirt.VIR_DOMAIN_EVENT_CRASHED: "crashed",
}
METADATA_EVENT = "metadata"
"""The event name of a change of a domain's <metadata> (the template mark)."""
SUSPENDED_MIGRATION_DETAILS = frozenset(
    {libvirt.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, libvirt.VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY}
)
"""Suspended-event details that mean "paused by a migration", not by a user."""

CLOSE_REASONS = {0: "error", 1: "end of file", 2: "keepalive timeout", 3: "client closed"}

_init_lock = threading.Lock()
_initialised = False


def _ignore_libvirt_error(_ctx: object, _err: object) -> None:
    """libvirt's default handler prints to stderr, under the TUI; we rely on exceptions instead."""


QUIET_TICK_S = 0.25
"""While a stream carries bulk data, the event loop runs at most about this often (see `quiet_event_loop`)."""
_quiet_streams = 0
_quiet_lock = threading.Lock()
_iterations = 0


def _run_event_loop() -> None:
    global _iterations
    while True:
        if _quiet_streams:
            time.sleep(QUIET_TICK_S)
        try:
            libvirt.virEventRunDefaultImpl()
            _iterations += 1
        except Exception:  # an escaping error would silently stop keepalives and events
            log.exception("libvirt event loop iteration failed")
            time.sleep(0.1)


@contextmanager
def quiet_event_loop() -> Iterator[None]:
    """Let the event loop run only every QUIET_TICK_S while a stream sends bulk data.

    Every stream.send takes the connection's socket from the event loop and gives it back, and each
    time libvirt interrupts the loop's poll: about three iterations per 256 KiB sent, each one taking
    the GIL from the sending thread and giving it back. That cost 40% more CPU than the upload alone and,
    on a busy machine (where a thread holding the GIL gets preempted), up to a quarter of the upload's
    throughput against `virsh vol-upload`, whose loop needs no GIL. While the loop is not polling,
    libvirt does not interrupt it; it still runs a few times a second, so the keepalives and events of
    every connection wait at most that long. The sending thread reads its own connection's replies
    and keepalives itself while it sends.
    """
    global _quiet_streams
    with _quiet_lock:
        _quiet_streams += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_streams -= 1


def event_loop_quiet() -> bool:
    return _quiet_streams > 0


def event_loop_iterations() -> int:
    """How many times the event loop has run (the upload test counts them)."""
    return _iterations


def init_libvirt() -> None:
    """Silence libvirt's stderr printing and start its event loop: once, before the first open."""
    global _initialised
    with _init_lock:
        if _initialised:
            return
        libvirt.registerErrorHandler(_ignore_libvirt_error, None)
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=_run_event_loop, name="libvirt-events", daemon=True).start()
        _initialised = True


def version_text(number: int) -> str:
    """libvirt's packed version number (major * 1e6 + minor * 1e3 + micro) as text."""
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"


_SSH_AUTH_WORDS = ("permission denied", "authentication", "publickey", "password", "passphrase")
_NO_SYSTEM_BUS = ("system bus", "polkit", "authentication unavailable")


def _connect_hint(uri: str, text: str) -> str | None:
    """The hint that fits what failed, or None: a wrong hint misleads more than none."""
    lower = text.lower()
    if is_ssh(uri) and any(w in lower for w in _SSH_AUTH_WORDS):
        return "ssh needs key auth without prompts (ssh-agent or a key without passphrase); try `ssh HOST true`"
    if any(w in lower for w in _NO_SYSTEM_BUS) or ("qemu:///system" in uri and "permission denied" in lower):
        return "as a non-root user use qemu:///session, join the libvirt group, or allow it through polkit"
    if "no such file" in lower or "failed to connect socket" in lower:
        return "is libvirtd (or virtqemud) running on that host?"
    if "could not resolve" in lower or "name or service not known" in lower:
        return "the host name does not resolve"
    return None


def convert_error(exc: libvirt.libvirtError, *, uri: str, action: str) -> VmtuiError:
    """Map a libvirtError to the error a user should see, keeping libvirt's own words."""
    code = exc.get_error_code()
    text = (exc.get_error_message() or str(exc)).strip().replace("\n", " ")
    lower = text.lower()
    if "host key verification failed" in lower or "remote host identification has changed" in lower:
        return DeniedError(
            f"{uri}: SSH host key verification failed",
            hint="the host's key is unknown or has changed; verify it out of band and fix known_hosts",
        )
    if code == libvirt.VIR_ERR_NO_DOMAIN:
        return NotFoundError(f"{action}: domain not found on {uri}")
    if code == libvirt.VIR_ERR_OPERATION_DENIED:
        return DeniedError(f"{action}: connection {uri} is read-only")
    if code in (libvirt.VIR_ERR_ACCESS_DENIED, libvirt.VIR_ERR_AUTH_FAILED, libvirt.VIR_ERR_AUTH_CANCELLED):
        return DeniedError(f"{action}: denied by {uri}: {text}", hint=_connect_hint(uri, text))
    # A system error while connecting is the connection's; during an operation (a disk QEMU cannot open)
    # it is the operation's, with libvirt's words and no connection hint.
    if action == "connect" or code in (libvirt.VIR_ERR_NO_CONNECT, libvirt.VIR_ERR_RPC):
        # Every failure to open is "unreachable" (exit 4), whatever number libvirt gave it: a URI it
        # cannot parse, a driver it does not have, a socket that is not there.
        return ConnectError(f"cannot connect to {uri}: {text}", hint=_connect_hint(uri, text))
    # The host's name in every message: with several hosts, "domain is not running" alone says too little.
    if code in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_XML_ERROR, libvirt.VIR_ERR_CONFIG_UNSUPPORTED):
        return UsageError(f"{action} on {uri}: {text}")
    return OperationError(f"{action} on {uri}: {text}")


@contextmanager
def mapped(uri: str, action: str) -> Iterator[None]:
    """Turn any libvirtError raised inside into the VmtuiError a user should see."""
    try:
        yield
    except libvirt.libvirtError as exc:
        raise convert_error(exc, uri=uri, action=action) from exc


CONNECT_TIMEOUT = 20.0
"""Seconds an open may take before vmtui gives up: a host that accepts TCP but never answers (or an
ssh that waits for a silent peer) must not hang a command. `VMTUI_CONNECT_TIMEOUT` overrides it."""
CONNECT_TIMEOUT_RANGE = (0.5, 3600.0)


def connect_timeout() -> float:
    """`VMTUI_CONNECT_TIMEOUT` (seconds), validated; unset means 20 s."""
    raw = os.environ.get("VMTUI_CONNECT_TIMEOUT")
    if raw is None or not raw.strip():
        return CONNECT_TIMEOUT
    low, high = CONNECT_TIMEOUT_RANGE
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # also false for nan
        raise UsageError(f"VMTUI_CONNECT_TIMEOUT={raw!r} is not a number of seconds from {low:g} to {high:g}")
    return value


def _open(requested: str | None, label: str, read_only: bool, timeout: float) -> Any:
    """libvirt.open on a daemon thread, waited for at most `timeout` seconds.

    libvirt's open cannot be interrupted; on a timeout the thread is left to finish on its own and
    closes whatever it eventually opens, so nothing leaks and the caller is not held hostage.
    """
    done = threading.Event()
    abandoned = False
    lock = threading.Lock()
    result: dict[str, Any] = {}

    def attempt() -> None:
        try:
            conn = libvirt.openReadOnly(requested) if read_only else libvirt.open(requested)
        except libvirt.libvirtError as exc:
            conn, result["error"] = None, exc
        with lock:
            if conn is not None and abandoned:
                conn.close()  # the caller gave up on us: nobody else will close it
            elif conn is not None:
                result["conn"] = conn
            done.set()

    threading.Thread(target=attempt, name=f"open {label}", daemon=True).start()
    if not done.wait(timeout):
        with lock:
            if not done.is_set():
                abandoned = True
                raise ConnectError(f"cannot connect to {label}: no answer within {timeout:g} s", hint="is the host up?")
    if "error" in result:
        raise convert_error(result["error"], uri=label, action="connect")
    return result["conn"]


LifecycleCallback = Callable[[str, str, int], None]
"""(domain uuid, event name, detail code); called on libvirt's event thread."""


class ConnectionCore:
    """One open libvirt connection and its life. Not for concurrent calls from many threads by design:
    each poller, worker or command owns its own."""

    finite = False
    """A live host never runs out of samples (a recording does: see `replay.ReplayHost`)."""

    def __init__(
        self,
        uri: str | None,
        *,
        read_only: bool = False,
        keepalive: tuple[int, int] = (5, 3),
        timeout: float | None = None,
    ) -> None:
        init_libvirt()
        self.read_only = read_only
        self.requested_uri = uri or ""
        """What the user asked for (an alias stays an alias); `uri` is what libvirt resolved it to."""
        requested = with_no_tty(uri) if uri else None
        self._conn = _open(
            requested, uri or "the default URI", read_only, connect_timeout() if timeout is None else timeout
        )
        self.uri: str = self._conn.getURI()
        self._closed_reason: str | None = None
        self._close_listeners: list[Callable[[str], None]] = []
        self._callback_ids: list[int] = []
        self._unsupported: set[str] = set()
        """Calls this host answered with 'not supported': not asked again on every tick."""
        self._domain_objects: dict[str, libvirt.virDomain] = {}
        """UUID -> libvirt's handle, from the last full sample: what a partial sample asks about."""
        try:
            # Dead peers are noticed within interval*(count+1) s instead of at the next TCP timeout.
            self._conn.setKeepAlive(*keepalive)
        except libvirt.libvirtError:
            # Drivers without a remote peer (test:, and any other in-process one) do not implement it.
            log.debug("keepalive not supported on %s", self.uri)
        try:
            self._conn.registerCloseCallback(self._on_close, None)
        except libvirt.libvirtError:
            log.debug("close callback not supported on %s", self.uri)

    # ----- life of the connection -----------------------------------------------------------

    def _on_close(self, _conn: object, reason: int, _opaque: object) -> None:
        self._closed_reason = CLOSE_REASONS.get(reason, str(reason))
        log.info("connection %s closed: %s", self.uri, self._closed_reason)
        for listener in list(self._close_listeners):
            try:
                listener(self._closed_reason)
            except Exception:  # never let a listener error escape into libvirt's loop
                log.exception("close listener failed")

    def on_closed(self, listener: Callable[[str], None]) -> None:
        """Call `listener(reason)` (on libvirt's event thread) when the connection drops: daemon gone,
        keepalive timeout, EOF. Lets a poller notice at once instead of at its next poll."""
        self._close_listeners.append(listener)

    def is_alive(self) -> bool:
        try:
            return self._closed_reason is None and bool(self._conn.isAlive())
        except libvirt.libvirtError:
            return False

    @property
    def closed_reason(self) -> str | None:
        return self._closed_reason

    def close(self) -> None:
        for cb_id in self._callback_ids:
            try:
                self._conn.domainEventDeregisterAny(cb_id)
            except libvirt.libvirtError:
                pass
        self._callback_ids.clear()
        self._domain_objects = {}  # each handle holds a reference on the connection: let it really close
        try:
            self._conn.unregisterCloseCallback()
        except libvirt.libvirtError:
            pass
        try:
            self._conn.close()
        except libvirt.libvirtError:
            pass

    def require_writable(self, action: str) -> None:
        """Refuse a write before any call when the connection was opened read-only."""
        if self.read_only:
            raise DeniedError(f"{action}: connection {self.uri} is read-only")

    def _unsupported_error(self, exc: libvirt.libvirtError) -> bool:
        return exc.get_error_code() in (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_OPERATION_UNSUPPORTED)

    # ----- events -------------------------------------------------------------------------------

    def on_lifecycle(self, callback: LifecycleCallback) -> None:
        """Call `callback(uuid, event, detail)` on every domain lifecycle event of this host, and with
        event "metadata" when a domain's <metadata> changes (the template mark)."""

        def relay(_conn: object, dom: Any, event: int, detail: int, _opaque: object) -> None:
            try:
                name = LIFECYCLE_EVENTS.get(event, str(event))
                if event == libvirt.VIR_DOMAIN_EVENT_SUSPENDED and detail in SUSPENDED_MIGRATION_DETAILS:
                    name = "migrating"
                elif event == libvirt.VIR_DOMAIN_EVENT_STARTED and detail == libvirt.VIR_DOMAIN_EVENT_STARTED_MIGRATED:
                    name = "incoming"  # the target's half of a migration, paused until the switch-over
                elif event == libvirt.VIR_DOMAIN_EVENT_STOPPED and detail == libvirt.VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
                    name = "migrated"  # the source's half, gone after a migration completed
                callback(dom.UUIDString(), name, detail)
            except Exception:  # never let a callback error escape into libvirt's loop
                log.exception("lifecycle callback failed")

        def metadata(_conn: object, dom: Any, _kind: int, _ns: str | None, _opaque: object) -> None:
            # Not a lifecycle change, but one a watcher shows: `vmtui template` on another client marks or
            # unmarks a template, and the TUI re-reads the domain at once (the event implies no state).
            try:
                callback(dom.UUIDString(), METADATA_EVENT, 0)
            except Exception:
                log.exception("metadata callback failed")

        with mapped(self.uri, "register events"):
            self._callback_ids.append(
                self._conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, relay, None)
            )
            self._callback_ids.append(
                self._conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, metadata, None)
            )
