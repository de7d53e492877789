"""The exporter: the monitor's pollers, a thread that drives them, and the HTTP endpoint Prometheus scrapes.

Threads, and what each may do:

- one HostPoller per host (`vmtui.monitor`): the only ones that talk to hosts, with their reconnect and
  backoff, exactly as under the TUI and `vmtui top`;
- the driver: every `interval` it asks each poller for one sample (`Monitor.tick`, which only sets an
  Event, so a hung host stalls nothing but its own poller), folds their events into `ExportState` and
  renders the series of the host each one is about;
- the HTTP server's threads (`vmtui.export.http`): a scrape serves the page the driver rendered (joined and
  gzipped once per change, `vmtui.export.render`); it never calls a host and never waits for a poll.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from vmtui.errors import UsageError, VmtuiError
from vmtui.export.http import metrics_app, serve
from vmtui.export.state import ExportState
from vmtui.models import HostEntry
from vmtui.monitor.poller import Connector, open_host
from vmtui.monitor.watch import Monitor

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

log = logging.getLogger("vmtui.export")

DEFAULT_PORT = 19177
"""Not 9177, the default of the common libvirt exporters (kumina, Tinkoff, inovex): vmtui must run beside
them. Outside Prometheus' exporter range 9100-9999, which its port list has used up, and below Linux's
ephemeral ports (32768-60999); docs/export.md says why."""
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
WAKE = 0.5
"""Longest the driver sleeps before it looks at the stop flag again."""


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
"""One label of a host name (RFC 1123): letters, digits and inner hyphens, at most 63."""
SHOWN = 60
"""Characters of a bad --listen value quoted back in the error (the rest is cut: one short line)."""


def _shown(text: str) -> str:
    return repr(text if len(text) <= SHOWN else text[: SHOWN - 1] + "…")


def parse_listen(text: str) -> Listen:
    """`HOST:PORT`, `[IPv6]:PORT` or a bare `PORT` (loopback); port 0 lets the system pick a free one.

    Anything else is a UsageError of one line, whatever the string (tests/unit/test_export_server.py
    feeds it arbitrary ones).
    """
    shown = _shown(text)
    text = text.strip()
    if "://" in text or text.lower().startswith(("http:", "https:")):
        where = text.partition("://")[2].partition("/")[0] or DEFAULT_LISTEN
        raise UsageError(
            f"--listen {shown}: a URL is not a listen address; write HOST:PORT, as {_shown(where)}",
            hint="the endpoint is always http://HOST:PORT/metrics",
        )
    if text.startswith("[") and text.endswith("]"):
        # A bracketed address alone: its colons are the address's own, the port is what is missing.
        if _is_ip(text[1:-1], version=6):
            raise UsageError(f"--listen {shown}: give the port too, as {text}:{DEFAULT_PORT}")
        raise UsageError(f"--listen {shown}: {_shown(text[1:-1])} in brackets is not an IPv6 address")
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if not _is_ip(host, version=6):
            raise UsageError(f"--listen {shown}: {_shown(host)} in brackets is not an IPv6 address")
    elif ":" in host:
        raise UsageError(f"--listen {shown}: write an IPv6 address in brackets, as [::1]:{DEFAULT_PORT}")
    if not host:
        raise UsageError(f"--listen {shown}: give the address too, as {DEFAULT_LISTEN}")
    # ASCII digits only: str.isdigit() also takes other scripts' digits and superscripts.
    if not (port.isascii() and port.isdigit() and len(port) <= 5 and int(port) <= 65535):
        raise UsageError(f"--listen {shown}: the port must be a number from 0 to 65535")
    if not _is_ip(host) and not _is_host_name(host):
        raise UsageError(f"--listen {shown}: {_shown(host)} is neither an IP address nor a host name")
    return Listen(host, int(port))


def _is_ip(host: str, *, version: int | None = None) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return version is None or address.version == version


def _is_host_name(host: str) -> bool:
    name = host.removesuffix(".")
    return 0 < len(name) <= 253 and all(HOST_LABEL.fullmatch(label) for label in name.split("."))


def is_loopback(host: str) -> bool:
    """True when every address `host` stands for is a loopback one (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"--listen: cannot resolve {_shown(host)}: {exc.strerror}") from exc
    except (UnicodeError, ValueError) as exc:  # a name the resolver cannot even encode (idna: too long)
        raise UsageError(f"--listen: {_shown(host)} is not a host name that can be resolved") from exc
    return bool(infos) and all(ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback for i in infos)


class Exporter:
    """Pollers, their driver thread and the HTTP endpoint, started and stopped together."""

    def __init__(
        self, entries: Sequence[HostEntry], *, interval: float, listen: Listen, connector: Connector = open_host
    ) -> None:
        self.entries = list(entries)
        self.interval = interval
        self.listen = listen
        self.state = ExportState([e.name for e in self.entries], interval=interval)
        # Libvirt's counters are exported as they are (Prometheus computes the rates): no domain metrics.
        self.monitor = Monitor(self.entries, connector=connector, derive=False)
        self.registry = CollectorRegistry(auto_describe=False)
        # The exporter's own CPU, memory and Python runtime, as every Prometheus exporter reports them.
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._stop = threading.Event()
        self._driver = threading.Thread(target=self._drive, name="export-driver", daemon=True)
        self._httpd: WSGIServer | None = None
        self.bound: Listen | None = None
        """Where the endpoint listens (the real port when `listen.port` was 0)."""

    def start(self) -> Listen:
        """Listen first (a taken port fails before any host is contacted), then start the pollers."""
        try:
            httpd = serve(self.listen.host, self.listen.port, metrics_app(self.registry, self.state.page))
        except OSError as exc:
            raise VmtuiError(f"cannot listen on {self.listen}: {exc.strerror or exc}") from exc
        self._httpd = httpd
        self.bound = Listen(self.listen.host, int(httpd.server_port))
        self.monitor.start()
        self._driver.start()
        log.info("exporting %d host(s) on %s every %g s", len(self.entries), self.bound, self.interval)
        return self.bound

    def request_stop(self) -> None:
        """Make `wait()` return (safe from a signal handler: it only sets a flag)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop serving and polling; pollers stuck on a hung host are abandoned (daemon threads)."""
        self._stop.set()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        self.monitor.stop()
        if self._driver.is_alive():
            self._driver.join(timeout=2 * WAKE)

    def wait(self) -> None:
        """Block until `stop()` (Ctrl-C reaches the caller as KeyboardInterrupt meanwhile)."""
        while not self._stop.wait(3600):
            pass

    def _drive(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if now >= next_tick:
                    self.monitor.tick()
                    # A late driver does not burst to catch up: missed ticks are simply skipped.
                    next_tick = max(next_tick + self.interval, now)
                event = self.monitor.next_event(min(next_tick - time.monotonic(), WAKE))
                if event is not None:
                    self.state.apply(event)
            except Exception:  # the endpoint must outlive a bug here: log it and carry on
                log.exception("export driver iteration failed")
                self._stop.wait(WAKE)
