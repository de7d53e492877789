"""Samples that pollers post while the app closes must not crash it.

Pollers keep posting until the app unmounts, but the screens lose their widgets first. CI once
caught exactly this: a qemu+ssh sample arrived in that window and the TUI ended with NoMatches.
"""

from __future__ import annotations

import threading
import time
from types import MappingProxyType

from textual.widget import Widget

from tests.metric_samples import sample_metrics
from tests.tui.conftest import RECORDING
from tests.tui.test_snapshots import SIZE, finished, replay_app
from vmtui.app import VmtuiApp
from vmtui.drivers.replay import Recording
from vmtui.metrics import host_metrics
from vmtui.monitor.collector import Tick
from vmtui.monitor.events import HostSampled
from vmtui.screens.domain import DomainScreen
from vmtui.tui.messages import MonitorReported


def recorded_sample(*, lossless: bool = False) -> MonitorReported:
    rec = Recording(RECORDING)
    host = next(iter(rec.hosts))
    prev, cur = rec.samples[host][0], rec.samples[host][1]
    metrics = sample_metrics(prev, cur, host_cpus=rec.hosts[host].cpus)
    tick = Tick(sample=cur, host=host_metrics(prev, cur), domains=MappingProxyType(metrics))
    domains = MappingProxyType({d.uuid: d for d in rec.domains[host]})
    return MonitorReported(HostSampled(host, tick, domains, lossless=lossless))


async def test_sample_after_the_dashboard_lost_its_widgets_is_dropped() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await finished(pilot)
        await app.host_screen.query_children(Widget).remove()  # what closing does first
        app.post_message(recorded_sample())
        await pilot.pause()
        assert app.selected_uuid() is None
    assert app.return_code in (None, 0)


async def test_sample_after_the_domain_screen_lost_its_widgets_is_dropped() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await finished(pilot)
        await pilot.press("enter")  # open the first domain
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DomainScreen)
        await screen.query_children(Widget).remove()
        app.post_message(recorded_sample())
        await pilot.pause()
    assert app.return_code in (None, 0)


async def test_samples_posted_while_the_app_quits_are_dropped() -> None:
    # The window is a few event-loop turns wide: quitting several times makes hitting it near certain.
    for _ in range(8):
        app = replay_app()
        stop = threading.Event()

        def busy_poller(app: VmtuiApp = app, stop: threading.Event = stop) -> None:
            while not stop.is_set():  # what a poller of a busy host does until the app unmounts
                app.post_message(recorded_sample(lossless=True))
                time.sleep(0)

        thread = threading.Thread(target=busy_poller, daemon=True)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await finished(pilot)
                thread.start()
                await pilot.pause(0.05)
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()
        assert app.return_code in (None, 0)
