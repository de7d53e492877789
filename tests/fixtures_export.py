"""The exporter's test fixture: two real lab hosts' last samples, and prometheus-client's rendering.

`tests/fixtures/lab-2hosts.jsonl` was recorded with `vmtui record --host lab1 --host lab2 --interval 1`
over the lab (qemu+ssh), with one extra guest on lab1, `rec-bios-disk-tap` (TCG, 2 vCPUs, a SATA disk and a
tap NIC), so that disk and network counters are real too. Shared by tests/unit/test_export_families.py
(the values, by hand) and tests/unit/test_export_render.py (the hand-rendered page against the library's).
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from vmtui.drivers.replay import ReplayHost, load_recording, replay_uri
from vmtui.export.families import HostView
from vmtui.monitor.collector import Collector
from vmtui.monitor.events import HostSampled

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "lab-2hosts.jsonl"
LAB1_WALL = 1796180645.2134695
"""`wall` of lab1's last sample: every series from that sample carries it (in ms)."""
KVM = {"host": "lab1", "domain": "lab1-kvm-virtio", "uuid": "63d36f51-901c-4c96-9cd8-98c4f5396859"}
DISK = {"host": "lab1", "domain": "rec-bios-disk-tap", "uuid": "65f07cea-9a35-40cf-b518-191522a7f724"}
LINUX = {"host": "lab1", "domain": "lab1-linux", "uuid": "bc472d4e-0efe-48d8-aeeb-e4665c6dee4d"}


def last_sampled(host: str) -> HostSampled:
    """The host's last sample, through the real collector as the exporter's pollers make it (no domain
    metrics: the exporter never reads them)."""
    collector = Collector(ReplayHost(replay_uri(FIXTURE, host)), host, derive=False)
    for _ in range(len(load_recording(FIXTURE).samples[host])):
        tick = collector.tick()
    return HostSampled(host, tick, MappingProxyType(dict(collector.domains)))


def views(*, up: bool = True, error: str | None = None) -> list[HostView]:
    info = load_recording(FIXTURE).hosts
    return [HostView(h, up, info[h], last_sampled(h), error) for h in ("lab1", "lab2")]


class _Fixed:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def exposition(families: list[Metric]) -> str:
    """prometheus-client's own text rendering of these families (`generate_latest`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))
    return generate_latest(registry).decode()
