"""A lab host that goes silent (its link cut, no FIN, no RST) is noticed by keepalive, then picked up again.

RELIABILITY.md #2: only libvirt's keepalive can tell a silent peer from a slow one. vmtui asks for a probe
every 5 s and gives up after 3 unanswered ones, so a dead link shows within about 20 s, as "keepalive
timeout", and the poller reconnects once the link is back.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable

import pytest
from fixtures_lab import LabHandle

from vmtui.models import HostEntry
from vmtui.monitor.events import HostConnected, HostDisconnected, HostSampled, MonitorEvent
from vmtui.monitor.poller import HostPoller

pytestmark = [pytest.mark.lab, pytest.mark.timeout(180)]


def _link(namespace: str, state: str) -> None:
    subprocess.run(["ip", "-n", namespace, "link", "set", "eth0", state], check=True)


def test_silent_host_is_dropped_by_keepalive_then_reconnected(lab: LabHandle) -> None:
    host = lab.host("lab2")
    got: list[MonitorEvent] = []
    lock = threading.Lock()

    def post(event: MonitorEvent) -> None:
        with lock:
            got.append(event)

    def seen(kind: type, since: int = 0) -> list[MonitorEvent]:
        with lock:
            return [m for m in got[since:] if isinstance(m, kind)]

    poller = HostPoller(HostEntry("lab2", host.uri), post, backoff_first=0.5, backoff_max=2.0)

    def until(condition: Callable[[], bool], within: float) -> float:
        began = time.monotonic()
        while not condition():
            if time.monotonic() - began > within:
                raise AssertionError(f"not within {within} s; messages: {[type(m).__name__ for m in got]}")
            poller.schedule_update()  # the app's 1 Hz tick
            time.sleep(0.5)
        return time.monotonic() - began

    poller.start()
    try:
        until(lambda: len(seen(HostSampled)) >= 1, 30)
        mark = len(got)
        _link(host.namespace, "down")
        try:
            took = until(lambda: bool(seen(HostDisconnected, mark)), 45)
            first = seen(HostDisconnected, mark)[0]
            assert isinstance(first, HostDisconnected)
            assert first.reason == "keepalive timeout"
            print(f"silent host dropped after {took:.1f} s")  # shown with -s
        finally:
            _link(host.namespace, "up")
        mark = len(got)
        until(lambda: any(isinstance(m, HostConnected) and m.reconnected for m in seen(HostConnected, mark)), 60)
        until(lambda: bool(seen(HostSampled, mark)), 15)
    finally:
        poller.cancel()
