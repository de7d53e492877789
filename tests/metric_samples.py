"""Metrics of a whole sample, as the tests want them: the production code (the collector, `vmtui top`,
the lab tour) calls `domain_metrics` per domain and needs no such function."""

from __future__ import annotations

from vmtui.metrics import DomainMetrics, domain_metrics
from vmtui.models import HostSample


def sample_metrics(prev: HostSample | None, cur: HostSample, *, host_cpus: int) -> dict[str, DomainMetrics]:
    """Metrics of every domain in `cur`, keyed by UUID; domains new in `cur` get gauges only."""
    elapsed = cur.monotonic - prev.monotonic if prev is not None else 0.0
    before = {d.uuid: d for d in prev.domains} if prev is not None else {}
    return {d.uuid: domain_metrics(before.get(d.uuid), d, elapsed, host_cpus=host_cpus) for d in cur.domains}
