"""Samples that pollers post while the app closes must not crash it.

Pollers keep posting until the app unmounts, but the screens lose their widgets first. CI once
caught exactly this: a qemu+ssh sample arrived in that window and the TUI ended with NoMatches.
"""

from __future__ import annotations

from types import MappingProxyType

from textual.widget import Widget

from tests.tui.conftest import RECORDING
from tests.tui.test_snapshots import SIZE, finished, replay_app
from vmtui.collector import Tick
from vmtui.drivers.recording import Recording
from vmtui.messages import HostSampled
from vmtui.metrics import host_metrics, sample_metrics
from vmtui.screens.domain import DomainScreen


def recorded_sample() -> HostSampled:
    rec = Recording(RECORDING)
    host = next(iter(rec.hosts))
    prev, cur = rec.samples[host][0], rec.samples[host][1]
    metrics = sample_metrics(prev, cur, host_cpus=rec.hosts[host].cpus)
    tick = Tick(sample=cur, host=host_metrics(prev, cur), domains=MappingProxyType(metrics))
    return HostSampled(host, tick, MappingProxyType({d.uuid: d for d in rec.domains[host]}))


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
